/**
 * Popek and Goldberg's classification of the ISA, computed from the semantics alone: every
 * instruction kind is run over generated machines at CPL 0 and at CPL 3 and under variations
 * of the control state, and classified by what it did. Nothing here names an instruction.
 *
 * Definitions (Popek & Goldberg 1974, as applied to x86 by Robin & Irvine 2000):
 * - trap: the instruction raised an exception (outcome `faulted`);
 * - privileged: at CPL 3 it traps in every sampled machine, and at CPL 0 it completes in some.
 *   User mode is CPL 3 with IOPL 0: IOPL is itself a resource the hypervisor owns, so it never
 *   hands a guest IOPL 3 (and POPF/IRET at CPL 3 cannot raise IOPL);
 * - control-sensitive: some trap-free execution changes the control state: CPL, CS, EFLAGS.IF or
 *   IOPL, CR0, CR2, CR3, GDTR, IDTR, LDTR, TR, the run state (HLT), pending interrupts, or drops
 *   entries from the TLB;
 * - behaviour-sensitive: some pair of trap-free executions on machines that differ only in control
 *   state gives different results (registers, status flags, the words of its memory operand, or the
 *   events delivered). The variations: CPL 0 vs 3; IF; IOPL; CR0.TS/MP/EM/NE/AM; the descriptor
 *   tables moved to another linear address (the same frame mapped twice, so the tables' contents
 *   are the same); other LDTR/TR selector values. (Moving the page directory is not among them:
 *   this machine's tables are visible to it through its own mappings, so a moved directory is
 *   seen in the PTE that maps it and in where accessed flags land: guest-physical addresses are
 *   part of what a guest sees, which is why hypervisors virtualize them rather than hide them.)
 * - innocuous: neither privileged nor sensitive.
 */
import fc from 'fast-check';
import { arbMachine, arbOpOfKind, withCpl } from '../generators/reference.ts';
import {
  bootFrames,
  CR0,
  DEFAULT_GEOMETRY,
  EFLAGS,
  type Geometry,
  INSTRUCTION_KINDS,
  linear,
  type Machine,
  type Op,
  type OpKind,
  type Outcome,
  PAGE_SIZE,
  PTE,
  peekWord,
  readWord,
  STATUS_FLAGS,
  step,
  systemPageLinear,
  writeWord,
} from '../model/index.ts';

/** The class of an instruction kind. */
export type PgClass = 'privileged' | 'sensitive-unprivileged' | 'innocuous';

/** One row of the classification table. */
export interface Classification {
  readonly kind: OpKind;
  readonly samples: number;
  /** Share of sampled executions that trapped, at CPL 0 and at CPL 3 (IOPL 0). */
  readonly trapsAtCpl0: number;
  readonly trapsAtCpl3: number;
  readonly privileged: boolean;
  readonly controlSensitive: boolean;
  readonly behaviourSensitive: boolean;
  readonly class: PgClass;
  /** A witness for each sensitivity found (which state changed, which variation showed it). */
  readonly witnesses: readonly string[];
}

/** Options of `classify`: the geometry and how many (machine, operation) pairs are sampled per kind. */
export interface ClassifyOptions {
  readonly geometry?: Geometry;
  /** Sampled (machine, operation) pairs per kind. */
  readonly samples?: number;
  readonly seed?: number;
}

const trapped = (o: Outcome) => o.status === 'faulted' || o.status === 'shutdown';
const completed = (o: Outcome) => o.status === 'retired';

const peek = peekWord;

/** What an execution shows that is not control state. */
const observation = (before: Op, m: Machine, o: Outcome): string => {
  // The memory an instruction writes: its store operand (SGDT/SIDT store 6 bytes).
  const mem =
    before.kind === 'store'
      ? [peek(m, before.va)]
      : before.kind === 'sgdt' || before.kind === 'sidt'
        ? [peek(m, before.va), (peek(m, (before.va + 4) >>> 0) ?? 0) & 0xffff]
        : [];
  return JSON.stringify({
    regs: m.cpu.regs,
    flags: m.cpu.eflags & (STATUS_FLAGS | EFLAGS.DF | EFLAGS.AC | EFLAGS.ID),
    mem,
    events: o.events,
  });
};

