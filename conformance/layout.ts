/**
 * Where the conformance kernel lives, in linear and physical memory.
 *
 * The model's machine owns physical memory below 640 KiB (its frames, at their real addresses)
 * and linear directory slots below its geometry's `dirEntries`. The harness owns the top 32 MiB
 * of the linear space, directory slots 1016..1023 (0xFE000000..0xFFFFFFFF), which no generated
 * operation touches; every model frame that can serve as a page directory gets the eight
 * harness PDEs at words 1016..1023, pointing at the harness's own page tables. The IDT's gates
 * (HARNESS.HANDLERS in model/boot.ts, slot 1023) and the TSS's ESP0 (HARNESS.STACK_TOP) point
 * here, so the model's own system tables run unchanged on the real machine.
 *
 * Linear → physical: the first 640 KiB of slot 1016 is a window onto physical 0..640 KiB (the
 * model's frames, which the harness resets and compares through it); every other harness page
 * maps 1:1 at an offset, L - 0xFE000000 + 16 MiB, so slot 1023 (the loaded image) is physical
 * 44 MiB and the whole harness needs 48 MiB of RAM.
 */
import { HARNESS } from '../model/boot.ts';

export const HARNESS_FIRST_SLOT = 1016;
export const HARNESS_SLOTS = 8;
export const HARNESS_LINEAR = 0xfe00_0000;
/** Linear window onto physical 0..LOW_WINDOW_SIZE (the model's frames). */
export const LOW = HARNESS_LINEAR;
export const LOW_WINDOW_SIZE = 0xa_0000;
/** Shadow copy of the observed words, at SHADOW + physical address. */
export const SHADOW = 0xfe0c_0000;
/** The record buffer the harness writes and the runner reads back from guest RAM. */
export const RECORDS = 0xfe20_0000;
export const RECORDS_END = 0xffc0_0000;
/** The loaded image: multiboot header and boot stub, handlers, harness code, tables, sequences. */
export const IMAGE = 0xffc0_0000;
export const IMAGE_MAX_END = 0xfff8_0000;
/** Stacks (all in user-accessible harness pages). */
export const KSTACK_TOP = HARNESS.STACK_TOP;
export const USTACK_TOP = 0xfffe_0000;
export const R1STACK_TOP = 0xfffd_0000;

/** Guest RAM QEMU is given (MiB). */
export const GUEST_RAM_MIB = 64;

/** Physical address of a harness linear address. */
export const phys = (linear: number): number => {
  const off = (linear - HARNESS_LINEAR) >>> 0;
  return off < LOW_WINDOW_SIZE ? off : (off + 0x0100_0000) >>> 0;
};

/** isa-debug-exit port (outside the imm8 range operations can name) and the harness's exit values. */
export const DEBUG_EXIT_PORT = 0x501;
export const EXIT_DONE = 0x10;
export const EXIT_FATAL = 0x20;
/** QEMU's exit status for a value written to isa-debug-exit. */
export const qemuStatus = (value: number): number => (value << 1) | 1;
/** The debug console port (the harness prints a few progress characters). */
export const DEBUGCON_PORT = 0xe9;

/** Record buffer header words. */
export const REC_MAGIC = 0x4352_5048; // 'HPRC'
export const REC_HEADER_WORDS = 16;
export const REC = {
  MAGIC: 0,
  WORDS: 1,
  CPUID_EBX: 2,
  CPUID_ECX: 3,
  CPUID_EDX: 4,
  STATUS: 5,
  FATAL_VECTOR: 6,
  FATAL_EIP: 7,
  FATAL_OP: 8,
  FATAL_SEQ: 9,
} as const;
export const STATUS_RUNNING = 0;
export const STATUS_DONE = 1;
export const STATUS_FATAL = 2;

/** Record tags (top byte of a record's first word). */
export const TAG_SEQ_START = 0x55;
export const TAG_STEP = 0x57;
export const TAG_SEQ_END = 0x5e;
/** Step record flags. */
export const STEP_EVENT = 1;
export const STEP_ERROR_CODE = 2;
/** Sequence end reasons. */
export const END_DONE = 0;
export const END_GUARD = 1;
