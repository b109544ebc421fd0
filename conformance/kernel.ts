/**
 * The conformance kernel: a flat 32-bit multiboot image (the a.out-kludge address fields) that
 * runs a batch of operation sequences, each from its own initial reference machine, and writes
 * what the real processor did after every operation into a record buffer in guest RAM.
 *
 * Per sequence, the harness (kernel mode, IF = 0):
 * 1. resets the model's memory: undoes the previous sequence's differences from the batch's
 *    base image, restores the observed words, applies this sequence's differences, and copies the
 *    observed words to a shadow;
 * 2. loads CR3 (flushing the TLB), CR0, CR2 and LDTR as the machine holds them;
 * 3. enters each operation on the model's own SS:ESP (the stacks are the guest's, model/boot.ts),
 *    writing nothing on them: at an outer level with IRET from a frame on the harness's stack
 *    (CS:EIP, EFLAGS, SS:ESP), at CPL 0 with POPFD on the harness's stack, MOV SS and ESP, and a
 *    far JMP; after a guard: the CPU state must keep the harness alive (every present PDE/PTE of
 *    the window and the stack pages inside the model's frames, the system page mapped, the GDT
 *    descriptors the harness uses intact, no CPL 2, HLT only at CPL > 0); a guard that fails ends
 *    the sequence there and says so;
 * 4. after the operation, user-accessible code saves EAX..EBX and SS:ESP, moves to a harness stack,
 *    saves EFLAGS and CS and enters the kernel with SYSENTER (the same path at every CPL, through no
 *    model table); an exception instead arrives at the IDT gate's handler with its frame pushed by
 *    the processor on the model's stack, which saves SS:ESP as the handler finds them, moves to the
 *    harness's stack, and saves the same state as the handler sees it (CPL 0, EFLAGS as the gate
 *    left them), the vector, and from the frame the error code if one was pushed and the saved EIP;
 * 5. records the registers, EFLAGS, CS, SS:ESP, CR0, CR2, CR3, the event and every observed word
 *    that changed (the frame's words among them: the tops of the stacks are observed), then
 *    continues with the next operation at the CPL and on the stack the operation left — or at CPL
 *    0 on the handler's stack after an event, as the model's kernel does.
 * Nothing in the harness writes CR3 between the operations of a sequence, so the TLB holds what
 * the processor cached, as the model's permitted sets allow.
 */
import { CR0 } from '../model/bits.ts';
import { bootFrames, bootMachine, bootStack, HARNESS, SEL, SYSTEM_PAGE, systemPageLinear } from '../model/boot.ts';
import type { Geometry } from '../model/geometry.ts';
import { PAGE_SIZE } from '../model/geometry.ts';
import { nonZeroWords, type PhysicalMemory, readWord, writeWord } from '../model/memory.ts';
import type { Op } from '../model/ops.ts';
import type { Cpl, Machine } from '../model/state.ts';
import { encodeOp } from './encode.ts';
import {
  DEBUG_EXIT_PORT,
  DEBUGCON_PORT,
  END_DONE,
  END_GUARD,
  EXIT_DONE,
  EXIT_FATAL,
  HARNESS_FIRST_SLOT,
  HARNESS_LINEAR,
  HARNESS_SLOTS,
  IMAGE,
  IMAGE_MAX_END,
  KSTACK_TOP,
  LOW,
  LOW_WINDOW_SIZE,
  phys,
  REC,
  REC_HEADER_WORDS,
  REC_MAGIC,
  RECORDS,
  SHADOW,
  STATUS_DONE,
  STATUS_FATAL,
  STEP_ERROR_CODE,
  STEP_EVENT,
  TAG_SEQ_END,
  TAG_SEQ_START,
  TAG_STEP,
  USTACK_TOP,
} from './layout.ts';
import { memoryDiff } from './memdiff.ts';
import { Asm, CC, I, R, SREG } from './x86.ts';

/** One operation sequence from its initial machine. */
export interface Sequence {
  readonly machine: Machine;
  readonly ops: readonly Op[];
}

/** Where one operation's code lies: its first byte and the byte after its instruction(s). */
export interface OpPlacement {
  readonly at: number;
  readonly post: number;
}

/** The words the harness compares after every step: [physical address, word count] ranges. */
export interface Observed {
  readonly ranges: readonly (readonly [number, number])[];
  readonly has: (pa: number) => boolean;
}

/** A built kernel: the image and what the decoder needs to read its records. */
export interface Kernel {
  readonly image: Uint8Array;
  readonly geometry: Geometry;
  readonly observed: Observed;
  readonly placements: readonly (readonly OpPlacement[])[];
}

const { eax, ecx, edx, ebx, esp, ebp, esi, edi } = R;

// Harness variables (one user-accessible page at IMAGE + 0x4000).
const VARS = IMAGE + 0x4000;
const V = {
  SAVE_EAX: VARS + 0x00,
  SAVE_ECX: VARS + 0x04,
  SAVE_EDX: VARS + 0x08,
  SAVE_EBX: VARS + 0x0c,
  SAVE_EFL: VARS + 0x10,
  SAVE_CS: VARS + 0x14,
  EV_FLAGS: VARS + 0x18,
  EV_VEC: VARS + 0x1c,
  EV_ERR: VARS + 0x20,
  EV_EIP: VARS + 0x24,
  OPIDX: VARS + 0x28,
  CUR_SD: VARS + 0x2c,
  CUR_OP: VARS + 0x30,
  PREV_SD: VARS + 0x34,
  SEQ_I: VARS + 0x38,
  SEQ_N: VARS + 0x3c,
  REC_PTR: VARS + 0x40,
  INHARNESS: VARS + 0x44,
  DIFF_SLOT: VARS + 0x48,
  DIFF_N: VARS + 0x4c,
  END_REASON: VARS + 0x50,
  GDTR: VARS + 0x60, // 6-byte pseudo-descriptors
  IDTR: VARS + 0x68,
  OBS_N: VARS + 0x70,
  GCHK_N: VARS + 0x74,
  /** The model's SS:ESP, as the operation left it or the handler found it (SS zero-extended). */
  SAVE_ESP: VARS + 0x78,
  SAVE_SS: VARS + 0x7c,
  /** m16:32 far pointer of a CPL-0 entry: the operation's address, then SAVE_CS. */
  FAR: VARS + 0x80,
} as const;
const BOOT_PD = IMAGE + 0x5000;
const BOOT_PT = IMAGE + 0x6000;
const HARNESS_PTS = IMAGE + 0x7000; // 8 page tables, slots 1016..1023
const TABLES = IMAGE + 0xf000; // data tables start here

