/**
 * The guest's operations: a small but faithful subset of 32-bit x86. Every instruction here has
 * a real encoding (conformance/encoder), so any sequence can run on an independent x86.
 *
 * Conventions that keep the subset encodable and in scope:
 * - memory operands are absolute, 4-aligned linear addresses (`mov eax, [disp32]`);
 * - values loaded into CR0, CR3, EFLAGS (POPF) and IRET frames are immediates (the encoder
 *   materialises them in a scratch register or on the harness stack), so the subset can
 *   exclude states it does not model: real mode (CR0.PE = 0), TF, NT, RF, VM, VIF, VIP;
 * - PUSHF, POPF and IRET use the guest's stack (SS:ESP, model/stack.ts) with these shapes:
 *   `pushf` is PUSHFD; POP dst, `popf` is PUSH imm32; POPFD, `iret` is five PUSH imm32 of a frame
 *   (SS:ESP of the return ring's standard stack, boot.ts `bootStack`; EFLAGS; CS; the EIP past the
 *   operation) then IRETD (see README, "Scope, stated").
 */
import { CR0, UNMODELED_FLAGS } from './bits.ts';
import { MAX_DEVICES } from './devices.ts';
import type { Reg } from './state.ts';

/** Every operation, as a discriminated union on `kind`. */
export type Op =
  // data
  | { readonly kind: 'movImm'; readonly dst: Reg; readonly imm: number }
  | { readonly kind: 'add'; readonly dst: Reg; readonly src: Reg }
  | { readonly kind: 'load'; readonly dst: Reg; readonly va: number }
  | { readonly kind: 'store'; readonly va: number; readonly src: Reg }
  // privileged
  | { readonly kind: 'movToCr0'; readonly value: number }
  | { readonly kind: 'movToCr3'; readonly value: number }
  | { readonly kind: 'movFromCr'; readonly dst: Reg; readonly cr: 0 | 2 | 3 }
  | { readonly kind: 'clts' }
  | { readonly kind: 'invlpg'; readonly va: number }
  | { readonly kind: 'cli' }
  | { readonly kind: 'sti' }
  | { readonly kind: 'hlt' }
  | { readonly kind: 'lgdt'; readonly va: number }
  | { readonly kind: 'lidt'; readonly va: number }
  | { readonly kind: 'lldt'; readonly src: Reg }
  | { readonly kind: 'ltr'; readonly src: Reg }
  | { readonly kind: 'in'; readonly port: number }
  | { readonly kind: 'out'; readonly port: number }
  // sensitive but unprivileged on x86
  | { readonly kind: 'sgdt'; readonly va: number }
  | { readonly kind: 'sidt'; readonly va: number }
  | { readonly kind: 'sldt'; readonly dst: Reg }
  | { readonly kind: 'str'; readonly dst: Reg }
  | { readonly kind: 'smsw'; readonly dst: Reg }
  | { readonly kind: 'pushf'; readonly dst: Reg }
  | { readonly kind: 'popf'; readonly image: number }
  | { readonly kind: 'movFromCs'; readonly dst: Reg }
  | { readonly kind: 'lar'; readonly dst: Reg; readonly src: Reg }
  | { readonly kind: 'lsl'; readonly dst: Reg; readonly src: Reg }
  | { readonly kind: 'verr'; readonly src: Reg }
  | { readonly kind: 'verw'; readonly src: Reg }
  // transitions
  | { readonly kind: 'int'; readonly vector: number }
  | { readonly kind: 'iret'; readonly cs: number; readonly eflags: number }
  | { readonly kind: 'ud2' }
  // events that are not guest instructions
  | { readonly kind: 'timer' }
  /** Device `device`'s DMA transfer completes (devices.ts): the word moves and its MSI is sent. */
  | { readonly kind: 'dmaComplete'; readonly device: number }
  /**
   * The outside world puts `frame` (nic.ts) on the host's wire. Nothing in the running guest's own
   * machine changes: which cards receive it is the switch's decision (the ideal switch of the
   * reference, or a design's network), and the running guest is only whose time slice it lands in.
   */
  | { readonly kind: 'frameIn'; readonly frame: number };

/** The name of an operation kind (`Op['kind']`). */
export type OpKind = Op['kind'];

/** Every operation kind, in a fixed order. */
export const OP_KINDS: readonly OpKind[] = Object.freeze([
  'movImm',
  'add',
  'load',
  'store',
  'movToCr0',
  'movToCr3',
  'movFromCr',
  'clts',
  'invlpg',
  'cli',
  'sti',
  'hlt',
  'lgdt',
  'lidt',
  'lldt',
  'ltr',
  'in',
  'out',
  'sgdt',
  'sidt',
  'sldt',
  'str',
  'smsw',
  'pushf',
  'popf',
  'movFromCs',
  'lar',
  'lsl',
  'verr',
  'verw',
  'int',
  'iret',
  'ud2',
  'timer',
  'dmaComplete',
  'frameIn',
]);