/** Which control state changed between two machines, if any. */
const controlChange = (a: Machine, b: Machine): string | undefined => {
  const ca = a.cpu;
  const cb = b.cpu;
  if (ca.cpl !== cb.cpl) return 'CPL';
  if (ca.cs !== cb.cs) return 'CS';
  if ((ca.eflags ^ cb.eflags) & EFLAGS.IF) return 'EFLAGS.IF';
  if ((ca.eflags ^ cb.eflags) & EFLAGS.IOPL) return 'EFLAGS.IOPL';
  if (ca.cr0 !== cb.cr0) return 'CR0';
  if (ca.cr2 !== cb.cr2) return 'CR2';
  if (ca.cr3 !== cb.cr3) return 'CR3';
  const same = (x: object, y: object) => JSON.stringify(x) === JSON.stringify(y);
  if (!same(ca.gdtr, cb.gdtr)) return 'GDTR';
  if (!same(ca.idtr, cb.idtr)) return 'IDTR';
  if (!same(ca.ldtr, cb.ldtr)) return 'LDTR';
  if (!same(ca.tr, cb.tr)) return 'TR';
  if (ca.run !== cb.run) return 'run state';
  if (!same(ca.pending, cb.pending)) return 'pending interrupts';
  const key = (t: { page: number; frame: number; rights: number; dirty: boolean }) =>
    `${t.page}:${t.frame}:${t.rights}:${t.dirty}`;
  const after = new Set(b.tlb.translations.map(key));
  if (a.tlb.translations.some((t) => !after.has(key(t)))) return 'TLB';
  return undefined;
};

/** Machines that differ from `m` only in control state, each with a name. */
const variations = (m: Machine, g: Geometry): readonly (readonly [string, Machine])[] => {
  const f = bootFrames(g);
  const cpu = m.cpu;
  // The system frame mapped a second time in directory slot 0's table, at an index past both the
  // window and the words generated operations read (the table is itself mapped in the window):
  // descriptor tables there hold the same bytes at another linear address.
  const slot = Math.max(g.tableEntries, g.wordsPerPage);
  const alias = linear(0, slot);
  const sysPte = slot < 1024 ? peekPte(m, systemPageLinear(g)) : undefined;
  const aliased = sysPte === undefined ? undefined : writeWord(m.memory, f.pageTable(0) * PAGE_SIZE + slot * 4, sysPte);
  const moved = (base: number) => (alias + (base & 0xfff)) >>> 0;
  const out: [string, Machine][] = [
    ['EFLAGS.IF', { ...m, cpu: { ...cpu, eflags: (cpu.eflags ^ EFLAGS.IF) >>> 0 } }],
    ['EFLAGS.IOPL', { ...m, cpu: { ...cpu, eflags: (cpu.eflags ^ EFLAGS.IOPL) >>> 0 } }],
    [
      'CR0.TS/MP/EM/NE/AM',
      { ...m, cpu: { ...cpu, cr0: (cpu.cr0 ^ (CR0.TS | CR0.MP | CR0.EM | CR0.NE | CR0.AM)) >>> 0 } },
    ],
    ['LDTR selector', { ...m, cpu: { ...cpu, ldtr: { ...cpu.ldtr, selector: cpu.ldtr.selector ^ 0x40 } } }],
    ['TR selector', { ...m, cpu: { ...cpu, tr: { ...cpu.tr, selector: cpu.tr.selector ^ 0x40 } } }],
  ];
  if (aliased) {
    out.push([
      'GDTR base',
      { ...m, memory: aliased, cpu: { ...cpu, gdtr: { ...cpu.gdtr, base: moved(cpu.gdtr.base) } } },
    ]);
    out.push([
      'IDTR base',
      { ...m, memory: aliased, cpu: { ...cpu, idtr: { ...cpu.idtr, base: moved(cpu.idtr.base) } } },
    ]);
  }
  return out;
};

const peekPte = (m: Machine, va: number): number | undefined => {
  const pde = readWord(m.memory, ((m.cpu.cr3 & PTE.FRAME) + (va >>> 22) * 4) >>> 0);
  if (!(pde & PTE.P)) return undefined;
  return readWord(m.memory, ((pde & PTE.FRAME) + ((va >>> 12) & 0x3ff) * 4) >>> 0);
};

