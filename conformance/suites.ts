/**
 * Fixed conformance suites: the 512-case paging permission matrix and the sensitive-but-unprivileged
 * instructions at CPL 3.
 */

import { INTERESTING_SELECTORS } from '../generators/reference.ts';
import { CR0, EFLAGS } from '../model/bits.ts';
import { bootFrames, bootMachine } from '../model/boot.ts';
import { linear, PAGE_SIZE } from '../model/geometry.ts';
import { writeWord } from '../model/memory.ts';
import type { Op } from '../model/ops.ts';
import { PTE } from '../model/paging.ts';
import type { Machine, Reg } from '../model/state.ts';
import type { Sequence } from './kernel.ts';

/** One case of the paging permission matrix. */
export interface MatrixCase {
  readonly pde: number;
  readonly pte: number;
  readonly user: boolean;
  readonly write: boolean;
  readonly wp: boolean;
}

const flags = (bits: number) => ((bits & 1 ? PTE.P : 0) | (bits & 2 ? PTE.RW : 0) | (bits & 4 ? PTE.US : 0)) >>> 0;

/** The 512 cases: PDE and PTE P/W/U x user/supervisor x read/write x CR0.WP. */
export const matrixCases = (): MatrixCase[] => {
  const out: MatrixCase[] = [];
  for (let pde = 0; pde < 8; pde++)
    for (let pte = 0; pte < 8; pte++)
      for (const user of [false, true])
        for (const write of [false, true])
          for (const wp of [false, true]) out.push({ pde: flags(pde), pte: flags(pte), user, write, wp });
  return out;
};

/** The page the matrix accesses: window page (1,1), word 2; its PDE and PTE have A = D = 0 at the start. */
export const MATRIX_VA = linear(1, 1, 2);

/** The sequence of one matrix case: a load or a store at CPL 3 or 0, then a load of the word back at CPL 0. */
export const matrixSequence = (c: MatrixCase): Sequence => {
  const base = bootMachine({ cpl: c.user ? 3 : 0, cr0: (CR0.PE | CR0.ET | CR0.PG | (c.wp ? CR0.WP : 0)) >>> 0 });
  const f = bootFrames(base.geometry);
  let memory = writeWord(base.memory, f.pageDirectory * PAGE_SIZE + 1 * 4, (f.pageTable(1) * PAGE_SIZE) | c.pde);
  memory = writeWord(memory, f.pageTable(1) * PAGE_SIZE + 1 * 4, (f.data(1, 1) * PAGE_SIZE) | c.pte);
  const machine: Machine = { ...base, memory, cpu: { ...base.cpu, regs: [0x1234_5678, 0, 0, 0] } };
  const access: Op = c.write ? { kind: 'store', va: MATRIX_VA, src: 0 } : { kind: 'load', dst: 1, va: MATRIX_VA };
  return { machine, ops: [access] };
};

/** The sensitive-but-unprivileged kinds (DESIGN.md §1), exercised at CPL 3. */
export const SENSITIVE_KINDS = [
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
] as const;

/** Sequences that run each sensitive-but-unprivileged instruction at CPL 3 (IOPL 0 and 3, IF 0 and 1), on every selector worth trying. */
export const sensitiveSequences = (): { kind: (typeof SENSITIVE_KINDS)[number]; sequence: Sequence }[] => {
  const out: { kind: (typeof SENSITIVE_KINDS)[number]; sequence: Sequence }[] = [];
  const va = linear(1, 2, 0);
  for (const iopl of [0, 3])
    for (const intf of [false, true]) {
      const eflags = ((iopl << 12) | (intf ? EFLAGS.IF : 0)) >>> 0;
      const m = bootMachine({ cpl: 3, eflags });
      const at = (ops: Op[]): Sequence => ({ machine: m, ops });
      out.push({
        kind: 'sgdt',
        sequence: at([
          { kind: 'sgdt', va },
          { kind: 'load', dst: 0, va },
          { kind: 'load', dst: 1, va: va + 4 },
        ]),
      });
      out.push({
        kind: 'sidt',
        sequence: at([
          { kind: 'sidt', va },
          { kind: 'load', dst: 0, va },
          { kind: 'load', dst: 1, va: va + 4 },
        ]),
      });
      out.push({
        kind: 'sldt',
        sequence: at([
          { kind: 'movImm', dst: 2, imm: 0xdead_0000 },
          { kind: 'sldt', dst: 2 },
        ]),
      });
      out.push({
        kind: 'str',
        sequence: at([
          { kind: 'movImm', dst: 2, imm: 0xdead_0000 },
          { kind: 'str', dst: 2 },
        ]),
      });
      out.push({
        kind: 'smsw',
        sequence: at([
          { kind: 'movImm', dst: 3, imm: 0xdead_0000 },
          { kind: 'smsw', dst: 3 },
        ]),
      });
      out.push({ kind: 'pushf', sequence: at([{ kind: 'pushf', dst: 0 }]) });
      for (const image of [0, EFLAGS.IF, 0x3000, 0x3000 | EFLAGS.IF, 0x8d5])
        out.push({
          kind: 'popf',
          sequence: at([
            { kind: 'popf', image },
            { kind: 'pushf', dst: 1 },
          ]),
        });
      out.push({
        kind: 'movFromCs',
        sequence: at([
          { kind: 'movImm', dst: 1, imm: 0xffff_ffff },
          { kind: 'movFromCs', dst: 1 },
        ]),
      });
      for (const kind of ['lar', 'lsl', 'verr', 'verw'] as const) {
        const ops: Op[] = [];
        for (const sel of INTERESTING_SELECTORS) {
          ops.push({ kind: 'movImm', dst: 0, imm: sel }, { kind: 'movImm', dst: 1, imm: 0x5555_5555 });
          ops.push(kind === 'lar' || kind === 'lsl' ? { kind, dst: 1 as Reg, src: 0 } : { kind, src: 0 });
        }
        out.push({ kind, sequence: at(ops) });
      }
    }
  return out;
};