/** Sequence descriptor layout (bytes). */
const SD = {
  NOPS: 0,
  OPTAB: 4,
  NPATCH: 8,
  PATCHES: 12,
  REGS: 16,
  EFLAGS: 32,
  CS: 36,
  CR0: 40,
  CR2: 44,
  CR3: 48,
  LDTR: 52,
  INDEX: 56,
  ESP: 60,
  SS: 64,
  SIZE: 128,
} as const;
/** log2 of SD.SIZE. */
const SD_SHIFT = 7;
/** Op-table entry: [at, post, flags, 0]. */
const OP_NEEDS_OUTER = 1;
const ERROR_CODE_VECTORS = (1 << 8) | (1 << 10) | (1 << 11) | (1 << 12) | (1 << 13) | (1 << 14) | (1 << 17);

/**
 * Frames a batch can use as page directories: those whose harness PDE words are free in the base
 * image, but for the stack frames.
 */
export const directoryFrames = (g: Geometry, base: PhysicalMemory): boolean[] =>
  Array.from({ length: g.frames }, (_, f) => {
    // The stack frames' top words are where frames are pushed (boot.ts bootStack), not the harness's.
    const { kernelStack, userStack } = bootFrames(g);
    if (f === kernelStack || f === userStack) return false;
    for (let k = 0; k < HARNESS_SLOTS; k++)
      if (readWord(base, f * PAGE_SIZE + (HARNESS_FIRST_SLOT + k) * 4) !== 0) return false;
    return true;
  });

/**
 * Byte offsets within a page that a batch's operations name (a store through a remapped page lands
 * at the same offset of another frame, so every frame is observed there).
 */
export const namedOffsets = (sequences: readonly Sequence[]): number[] => {
  const out = new Set<number>();
  for (const s of sequences)
    for (const op of s.ops) {
      if (!('va' in op)) continue;
      const o = op.va & 0xffc;
      out.add(o);
      if (op.kind === 'sgdt' || op.kind === 'sidt' || op.kind === 'lgdt' || op.kind === 'lidt')
        out.add((o + 4) & 0xffc);
    }
  return [...out].sort((a, b) => a - b);
};

/**
 * The observed words of a geometry: the used words of every frame (and the other offsets the
 * operations name), the GDT and the LDT. Every word an operation can write is among them.
 */
export const observedWords = (g: Geometry, offsets: readonly number[] = []): Observed => {
  const sys = bootFrames(g).system * PAGE_SIZE;
  const perFrame = Math.max(g.wordsPerPage + 1, g.dirEntries, g.tableEntries);
  const raw: [number, number][] = [];
  for (let f = 0; f < g.frames; f++) {
    raw.push([f * PAGE_SIZE, perFrame]);
    for (const o of offsets) if (o >= perFrame * 4 && o < HARNESS_FIRST_SLOT * 4) raw.push([f * PAGE_SIZE + o, 1]);
  }
  raw.push([sys + SYSTEM_PAGE.GDT, 128 / 4], [sys + SYSTEM_PAGE.LDT, 16 / 4]);
  // The tops of the stacks (boot.ts bootStack), where frames land: every word an event, PUSHF,
  // POPF or IRET of a batch's sequences writes there (they are 30 operations at most).
  for (const [ring, words] of [
    [0, STACK_WINDOW_WORDS],
    [1, STACK_WINDOW_WORDS / 2],
    [3, STACK_WINDOW_WORDS / 2],
  ] as const) {
    const top = stackFramePhysical(g, ring);
    raw.push([top - words * 4, words]);
  }
  raw.sort((a, b) => a[0] - b[0]);
  const ranges: [number, number][] = [];
  for (const [pa, n] of raw) {
    const last = ranges[ranges.length - 1];
    if (last && last[0] + last[1] * 4 >= pa) last[1] = Math.max(last[1], (pa - last[0]) / 4 + n);
    else ranges.push([pa, n]);
  }
  const words = new Set<number>();
  for (const [pa, n] of ranges) for (let i = 0; i < n; i++) words.add(pa + i * 4);
  return { ranges, has: (pa: number) => words.has(pa) };
};

/** Words observed below the top of the kernel stack (half as many below the ring-1 and user stacks' tops). */
export const STACK_WINDOW_WORDS = 128;

/** The physical address of the top of a ring's standard stack in the boot layout (its frame, offset of its ESP). */
const stackFramePhysical = (g: Geometry, ring: Cpl): number => {
  const f = bootFrames(g);
  const { esp } = bootStack(g, ring);
  const frame = ring === 3 ? f.userStack : f.kernelStack;
  // ESP at the top of a page lies at offset 0 of the next one: the top of the frame is frame + 4096.
  return frame * PAGE_SIZE + (((esp - 1) & 0xfff) + 1);
};

/** Why a geometry cannot be embedded, or undefined. */
export const geometryEmbedProblem = (g: Geometry): string | undefined => {
  if (g.frames * PAGE_SIZE > LOW_WINDOW_SIZE)
    return `frames must fit below 640 KiB (at most ${LOW_WINDOW_SIZE / PAGE_SIZE})`;
  if (g.dirEntries > HARNESS_FIRST_SLOT)
    return `dirEntries must leave directory slots ${HARNESS_FIRST_SLOT}.. to the harness`;
  if ((g.wordsPerPage + 1) * 4 > SYSTEM_PAGE.TSS)
    return 'wordsPerPage must keep stores below the TSS in the system page';
  return undefined;
};

/** GDT descriptors the harness relies on (index, mask of the high word that may change). */
const GUARDED_DESCRIPTORS: readonly (readonly [number, number])[] = [
  [SEL.KERNEL_CODE >> 3, ~0x100],
  [SEL.KERNEL_DATA >> 3, ~0x100],
  [SEL.USER_CODE >> 3, ~0x100],
  [SEL.USER_DATA >> 3, ~0x100],
  [SEL.TSS >> 3, ~0x200],
  [SEL.LDT >> 3, ~0],
  [SEL.RING1_CODE >> 3, ~0x100],
  [SEL.RING1_DATA >> 3, ~0x100],
];