/** Operation kinds that are events rather than guest instructions. */
export const EVENT_KINDS: readonly OpKind[] = Object.freeze(['timer', 'dmaComplete', 'frameIn']);

/** Instruction kinds (everything but events): what the classification covers. */
export const INSTRUCTION_KINDS: readonly OpKind[] = Object.freeze(OP_KINDS.filter((k) => !EVENT_KINDS.includes(k)));

const isU32 = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= 0xffff_ffff;
const isReg = (x: unknown): boolean => x === 0 || x === 1 || x === 2 || x === 3;
const isAligned = (x: unknown): boolean => isU32(x) && (x & 3) === 0;

/**
 * Why an operation is outside the modelled subset, or undefined if it is inside.
 * `step` answers an out-of-subset operation with the outcome `invalid-op` and no state change.
 */
export const opProblem = (op: Op): string | undefined => {
  const o = op as unknown as Record<string, unknown>;
  const need = (ok: boolean, what: string) => (ok ? undefined : what);
  switch (op.kind) {
    case 'movImm':
      return need(isReg(o.dst) && isU32(o.imm), 'movImm needs a register dst and a u32 imm');
    case 'add':
      return need(isReg(o.dst) && isReg(o.src), 'add needs registers dst and src');
    case 'load':
      return need(isReg(o.dst) && isAligned(o.va), 'load needs a register dst and a 4-aligned linear address');
    case 'store':
      return need(isReg(o.src) && isAligned(o.va), 'store needs a register src and a 4-aligned linear address');
    case 'movToCr0':
      if (!isU32(o.value)) return 'movToCr0 needs a u32 value';
      return need((op.value & CR0.PE) !== 0, 'movToCr0 with PE = 0 would enter real mode, outside the subset');
    case 'movToCr3':
      return need(isU32(o.value), 'movToCr3 needs a u32 value');
    case 'movFromCr':
      return need(
        isReg(o.dst) && (o.cr === 0 || o.cr === 2 || o.cr === 3),
        'movFromCr needs a register and cr 0, 2 or 3',
      );
    case 'invlpg':
      return need(isU32(o.va), 'invlpg needs a u32 linear address');
    case 'lgdt':
    case 'lidt':
    case 'sgdt':
    case 'sidt':
      return need(isAligned(o.va), `${op.kind} needs a 4-aligned linear address`);
    case 'lldt':
    case 'ltr':
    case 'verr':
    case 'verw':
      return need(isReg(o.src), `${op.kind} needs a register src`);
    case 'sldt':
    case 'str':
    case 'smsw':
    case 'pushf':
    case 'movFromCs':
      return need(isReg(o.dst), `${op.kind} needs a register dst`);
    case 'lar':
    case 'lsl':
      return need(isReg(o.dst) && isReg(o.src), `${op.kind} needs registers dst and src`);
    case 'in':
    case 'out':
      return need(
        typeof o.port === 'number' && Number.isInteger(o.port) && o.port >= 0 && o.port <= 255,
        `${op.kind} needs an 8-bit port`,
      );
    case 'popf':
      if (!isU32(o.image)) return 'popf needs a u32 image';
      return need((op.image & UNMODELED_FLAGS) === 0, 'popf image sets TF, NT, RF, VM, VIF or VIP, outside the subset');
    case 'iret':
      if (!isU32(o.eflags) || !(typeof o.cs === 'number' && Number.isInteger(o.cs) && o.cs >= 0 && o.cs <= 0xffff))
        return 'iret needs a 16-bit cs and a u32 eflags';
      return need(
        (op.eflags & UNMODELED_FLAGS) === 0,
        'iret image sets TF, NT, RF, VM, VIF or VIP, outside the subset',
      );
    case 'int':
      return need(
        typeof o.vector === 'number' && Number.isInteger(o.vector) && o.vector >= 0 && o.vector <= 255,
        'int needs a vector 0..255',
      );
    case 'dmaComplete':
      return need(
        typeof o.device === 'number' && Number.isInteger(o.device) && o.device >= 0 && o.device < MAX_DEVICES,
        `dmaComplete needs a device 0..${MAX_DEVICES - 1}`,
      );
    case 'frameIn':
      return need(isU32(o.frame), 'frameIn needs a u32 frame');
    case 'clts':
    case 'cli':
    case 'sti':
    case 'hlt':
    case 'ud2':
    case 'timer':
      return undefined;
    default:
      return `unknown operation kind ${String((op as { kind: unknown }).kind)}`;
  }
};
