/**
 * Fixed conformance suites: the 512-case paging permission matrix, the sensitive-but-unprivileged
 * instructions at CPL 3, and the exception frames.
 */

import { INTERESTING_SELECTORS } from '../generators/reference.ts';
import { CR0, EFLAGS } from '../model/bits.ts';
import { bootFrames, bootMachine, stackPages, USER_INT_VECTORS } from '../model/boot.ts';
import { linear, PAGE_SIZE } from '../model/geometry.ts';
import { readWord, writeWord } from '../model/memory.ts';
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

/**
 * Sequences whose events push frames of every shape the harness can embed (SDM Vol. 3A §6.12.1,
 * Figure 6-4): from CPL 0 (same level: EFLAGS, CS, EIP) and CPL 3 (the TSS's stack: SS, ESP too),
 * with IF 0 and 1; with and without an error code (#UD; #PF of each kind; #GP(0) from the second
 * instruction of MOV CR0; #GP and #NP of an IDT gate; INT n, which saves the EIP after it); after
 * an IRET to ring 3; a #DF (#NP for the #PF gate while delivering a #PF: an abort, no RF); a PUSHF
 * and a POPF on a read-only user stack; an IRET frame whose third push faults (the pushes before
 * it stay); IRET to ring 2, whose stack the standard GDT refuses (#GP(0x10)). Each sequence ends
 * with loads of the frame's words, so the handler reads back what was pushed.
 */
export const frameSequences = (): { name: string; sequence: Sequence }[] => {
  const out: { name: string; sequence: Sequence }[] = [];
  const g = bootMachine().geometry;
  const f = bootFrames(g);
  const { kernel, user } = stackPages(g);
  const top = kernel + PAGE_SIZE;
  // The top six words of the kernel stack: any frame delivered to ring 0 from a fresh stack.
  const readBack: Op[] = [0, 1, 2, 3].map((i) => ({ kind: 'load', dst: i as Reg, va: top - 4 * (i + 1) }) as const);
  const readLow: Op[] = [4, 5].map((i) => ({ kind: 'load', dst: (i - 4) as Reg, va: top - 4 * (i + 1) }) as const);
  const unmapped = linear(g.dirEntries - 1, g.tableEntries + 2); // no PTE
  const withPte = (m: Machine, table: number, index: number, pte: number): Machine => ({
    ...m,
    memory: writeWord(m.memory, f.pageTable(table) * PAGE_SIZE + index * 4, pte),
  });
  for (const cpl of [0, 3] as const)
    for (const intf of [false, true]) {
      const m = bootMachine({ cpl, eflags: intf ? EFLAGS.IF : 0 });
      const add = (name: string, ops: Op[], machine: Machine = m) =>
        out.push({
          name: `${name} at CPL ${cpl}, IF ${intf ? 1 : 0}`,
          sequence: { machine, ops: [...ops, ...readBack, ...readLow] },
        });
      add('#UD', [{ kind: 'ud2' }]);
      add('#PF not present (read)', [{ kind: 'load', dst: 0, va: unmapped }]);
      add('#PF not present (write)', [{ kind: 'store', va: unmapped, src: 0 }]);
      add('#PF protection (write to the system page)', [
        { kind: 'store', va: linear(g.dirEntries - 1, g.tableEntries - 1), src: 0 },
      ]);
      add('#GP(0) from MOV CR0', [{ kind: 'movToCr0', value: (CR0.PE | CR0.ET | CR0.PG) >>> 0 }]);
      add('INT 0x80', [{ kind: 'int', vector: USER_INT_VECTORS.INTERRUPT_GATE }]);
      add('INT 0x81 (trap gate)', [{ kind: 'int', vector: USER_INT_VECTORS.TRAP_GATE }]);
      add('#NP of a not-present gate', [{ kind: 'int', vector: USER_INT_VECTORS.NOT_PRESENT }]);
      add('INT 0x0D (#GP at CPL 3: a DPL-0 gate)', [{ kind: 'int', vector: 0x0d }]);
      add('#DF (#NP of the #PF gate while delivering #PF)', [{ kind: 'load', dst: 0, va: unmapped }], {
        ...m,
        memory: writeWord(
          m.memory,
          f.system * PAGE_SIZE + 0x800 + 14 * 8 + 4,
          readWord(m.memory, f.system * PAGE_SIZE + 0x800 + 14 * 8 + 4) & ~0x8000,
        ),
      });
    }
  const k0 = bootMachine({ cpl: 0, eflags: EFLAGS.IF });
  const push = (name: string, sequence: Sequence) => out.push({ name, sequence });
  push('IRET to ring 3, then #UD there', {
    machine: k0,
    ops: [{ kind: 'iret', cs: 0x1b, eflags: EFLAGS.IF | 2 }, { kind: 'ud2' }, ...readBack, ...readLow],
  });
  push('IRET at the same level', {
    machine: k0,
    ops: [{ kind: 'iret', cs: 0x08, eflags: 2 }, ...readBack, ...readLow],
  });
  push('IRET to ring 2 (SS 0x12 refused: #GP(0x10))', {
    machine: k0,
    ops: [{ kind: 'iret', cs: 0x4a, eflags: 2 }, ...readBack, ...readLow],
  });
  // The user stack page's PTE without R/W: the push of PUSHF and of POPF at CPL 3 fault (error code 7).
  const readOnlyStack = withPte(
    bootMachine({ cpl: 3 }),
    g.dirEntries - 1,
    g.tableEntries + 1,
    (f.userStack * PAGE_SIZE) | 5,
  );
  push('PUSHF on a read-only user stack', {
    machine: readOnlyStack,
    ops: [{ kind: 'pushf', dst: 1 }, ...readBack, ...readLow],
  });
  push('POPF on a read-only user stack', {
    machine: readOnlyStack,
    ops: [{ kind: 'popf', image: 0x8d5 }, ...readBack, ...readLow],
  });
  // ESP 8 bytes into the user stack page: an IRET frame's third push lands in the supervisor
  // kernel stack page below, #PF at +10 with the two pushes before it done.
  const low = bootMachine({ cpl: 3 });
  push('IRET frame whose third push faults', {
    machine: { ...low, cpu: { ...low.cpu, esp: user + 8 } },
    ops: [
      { kind: 'iret', cs: 0x1b, eflags: 2 },
      { kind: 'load', dst: 0, va: user + 4 },
      { kind: 'load', dst: 1, va: user },
      ...readBack,
      ...readLow,
    ],
  });
  return out;
};