/** Why a machine cannot start a sequence in this harness, or undefined. */
const refCache = new Map<string, { ref: Machine; dirs: boolean[] }>();
const standard = (g: Geometry) => {
  const key = JSON.stringify(g);
  let r = refCache.get(key);
  if (!r) {
    const ref = bootMachine({ geometry: g });
    r = { ref, dirs: directoryFrames(g, ref.memory) };
    refCache.set(key, r);
  }
  return r;
};

export const machineEmbedProblem = (m: Machine): string | undefined => {
  const g = m.geometry;
  const gp = geometryEmbedProblem(g);
  if (gp) return gp;
  const { ref, dirs } = standard(g);
  const c = m.cpu;
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  if (!same(c.gdtr, ref.cpu.gdtr) || !same(c.idtr, ref.cpu.idtr) || !same(c.tr, ref.cpu.tr))
    return 'GDTR, IDTR and TR must be the standard ones';
  if (!(c.ldtr.selector === SEL.LDT && same(c.ldtr, ref.cpu.ldtr)) && (c.ldtr.selector & 0xfffc) !== 0)
    return 'LDTR must be the standard LDT or null';
  if (c.run !== 'running' || c.pending.length > 0 || c.stiShadow)
    return 'the machine must be running, with nothing pending';
  if (c.cpl === 2) return 'CPL 2 has no stack segment in the standard GDT';
  if ((c.cr0 & (CR0.PE | CR0.PG)) >>> 0 !== (CR0.PE | CR0.PG) >>> 0) return 'CR0.PE and CR0.PG must be set';
  if (c.cr0 & (CR0.AM | CR0.CD | CR0.NW)) return 'CR0.AM, CD and NW must be clear';
  if (!dirs[c.cr3 >>> 12]) return 'CR3 must name a frame the harness can use as a directory';
  const sys = bootFrames(g).system * PAGE_SIZE;
  for (const [pa, v] of memoryDiff(ref.memory, m.memory)) {
    if (pa >= g.frames * PAGE_SIZE) return `memory beyond the geometry's frames (${pa.toString(16)}) must be zero`;
    const f = pa >>> 12;
    const w = (pa & 0xfff) >>> 2;
    if (dirs[f] && w >= HARNESS_FIRST_SLOT && v !== 0) return `word ${w} of frame ${f} belongs to the harness`;
  }
  // The system structures the harness runs on: the GDT descriptors it uses, every IDT gate's
  // target (or not present), and the TSS's ring-0 stack.
  for (const [i] of GUARDED_DESCRIPTORS)
    for (const k of [0, 4])
      if (readWord(m.memory, sys + i * 8 + k) !== readWord(ref.memory, sys + i * 8 + k))
        return `GDT descriptor ${i} must be the standard one`;
  const idtChanged = new Set(
    memoryDiff(ref.memory, m.memory)
      .filter(([pa]) => pa >= sys + SYSTEM_PAGE.IDT && pa < sys + PAGE_SIZE)
      .map(([pa]) => (pa - sys - SYSTEM_PAGE.IDT) >>> 3),
  );
  for (const v of idtChanged) {
    const lo = readWord(m.memory, sys + SYSTEM_PAGE.IDT + v * 8);
    const hi = readWord(m.memory, sys + SYSTEM_PAGE.IDT + v * 8 + 4);
    if (!(hi & 0x8000)) continue;
    const offset = ((hi & 0xffff_0000) | (lo & 0xffff)) >>> 0;
    if (lo >>> 16 !== SEL.KERNEL_CODE || offset !== HARNESS.HANDLERS + v * HARNESS.HANDLER_STRIDE)
      return `IDT gate ${v} must lead to the harness's handler`;
  }
  for (const off of [4, 8])
    if (readWord(m.memory, sys + SYSTEM_PAGE.TSS + off) !== readWord(ref.memory, sys + SYSTEM_PAGE.TSS + off))
      return "the TSS's SS0:ESP0 must be the standard kernel stack";
  return undefined;
};

/** Base image of a geometry's batch: the standard machine's memory plus the harness PDEs. */
const baseImage = (g: Geometry) => {
  const ref = bootMachine({ geometry: g });
  const dirs = directoryFrames(g, ref.memory);
  let mem = ref.memory;
  dirs.forEach((ok, f) => {
    if (!ok) return;
    for (let k = 0; k < HARNESS_SLOTS; k++)
      mem = writeWord(mem, f * PAGE_SIZE + (HARNESS_FIRST_SLOT + k) * 4, phys(HARNESS_PTS + k * PAGE_SIZE) | 7);
  });
  return { ref, dirs, mem };
};

/**
 * Build one kernel for a batch of sequences that share a geometry. Every machine must pass
 * `machineEmbedProblem`; every op must have an encoding (no `timer`).
 */
