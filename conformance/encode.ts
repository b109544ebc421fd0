/**
 * Each of the model's operations as real x86 machine code (32-bit operand size, flat segments),
 * exactly as DESIGN.md §1 and model/ops.ts define the subset:
 * - `load`/`store`: `mov r32, [disp32]` / `mov [disp32], r32`;
 * - `movToCr0`/`movToCr3`: `mov esi, imm32; mov crN, esi` (ESI is the harness's scratch);
 * - `pushf r`: `pushfd; pop r32`; `popf {image}`: `push imm32; popfd`;
 * - `iret {cs, eflags}`: an IRET frame built on the current stack (SS:ESP of the standard stack
 *   of the ring cs names, model/boot.ts `bootStack`, EFLAGS image, cs, EIP = the next
 *   instruction) then `iretd`;
 * - `smsw r` is the 16-bit register form; `sldt`, `str` and `mov r, cs` the 32-bit ones;
 * - `in`/`out` are `in eax, imm8` / `out imm8, eax`.
 * `timer` is not an instruction and has no encoding.
 */
import { bootStack } from '../model/boot.ts';
import { DEFAULT_GEOMETRY, type Geometry } from '../model/geometry.ts';
import type { Op } from '../model/ops.ts';
import type { Cpl } from '../model/state.ts';
import { I, R, SREG } from './x86.ts';

/** The stack an IRET to privilege level `rpl` returns to (SS, ESP): the ring's standard stack in the guest's memory. */
export const iretStack = (rpl: number, g: Geometry = DEFAULT_GEOMETRY): { ss: number; esp: number } =>
  bootStack(g, (rpl & 3) as Cpl);

/**
 * The instruction bytes of `op` placed at linear address `at`, for a machine of geometry `g`
 * (where its stacks are). Returns undefined for operations that have no encoding (events).
 * Their lengths are model/encoding.ts `opBytes` (a test checks that they agree).
 */
export const encodeOp = (op: Op, at: number, g: Geometry = DEFAULT_GEOMETRY): number[] | undefined => {
  switch (op.kind) {
    case 'movImm':
      return I.movRegImm(op.dst, op.imm);
    case 'add':
      return I.addRegReg(op.dst, op.src);
    case 'load':
      return I.load(op.dst, op.va);
    case 'store':
      return I.store(op.va, op.src);
    case 'movToCr0':
      return [...I.movRegImm(R.esi, op.value), ...I.movToCr(0, R.esi)];
    case 'movToCr3':
      return [...I.movRegImm(R.esi, op.value), ...I.movToCr(3, R.esi)];
    case 'movFromCr':
      return I.movFromCr(op.dst, op.cr);
    case 'clts':
      return I.clts();
    case 'invlpg':
      return I.invlpg(op.va);
    case 'cli':
      return I.cli();
    case 'sti':
      return I.sti();
    case 'hlt':
      return I.hlt();
    case 'lgdt':
      return I.lgdt(op.va);
    case 'lidt':
      return I.lidt(op.va);
    case 'lldt':
      return I.lldt(op.src);
    case 'ltr':
      return I.ltr(op.src);
    case 'in':
      return I.inImm(op.port);
    case 'out':
      return I.outImm(op.port);
    case 'sgdt':
      return I.sgdt(op.va);
    case 'sidt':
      return I.sidt(op.va);
    case 'sldt':
      return I.sldt(op.dst);
    case 'str':
      return I.str(op.dst);
    case 'smsw':
      return I.smsw16(op.dst);
    case 'pushf':
      return [...I.pushfd(), ...I.pop(op.dst)];
    case 'popf':
      return [...I.pushImm(op.image), ...I.popfd()];
    case 'movFromCs':
      return I.movFromSreg(op.dst, SREG.cs);
    case 'lar':
      return I.lar(op.dst, op.src);
    case 'lsl':
      return I.lsl(op.dst, op.src);
    case 'verr':
      return I.verr(op.src);
    case 'verw':
      return I.verw(op.src);
    case 'int':
      return I.int(op.vector);
    case 'iret': {
      const { ss, esp } = iretStack(op.cs & 3, g);
      // 5 pushes of 5 bytes and IRETD: the frame's EIP is the byte after IRETD.
      const next = (at + 5 * 5 + 1) >>> 0;
      return [
        ...I.pushImm(ss),
        ...I.pushImm(esp),
        ...I.pushImm(op.eflags),
        ...I.pushImm(op.cs),
        ...I.pushImm(next),
        ...I.iretd(),
      ];
    }
    case 'ud2':
      return I.ud2();
    case 'timer':
    case 'dmaComplete':
    case 'frameIn':
      return undefined;
  }
};
