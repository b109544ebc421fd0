/**
 * Operations and machine states in the domain's own words, for counterexamples and traces:
 * Intel mnemonics, register names, hexadecimal addresses.
 */
import { EFLAGS, iopl } from './bits.ts';
import type { Op } from './ops.ts';
import { REGISTER_NAMES, type Reg } from './state.ts';

/** A 32-bit value as 0x and `width` hex digits. */
const hex = (n: number, width = 8) => `0x${(n >>> 0).toString(16).padStart(width, '0')}`;
const r = (x: Reg) => REGISTER_NAMES[x].toUpperCase();
const mem = (va: number) => `[${hex(va)}]`;

/** An operation as assembly-like text, e.g. `SGDT [0x00401008]`, `POPF (image 0x00000202)`. */
export const formatOp = (op: Op): string => {
  switch (op.kind) {
    case 'movImm':
      return `MOV ${r(op.dst)}, ${hex(op.imm)}`;
    case 'add':
      return `ADD ${r(op.dst)}, ${r(op.src)}`;
    case 'load':
      return `MOV ${r(op.dst)}, ${mem(op.va)}`;
    case 'store':
      return `MOV ${mem(op.va)}, ${r(op.src)}`;
    case 'movToCr0':
      return `MOV CR0, ${hex(op.value)}`;
    case 'movToCr3':
      return `MOV CR3, ${hex(op.value)}`;
    case 'movFromCr':
      return `MOV ${r(op.dst)}, CR${op.cr}`;
    case 'invlpg':
      return `INVLPG ${mem(op.va)}`;
    case 'lgdt':
    case 'lidt':
    case 'sgdt':
    case 'sidt':
      return `${op.kind.toUpperCase()} ${mem(op.va)}`;
    case 'lldt':
    case 'ltr':
    case 'verr':
    case 'verw':
      return `${op.kind.toUpperCase()} ${r(op.src)}`;
    case 'sldt':
    case 'str':
      return `${op.kind.toUpperCase()} ${r(op.dst)}`;
    case 'smsw':
      return `SMSW ${r(op.dst).slice(1)}`;
    case 'pushf':
      return `PUSHFD; POP ${r(op.dst)}`;
    case 'popf':
      return `PUSH ${hex(op.image)}; POPFD`;
    case 'movFromCs':
      return `MOV ${r(op.dst)}, CS`;
    case 'lar':
    case 'lsl':
      return `${op.kind.toUpperCase()} ${r(op.dst)}, ${r(op.src)}`;
    case 'in':
      return `IN EAX, ${hex(op.port, 2)}`;
    case 'out':
      return `OUT ${hex(op.port, 2)}, EAX`;
    case 'int':
      return `INT ${hex(op.vector, 2)}`;
    case 'iret':
      return `IRETD (CS ${hex(op.cs, 4)}, EFLAGS ${hex(op.eflags)})`;
    case 'clts':
    case 'cli':
    case 'sti':
    case 'hlt':
    case 'ud2':
      return op.kind.toUpperCase();
    case 'timer':
      return 'timer interrupt';
    case 'dmaComplete':
      return `device ${op.device} completes its DMA`;
    case 'frameIn':
      return `frame ${hex(op.frame)} from the outside world (src ${hex(op.frame >>> 24, 2)}, dst ${hex((op.frame >>> 16) & 0xff, 2)})`;
    default:
      return JSON.stringify(op);
  }
};

/** EFLAGS as `IF=1 IOPL=0 ZF=0 …` (the flags the model gives meaning to that are set). */
export const formatEflags = (e: number): string => {
  const on = (['CF', 'PF', 'AF', 'ZF', 'SF', 'DF', 'OF', 'AC', 'ID'] as const).filter((f) => e & EFLAGS[f]);
  return `IF=${(e >>> 9) & 1} IOPL=${iopl(e)}${on.length ? ` ${on.join(' ')}` : ''}`;
};

export { hex };