export const buildKernel = (sequences: readonly Sequence[]): Kernel => {
  if (sequences.length === 0) throw new Error('a kernel needs at least one sequence');
  const g = sequences[0]!.machine.geometry;
  const gprob = geometryEmbedProblem(g);
  if (gprob) throw new Error(gprob);
  const { ref, dirs, mem: base } = baseImage(g);
  const observed = observedWords(g, namedOffsets(sequences));
  const frames = bootFrames(g);
  const sysPa = frames.system * PAGE_SIZE;
  const sysLin = systemPageLinear(g);

  const a = new Asm(IMAGE);
  // --- Multiboot header (a.out kludge: the address fields say where to load and enter).
  const MB_MAGIC = 0x1bad_b002;
  const MB_FLAGS = 0x0001_0000;
  a.u32(MB_MAGIC)
    .u32(MB_FLAGS)
    .u32((-(MB_MAGIC + MB_FLAGS) >>> 0) & 0xffff_ffff)
    .u32(phys(IMAGE))
    .u32(phys(IMAGE))
    .u32(0)
    .u32(0)
    .u32(phys(IMAGE + 0x40));
  a.padTo(IMAGE + 0x40);

  // --- Boot stub: runs at its physical address with paging off; only relative branches.
  a.emit(I.cli(), I.cld(), I.movAlImm(0xff), I.outImmAl(0x21), I.outImmAl(0xa1)); // mask both PICs
  a.emit(I.movRegImm(eax, phys(BOOT_PD)), I.movToCr(3, eax));
  a.emit(I.movFromCr(eax, 0), I.orRegImm(eax, 0x8000_0000), I.movToCr(0, eax));
  a.movRegLabel(eax, 'high').emit(I.jmpReg(eax));
  a.padTo(HARNESS.HANDLERS, 0xcc);

  // --- Exception and interrupt handlers: EBP = vector, then the common path.
  for (let v = 0; v < 256; v++) {
    a.padTo(HARNESS.HANDLERS + v * HARNESS.HANDLER_STRIDE, 0xcc);
    a.emit(I.movRegImm(ebp, v)).jmp('k_exception');
  }
  a.padTo(IMAGE + 0x2000, 0xcc);

  // --- Post-operation code: user-accessible, runs at the operation's CPL.
  a.label('post');
  a.emit(I.store(V.SAVE_EAX, eax), I.store(V.SAVE_ECX, ecx), I.store(V.SAVE_EDX, edx), I.store(V.SAVE_EBX, ebx));
  // The model's SS:ESP, then a harness stack (user-accessible, flat) for PUSHFD: nothing is written
  // on the model's stack.
  a.emit(I.store(V.SAVE_ESP, esp), I.storeSreg(V.SAVE_SS, SREG.ss), I.movRegImm(esp, USTACK_TOP));
  a.emit(I.pushfd(), I.popMem(V.SAVE_EFL), I.storeSreg(V.SAVE_CS, SREG.cs), I.sysenter());

  // --- Kernel: entry after paging is on.
  a.label('high');
  a.emit(I.movRegImm(esp, KSTACK_TOP));
  // The base image: every model frame, then the initial record header.
  a.emit(I.movRegImm(esi, TABLES), I.movRegImm(edi, LOW), I.movRegImm(ecx, (g.frames * PAGE_SIZE) / 4), I.repMovsd());
  a.emit(I.storeImm(RECORDS + REC.MAGIC * 4, REC_MAGIC), I.storeImm(RECORDS + REC.WORDS * 4, REC_HEADER_WORDS));
  a.emit(I.storeImm(V.REC_PTR, RECORDS + REC_HEADER_WORDS * 4), I.storeImm(V.INHARNESS, 1));
  // Which accelerator: the hypervisor's CPUID signature (KVM says "KVMKVMKVM").
  a.emit(I.movRegImm(eax, 0x4000_0000), I.xorRegReg(ebx, ebx), I.xorRegReg(ecx, ecx), I.xorRegReg(edx, edx), I.cpuid());
  a.emit(
    I.store(RECORDS + REC.CPUID_EBX * 4, ebx),
    I.store(RECORDS + REC.CPUID_ECX * 4, ecx),
    I.store(RECORDS + REC.CPUID_EDX * 4, edx),
  );
  // SYSENTER: CS 0x08 (SS 0x10), the kernel stack, the after-operation entry.
  const wrmsr = (msr: number, value: number) =>
    a.emit(I.movRegImm(ecx, msr), I.movRegImm(eax, value), I.xorRegReg(edx, edx), I.wrmsr());
  wrmsr(0x174, SEL.KERNEL_CODE);
  wrmsr(0x175, KSTACK_TOP);
  a.emit(I.movRegImm(ecx, 0x176)).movRegLabel(eax, 'k_after_op').emit(I.xorRegReg(edx, edx), I.wrmsr());
  // The model's directory, GDT and IDT; reload every segment register.
  a.emit(I.movRegImm(eax, ref.cpu.cr3), I.movToCr(3, eax));
  a.emit(I.lgdt(V.GDTR), I.lidt(V.IDTR));
  a.emit([0xea]).addr('reload').u16(SEL.KERNEL_CODE);
  a.label('reload');
  a.emit(I.movRegImm(eax, SEL.KERNEL_DATA), I.movToSreg(SREG.ss, eax), I.movRegImm(esp, KSTACK_TOP));
  a.emit(I.movRegImm(eax, SEL.USER_DATA));
  for (const s of [SREG.ds, SREG.es, SREG.fs, SREG.gs]) a.emit(I.movToSreg(s, eax));
  // LTR needs an available TSS: clear the busy flag the model's GDT holds, LTR sets it again.
  a.emit(I.aluMemImm(4, LOW + sysPa + SEL.TSS + 4, ~0x200 >>> 0), I.movRegImm(eax, SEL.TSS), I.ltr(eax));
  a.emit(I.movAlImm(0x48), I.outImmAl(DEBUGCON_PORT)); // 'H'
  a.jmp('next_seq');

  // --- next_seq: reset memory and CPU state for the sequence SEQ_I, or finish.
  a.label('next_seq');
  a.emit(I.load(eax, V.SEQ_I));
  a.emit(I.cmpRegImm(eax, sequences.length)).jcc(CC.ae, 'finish');
  a.emit(I.shlRegImm(eax, SD_SHIFT), I.movRegReg(ebx, eax)).movRegLabel(eax, 'sd_table');
  a.emit(I.addRegReg(ebx, eax), I.store(V.CUR_SD, ebx));
  // Undo the previous sequence's differences from the base image.
  a.emit(I.load(edx, V.PREV_SD), I.testRegReg(edx, edx)).jcc(CC.e, 'undo_done');
  a.emit(I.loadBased(ecx, edx, SD.NPATCH), I.loadBased(esi, edx, SD.PATCHES), I.testRegReg(ecx, ecx)).jcc(
    CC.e,
    'undo_done',
  );
  a.label('undo');
  a.emit(I.loadBased(eax, esi, 0), I.loadBased(ebp, eax, TABLES), I.storeBased(eax, LOW, ebp));
  a.emit(I.addRegImm(esi, 8), I.decReg(ecx)).jcc(CC.ne, 'undo');
  a.label('undo_done');
  // Observed words back to the base image.
  const forRanges = (name: string, src: number, dst: number) => {
    a.movRegLabel(edx, 'obs_list').emit(I.load(ebp, V.OBS_N));
    a.label(name);
    a.emit(
      I.loadBased(eax, edx, 0),
      I.loadBased(ecx, edx, 4),
      I.lea(esi, eax, src),
      I.lea(edi, eax, dst),
      I.repMovsd(),
    );
    a.emit(I.addRegImm(edx, 8), I.decReg(ebp)).jcc(CC.ne, name);
  };
  forRanges('restore_obs', TABLES, LOW);
  // With the base directory (the memory is the base image now): TR back to the standard TSS if an
  // LTR moved it (LTR needs it available, and sets the busy flag again), and LDTR as the machine
  // holds it. Both read (and LTR writes) the GDT through paging, so the observed words are restored
  // once more afterwards: the harness's own accesses leave no trace in the model's memory.
  a.emit(I.movRegImm(eax, ref.cpu.cr3), I.movToCr(3, eax), I.str(eax), I.cmpRegImm(eax, SEL.TSS)).jcc(CC.e, 'tr_ok');
  a.emit(I.aluMemImm(4, LOW + sysPa + SEL.TSS + 4, ~0x200 >>> 0), I.movRegImm(eax, SEL.TSS), I.ltr(eax));
  a.label('tr_ok');
  a.emit(I.loadBased(eax, ebx, SD.LDTR), I.lldt(eax));
  forRanges('restore_obs2', TABLES, LOW);
  // This sequence's differences.
  a.emit(I.loadBased(ecx, ebx, SD.NPATCH), I.loadBased(esi, ebx, SD.PATCHES), I.testRegReg(ecx, ecx)).jcc(
    CC.e,
    'apply_done',
  );
  a.label('apply');
  a.emit(I.loadBased(eax, esi, 0), I.loadBased(ebp, esi, 4), I.storeBased(eax, LOW, ebp));
  a.emit(I.addRegImm(esi, 8), I.decReg(ecx)).jcc(CC.ne, 'apply');
  a.label('apply_done');
  forRanges('shadow_obs', LOW, SHADOW);
  // Sequence-start record, and a '.' on the debug console for the runner's progress (SEQUENCE_MARK).
  a.emit(I.movAlImm(0x2e), I.outImmAl(DEBUGCON_PORT));
  a.emit(I.load(edi, V.REC_PTR), I.load(eax, V.SEQ_I), I.orRegImm(eax, TAG_SEQ_START << 24), I.stosd());
  a.emit(I.store(V.REC_PTR, edi));
  // Control registers as the machine holds them (the CR3 write flushes the TLB).
  a.emit(I.loadBased(eax, ebx, SD.CR3), I.movToCr(3, eax), I.loadBased(eax, ebx, SD.CR0), I.movToCr(0, eax));
  a.emit(I.loadBased(eax, ebx, SD.CR2), I.movToCr(2, eax));
  for (let i = 0; i < 6; i++) a.emit(I.loadBased(eax, ebx, SD.REGS + i * 4), I.store(V.SAVE_EAX + i * 4, eax));
  a.emit(
    I.loadBased(eax, ebx, SD.ESP),
    I.store(V.SAVE_ESP, eax),
    I.loadBased(eax, ebx, SD.SS),
    I.store(V.SAVE_SS, eax),
  );
  a.emit(I.storeImm(V.OPIDX, 0), I.store(V.PREV_SD, ebx));
  a.jmp('resume');

  // --- resume: guard, then enter operation OPIDX with IRET.
  a.label('resume');
  a.emit(I.load(edi, V.OPIDX), I.load(ebx, V.CUR_SD), I.aluRegMem(0x3b, edi, ebx, SD.NOPS)).jcc(CC.ae, 'seq_done');
  a.emit(I.movRegReg(esi, edi), I.shlRegImm(esi, 4), I.aluRegMem(0x03, esi, ebx, SD.OPTAB), I.store(V.CUR_OP, esi));
  // Guard: no ring 2; HLT and the like only at an outer level.
  a.emit(I.load(eax, V.SAVE_CS), I.andRegImm(eax, 3), I.cmpRegImm(eax, 2)).jcc(CC.e, 'guard_stop');
  a.emit(I.loadBased(edx, esi, 8), I.testRegImm(edx, OP_NEEDS_OUTER)).jcc(CC.e, 'guard_cpl_ok');
  a.emit(I.testRegReg(eax, eax)).jcc(CC.e, 'guard_stop');
  a.label('guard_cpl_ok');
  // Guard: CR3 names a directory frame with the harness PDEs.
  a.emit(I.movFromCr(eax, 3), I.shrRegImm(eax, 12), I.cmpRegImm(eax, g.frames)).jcc(CC.ae, 'guard_stop');
  a.emit(I.shlRegImm(eax, 2))
    .movRegLabel(edx, 'dir_ok')
    .emit(I.addRegReg(eax, edx), I.loadBased(edx, eax, 0));
  a.emit(I.testRegReg(edx, edx)).jcc(CC.e, 'guard_stop');
  // Guard: every present PDE of the window, and every present PTE of its tables, inside the frames.
  a.emit(I.movFromCr(esi, 3), I.andRegImm(esi, 0xffff_f000), I.addRegImm(esi, LOW), I.movRegImm(ebp, g.dirEntries));
  a.label('g_pde');
  a.emit(I.loadBased(edx, esi, 0), I.testRegImm(edx, 1)).jcc(CC.e, 'g_pde_next');
  a.emit(I.movRegReg(eax, edx), I.shrRegImm(eax, 12), I.cmpRegImm(eax, g.frames)).jcc(CC.ae, 'guard_stop');
  // (and the two stack pages' PTEs past the window, model/boot.ts)
  a.emit(I.andRegImm(edx, 0xffff_f000), I.addRegImm(edx, LOW), I.movRegImm(ecx, g.tableEntries + 2));
  a.label('g_pte');
  a.emit(I.loadBased(eax, edx, 0), I.testRegImm(eax, 1)).jcc(CC.e, 'g_pte_next');
  a.emit(I.shrRegImm(eax, 12), I.cmpRegImm(eax, g.frames)).jcc(CC.ae, 'guard_stop');
  a.label('g_pte_next');
  a.emit(I.addRegImm(edx, 4), I.decReg(ecx)).jcc(CC.ne, 'g_pte');
  a.label('g_pde_next');
  a.emit(I.addRegImm(esi, 4), I.decReg(ebp)).jcc(CC.ne, 'g_pde');
  // Guard: the system page (GDT, IDT, TSS) is still mapped where the model put it.
  a.emit(I.movFromCr(esi, 3), I.andRegImm(esi, 0xffff_f000));
  a.emit(I.loadBased(edx, esi, LOW + (sysLin >>> 22) * 4), I.testRegImm(edx, 1)).jcc(CC.e, 'guard_stop');
  a.emit(I.andRegImm(edx, 0xffff_f000), I.loadBased(edx, edx, LOW + ((sysLin >>> 12) & 0x3ff) * 4));
  a.emit(I.andRegImm(edx, 0xffff_f001), I.cmpRegImm(edx, sysPa | 1)).jcc(CC.ne, 'guard_stop');
  // Guard: the GDT descriptors the harness runs on.
  a.movRegLabel(esi, 'gdt_checks').emit(I.load(ebp, V.GCHK_N));
  a.label('g_gdt');
  a.emit(I.loadBased(eax, esi, 0), I.loadBased(edx, eax, LOW), I.aluRegMem(0x23, edx, esi, 4));
  a.emit(I.aluRegMem(0x3b, edx, esi, 8)).jcc(CC.ne, 'guard_stop');
  a.emit(I.addRegImm(esi, 12), I.decReg(ebp)).jcc(CC.ne, 'g_gdt');
  // Enter the operation on the model's SS:ESP, writing nothing on the model's stack: at an outer
  // level, IRET from a frame on the harness's stack (CS:EIP, EFLAGS, SS:ESP); at CPL 0, where IRET
  // would not load SS:ESP, POPFD on the harness's stack, then MOV SS and ESP, then a far JMP to CS:EIP.
  a.emit(I.movRegImm(esp, KSTACK_TOP), I.load(eax, V.SAVE_CS), I.testRegImm(eax, 3)).jcc(CC.e, 'enter0');
  a.emit(I.pushMem(V.SAVE_SS), I.pushMem(V.SAVE_ESP));
  a.emit(I.pushMem(V.SAVE_EFL), I.pushMem(V.SAVE_CS), I.load(esi, V.CUR_OP), I.pushMemBased(esi, 0));
  a.emit(I.storeImm(V.INHARNESS, 0));
  a.emit(I.load(eax, V.SAVE_EAX), I.load(ecx, V.SAVE_ECX), I.load(edx, V.SAVE_EDX), I.load(ebx, V.SAVE_EBX));
  a.emit(I.iretd());
  a.label('enter0');
  a.emit(I.load(esi, V.CUR_OP), I.loadBased(eax, esi, 0), I.store(V.FAR, eax), I.load(eax, V.SAVE_CS));
  a.emit(I.store(V.FAR + 4, eax), I.pushMem(V.SAVE_EFL), I.popfd(), I.movSsMem(V.SAVE_SS), I.load(esp, V.SAVE_ESP));
  a.emit(I.storeImm(V.INHARNESS, 0));
  a.emit(I.load(eax, V.SAVE_EAX), I.load(ecx, V.SAVE_ECX), I.load(edx, V.SAVE_EDX), I.load(ebx, V.SAVE_EBX));
  a.emit(I.jmpFarMem(V.FAR));

  // --- k_after_op: SYSENTER from the post-operation code (CPL 0, IF = 0).
  a.label('k_after_op');
  a.emit(I.cld(), I.storeImm(V.INHARNESS, 1), I.storeImm(V.EV_FLAGS, 0), I.storeImm(V.EV_VEC, 0));
  a.emit(I.storeImm(V.EV_ERR, 0), I.storeImm(V.EV_EIP, 0));
  a.jmp('k_record');

  // --- k_exception: an IDT gate delivered vector EBP.
  a.label('k_exception');
  a.emit(I.store(V.SAVE_EAX, eax), I.store(V.SAVE_ECX, ecx), I.store(V.SAVE_EDX, edx), I.store(V.SAVE_EBX, ebx));
  // The frame is on the model's stack (SS:ESP as the processor left them): note them and move to
  // the harness's stack before anything is pushed.
  a.emit(I.store(V.SAVE_ESP, esp), I.storeImm(V.SAVE_SS, 0), I.storeSreg(V.SAVE_SS, SREG.ss));
  a.emit(I.movRegImm(eax, SEL.KERNEL_DATA), I.movToSreg(SREG.ss, eax), I.movRegImm(esp, KSTACK_TOP));
  a.emit(I.pushfd(), I.popMem(V.SAVE_EFL), I.storeImm(V.SAVE_CS, 0), I.storeSreg(V.SAVE_CS, SREG.cs), I.cld());
  a.emit(I.load(eax, V.INHARNESS), I.testRegReg(eax, eax)).jcc(CC.ne, 'fatal');
  a.emit(I.storeImm(V.INHARNESS, 1), I.store(V.EV_VEC, ebp), I.storeImm(V.EV_FLAGS, STEP_EVENT));
  a.emit(I.storeImm(V.EV_ERR, 0));
  // An error code was pushed for the vectors that have one, unless this is INT n (whose saved
  // EIP is the end of the INT instruction, never a small error code).
  a.emit(I.load(edi, V.SAVE_ESP), I.cmpRegImm(ebp, 32)).jcc(CC.ae, 'no_err');
  a.emit(I.movRegImm(eax, 1), I.movRegReg(ecx, ebp), I.shlRegCl(eax), I.testRegImm(eax, ERROR_CODE_VECTORS)).jcc(
    CC.e,
    'no_err',
  );
  a.emit(I.load(esi, V.CUR_OP), I.loadBased(edx, edi, 0), I.aluRegMem(0x3b, edx, esi, 4)).jcc(CC.e, 'no_err');
  a.emit(I.store(V.EV_ERR, edx), I.aluMemImm(1, V.EV_FLAGS, STEP_ERROR_CODE), I.addRegImm(edi, 4));
  a.label('no_err');
  a.emit(I.loadBased(edx, edi, 0), I.store(V.EV_EIP, edx));
  a.jmp('k_record');

  // --- k_record: write the step record, then the next operation.
  a.label('k_record');
  a.emit(I.load(edi, V.REC_PTR));
  a.emit(I.load(eax, V.EV_FLAGS), I.shlRegImm(eax, 16));
  a.emit(I.load(edx, V.OPIDX), I.orRegReg(eax, edx), I.orRegImm(eax, TAG_STEP << 24), I.stosd());
  for (const v of [V.SAVE_EAX, V.SAVE_ECX, V.SAVE_EDX, V.SAVE_EBX, V.SAVE_EFL, V.SAVE_CS, V.SAVE_ESP, V.SAVE_SS])
    a.emit(I.load(eax, v), I.stosd());
  for (const cr of [0, 2, 3]) a.emit(I.movFromCr(eax, cr), I.stosd());
  for (const v of [V.EV_VEC, V.EV_ERR, V.EV_EIP]) a.emit(I.load(eax, v), I.stosd());
  // Changed observed words: compare with the shadow, record and update.
  a.emit(I.store(V.DIFF_SLOT, edi), I.addRegImm(edi, 4), I.storeImm(V.DIFF_N, 0));
  a.movRegLabel(edx, 'obs_list').emit(I.load(ebp, V.OBS_N));
  a.label('d_range');
  a.emit(I.loadBased(esi, edx, 0), I.addRegImm(esi, LOW), I.loadBased(ecx, edx, 4));
  a.label('d_word');
  a.emit(I.loadBased(eax, esi, 0), I.aluRegMem(0x3b, eax, esi, SHADOW - LOW)).jcc(CC.ne, 'd_diff');
  a.label('d_next');
  a.emit(I.addRegImm(esi, 4), I.decReg(ecx)).jcc(CC.ne, 'd_word');
  a.emit(I.addRegImm(edx, 8), I.decReg(ebp)).jcc(CC.ne, 'd_range');
  a.jmp('d_done');
  a.label('d_diff');
  a.emit(I.storeBased(esi, SHADOW - LOW, eax), I.movRegReg(eax, esi), I.subRegImm(eax, LOW), I.stosd());
  a.emit(I.loadBased(eax, esi, 0), I.stosd(), I.incMem(V.DIFF_N));
  a.jmp('d_next');
  a.label('d_done');
  a.emit(I.load(eax, V.DIFF_N), I.load(ebx, V.DIFF_SLOT), I.storeBased(ebx, 0, eax));
  a.jmp('commit_next');

  // Commit the record pointer (so a crash leaves every finished record readable), next op.
  a.label('commit_next');
  a.emit(I.store(V.REC_PTR, edi), I.movRegReg(eax, edi), I.subRegImm(eax, RECORDS), I.shrRegImm(eax, 2));
  a.emit(I.store(RECORDS + REC.WORDS * 4, eax), I.incMem(V.OPIDX));
  a.jmp('resume');

  // --- seq_done / guard_stop: the end record, then the next sequence.
  a.label('seq_done');
  a.emit(I.storeImm(V.END_REASON, END_DONE)).jmp('seq_end');
  a.label('guard_stop');
  a.emit(I.storeImm(V.END_REASON, END_GUARD)).jmp('seq_end');
  a.label('seq_end');
  a.emit(I.movRegImm(esp, KSTACK_TOP), I.load(edi, V.REC_PTR), I.load(eax, V.END_REASON), I.shlRegImm(eax, 16));
  a.emit(I.orRegImm(eax, TAG_SEQ_END << 24), I.stosd(), I.load(eax, V.OPIDX), I.stosd());
  a.emit(I.store(V.REC_PTR, edi), I.movRegReg(eax, edi), I.subRegImm(eax, RECORDS), I.shrRegImm(eax, 2));
  a.emit(I.store(RECORDS + REC.WORDS * 4, eax), I.incMem(V.SEQ_I));
  a.jmp('next_seq');

  // --- finish / fatal: say so in the header and leave through isa-debug-exit.
  a.label('finish');
  a.emit(I.storeImm(RECORDS + REC.STATUS * 4, STATUS_DONE), I.movAlImm(0x45), I.outImmAl(DEBUGCON_PORT));
  a.emit(I.movDxImm(DEBUG_EXIT_PORT), I.movAlImm(EXIT_DONE), I.outDxAl());
  a.label('hang');
  a.emit(I.cli(), I.hlt()).jmp('hang');
  a.label('fatal');
  a.emit(I.store(RECORDS + REC.FATAL_VECTOR * 4, ebp), I.load(edi, V.SAVE_ESP), I.loadBased(eax, edi, 0));
  a.emit(I.store(RECORDS + REC.FATAL_EIP * 4, eax), I.load(eax, V.OPIDX), I.store(RECORDS + REC.FATAL_OP * 4, eax));
  a.emit(I.load(eax, V.SEQ_I), I.store(RECORDS + REC.FATAL_SEQ * 4, eax));
  a.emit(I.storeImm(RECORDS + REC.STATUS * 4, STATUS_FATAL), I.movAlImm(0x46), I.outImmAl(DEBUGCON_PORT));
  a.emit(I.movDxImm(DEBUG_EXIT_PORT), I.movAlImm(EXIT_FATAL), I.outDxAl());
  a.jmp('hang');

  if (a.here > VARS) throw new Error(`harness code overflows into its variables (${a.here.toString(16)})`);

  // --- Variables page.
  a.padTo(VARS, 0);
  const vars = new Uint8Array(PAGE_SIZE);
  const dv = new DataView(vars.buffer);
  const put32 = (addr: number, v: number) => dv.setUint32(addr - VARS, v >>> 0, true);
  const put16 = (addr: number, v: number) => dv.setUint16(addr - VARS, v, true);
  put32(V.INHARNESS, 1);
  put32(V.SEQ_N, sequences.length);
  put16(V.GDTR, ref.cpu.gdtr.limit);
  put32(V.GDTR + 2, ref.cpu.gdtr.base);
  put16(V.IDTR, ref.cpu.idtr.limit);
  put32(V.IDTR + 2, ref.cpu.idtr.base);
  put32(V.OBS_N, observed.ranges.length);
  a.emit([...vars]);

  const patch32 = (addr: number, v: number) => {
    const b = addr - IMAGE;
    for (let i = 0; i < 4; i++) a.bytes[b + i] = (v >>> (8 * i)) & 0xff;
  };

  // --- Page tables: the boot directory (identity for the boot stub, plus the harness slots)
  // and the harness's eight tables, shared by every model directory.
  const table = (entries: (i: number) => number | undefined) => {
    const t: number[] = [];
    for (let i = 0; i < 1024; i++) {
      const e = entries(i);
      t.push(...[e ?? 0].flatMap((x) => [x & 0xff, (x >>> 8) & 0xff, (x >>> 16) & 0xff, x >>> 24]));
    }
    return t;
  };
  const bootSlot = phys(IMAGE) >>> 22;
  a.padTo(BOOT_PD);
  a.emit(
    table((i) =>
      i === bootSlot
        ? phys(BOOT_PT) | 7
        : i >= HARNESS_FIRST_SLOT
          ? phys(HARNESS_PTS + (i - HARNESS_FIRST_SLOT) * PAGE_SIZE) | 7
          : undefined,
    ),
  );
  a.emit(table((i) => (((bootSlot << 22) + i * PAGE_SIZE) | 3) >>> 0));
  for (let k = 0; k < HARNESS_SLOTS; k++)
    a.emit(table((i) => (phys(HARNESS_LINEAR + (k << 22) + i * PAGE_SIZE) | 7) >>> 0));

  // --- Tables: the base image of the model's frames (at TABLES + physical address).
  a.padTo(TABLES);
  const baseBytes = new Uint8Array(g.frames * PAGE_SIZE);
  const bdv = new DataView(baseBytes.buffer);
  for (const [pa, v] of nonZeroWords(base)) if (pa < baseBytes.length) bdv.setUint32(pa, v, true);
  a.emit([...baseBytes]);

  // Which frames may be directories (one word each).
  a.label('dir_ok');
  for (let f = 0; f < g.frames; f++) a.u32(dirs[f] ? 1 : 0);
  a.label('obs_list');
  for (const [pa, n] of observed.ranges) a.u32(pa).u32(n);
  a.label('gdt_checks');
  const checks: [number, number, number][] = [];
  for (const [i, hiMask] of GUARDED_DESCRIPTORS) {
    const at = sysPa + SYSTEM_PAGE.GDT + i * 8;
    checks.push([at, 0xffff_ffff, readWord(base, at)], [at + 4, hiMask >>> 0, (readWord(base, at + 4) & hiMask) >>> 0]);
  }
  // IDT gates an operation can write: still 32-bit interrupt or trap gates to the harness's
  // handler (present or not, any DPL), so every delivery lands in the harness.
  const gates = new Set<number>();
  for (const [pa, n] of observed.ranges)
    for (let k = 0; k < n; k++) {
      const off = pa + k * 4 - sysPa - SYSTEM_PAGE.IDT;
      if (off >= 0 && off < 256 * 8) gates.add(off >>> 3);
    }
  for (const v of gates) {
    const at = sysPa + SYSTEM_PAGE.IDT + v * 8;
    checks.push([at, 0xffff_ffff, readWord(base, at)]);
    checks.push([at + 4, 0xffff_1eff, ((readWord(base, at + 4) & 0xffff_0000) | 0x0e00) >>> 0]);
  }
  for (const [at, mask, want] of checks) a.u32(at).u32(mask).u32(want);
  patch32(V.GCHK_N, checks.length);

  // --- Sequences: descriptors, op tables, patches, code.
  a.align(64, 0);
  a.label('sd_table');
  const sdAt = a.here;
  a.padTo(sdAt + sequences.length * SD.SIZE, 0);
  const sdWords: number[][] = [];
  const placements: OpPlacement[][] = [];
  sequences.forEach((s, index) => {
    const m = s.machine;
    const problem = machineEmbedProblem(m);
    if (problem) throw new Error(`sequence ${index}: ${problem}`);
    const patches = memoryDiff(base, m.memory).filter(([pa]) => {
      const w = (pa & 0xfff) >>> 2;
      return !(dirs[pa >>> 12] && w >= HARNESS_FIRST_SLOT); // the harness PDEs stay
    });
    const patchAt = a.here;
    for (const [pa, v] of patches) a.u32(pa).u32(v);
    const opTab = a.here;
    a.padTo(opTab + s.ops.length * 16, 0);
    const places: OpPlacement[] = [];
    const flags: number[] = [];
    for (const op of s.ops) {
      const at = a.here;
      const bytes = encodeOp(op, at, g);
      if (!bytes) throw new Error(`sequence ${index}: ${op.kind} has no encoding`);
      a.emit(bytes);
      places.push({ at, post: a.here });
      flags.push(op.kind === 'hlt' ? OP_NEEDS_OUTER : 0);
      a.jmp('post');
    }
    placements.push(places);
    const tab: number[] = [];
    places.forEach((p, i) => {
      tab.push(p.at, p.post, flags[i]!, 0);
    });
    const c = m.cpu;
    sdWords.push([
      s.ops.length,
      opTab,
      patches.length,
      patchAt,
      ...c.regs,
      c.eflags,
      c.cs,
      c.cr0,
      c.cr2,
      c.cr3,
      c.ldtr.selector,
      index,
      c.esp,
      c.ss,
    ]);
    // Op table entries are written after code placement (addresses known now).
    const off = opTab - IMAGE;
    tab.forEach((w, i) => {
      const b = off + i * 4;
      a.bytes[b] = w & 0xff;
      a.bytes[b + 1] = (w >>> 8) & 0xff;
      a.bytes[b + 2] = (w >>> 16) & 0xff;
      a.bytes[b + 3] = w >>> 24;
    });
  });
  sdWords.forEach((ws, i) => {
    ws.forEach((w, k) => {
      const b = sdAt - IMAGE + i * SD.SIZE + k * 4;
      a.bytes[b] = w & 0xff;
      a.bytes[b + 1] = (w >>> 8) & 0xff;
      a.bytes[b + 2] = (w >>> 16) & 0xff;
      a.bytes[b + 3] = (w >>> 24) & 0xff;
    });
  });
  if (a.here > IMAGE_MAX_END) throw new Error('batch too large for one kernel image: use fewer sequences per boot');
  const image = a.link();
  return { image, geometry: g, observed, placements };
};