/**
 * Classify every instruction kind (or those given) by running the semantics.
 * Deterministic for a given seed and sample count.
 */
export const classify = (
  options: ClassifyOptions = {},
  kinds: readonly OpKind[] = INSTRUCTION_KINDS,
): Classification[] => {
  const g = options.geometry ?? DEFAULT_GEOMETRY;
  const samples = options.samples ?? 300;
  const seed = options.seed ?? 1974;
  return kinds.map((kind, i) => {
    const pairs = fc.sample(fc.tuple(arbMachine(g, 6), arbOpOfKind(g, kind)), { seed: seed + i, numRuns: samples });
    let traps0 = 0;
    let traps3 = 0;
    const witnesses = new Set<string>();
    let control = false;
    let behaviour = false;
    for (const [reached, op] of pairs) {
      // Judge the instruction alone: running, no interrupt waiting to be delivered at its boundary.
      // User mode has IOPL 0; so does the CPL-0 twin, so the two differ in CPL and CS alone.
      const cpu = { ...reached.cpu, run: 'running' as const, stiShadow: false, pending: [] };
      const m = { ...reached, cpu: { ...cpu, eflags: (cpu.eflags & ~EFLAGS.IOPL) >>> 0 } };
      const m0 = withCpl(m, 0);
      const m3 = withCpl(m, 3);
      const r0 = step(m0, op);
      const r3 = step(m3, op);
      if (trapped(r0.outcome)) traps0++;
      if (trapped(r3.outcome)) traps3++;
      for (const [before, r] of [
        [m0, r0],
        [m3, r3],
      ] as const) {
        if (!completed(r.outcome)) continue;
        const changed = controlChange(before, r.machine);
        if (changed) {
          control = true;
          witnesses.add(`changes ${changed}`);
        }
      }
      if (completed(r0.outcome) && completed(r3.outcome)) {
        if (observation(op, r0.machine, r0.outcome) !== observation(op, r3.machine, r3.outcome)) {
          behaviour = true;
          witnesses.add('result depends on CPL');
        }
      }
      for (const base of [m0, m3]) {
        const r = base === m0 ? r0 : r3;
        if (!completed(r.outcome)) continue;
        for (const [name, v] of variations(base, g)) {
          const rv = step(v, op);
          if (
            completed(rv.outcome) &&
            observation(op, r.machine, r.outcome) !== observation(op, rv.machine, rv.outcome)
          ) {
            behaviour = true;
            witnesses.add(`result depends on ${name}`);
          }
        }
      }
    }
    const privileged = traps3 === pairs.length && traps0 < pairs.length;
    const sensitive = control || behaviour;
    return {
      kind,
      samples: pairs.length,
      trapsAtCpl0: traps0 / pairs.length,
      trapsAtCpl3: traps3 / pairs.length,
      privileged,
      controlSensitive: control,
      behaviourSensitive: behaviour,
      class: privileged ? 'privileged' : sensitive ? 'sensitive-unprivileged' : 'innocuous',
      witnesses: [...witnesses].sort(),
    } satisfies Classification;
  });
};

/** The kinds that are sensitive but not privileged: what breaks trap-and-emulate (Popek–Goldberg Theorem 1). */
export const sensitiveUnprivileged = (table: readonly Classification[]): OpKind[] =>
  table.filter((r) => r.class === 'sensitive-unprivileged').map((r) => r.kind);

/** The table as aligned text, one row per kind. */
export const renderClassification = (table: readonly Classification[]): string => {
  const pct = (x: number) => `${Math.round(x * 100)}%`.padStart(5);
  const yn = (b: boolean) => (b ? 'yes' : 'no').padEnd(9);
  const lines = [
    `${'instruction'.padEnd(11)} ${'trap@0'.padStart(6)} ${'trap@3'.padStart(6)}  ${'priv'.padEnd(9)}${'control'.padEnd(9)}${'behaviour'.padEnd(10)}class`,
  ];
  for (const r of table)
    lines.push(
      `${r.kind.padEnd(11)} ${pct(r.trapsAtCpl0).padStart(6)} ${pct(r.trapsAtCpl3).padStart(6)}  ${yn(r.privileged)}${yn(r.controlSensitive)}${yn(r.behaviourSensitive).padEnd(10)}${r.class}`,
    );
  return lines.join('\n');
};
