/**
 * One-value variants of a machine scenario, for the shrinker's `reshape` pass (level.ts): the
 * values a shorter counterexample may need that no drop can supply. Candidates come from the
 * scenario itself (a value one operation uses may serve another) and from the boot layout's
 * landmarks the generators also aim at (the system page, a plain data page, the top of the kernel
 * stack, the boot page directory and a page table read as one, the MSI vectors, frames to each
 * card, to everyone and to nobody, the physical addresses of the words the boot layout's system
 * page holds), and, for an address, the others that reach the same word in its guest's boot
 * machine or just before it (aliases), a plain load of it or of a candidate address in place of
 * another access, and one page for another in every operation that uses it; never from the
 * failure at hand.
 */
import type { Scenario } from '../generators/host.ts';
import { MSI_VECTORS } from '../generators/io.ts';
import { guestMac, UNKNOWN_MAC, WORLD_MACS } from '../generators/net.ts';
import { bootGuest } from '../generators/reference.ts';
import {
  BROADCAST_MAC,
  bootFrames,
  bootMachine,
  frame,
  linear,
  type Machine,
  type Op,
  PAGE_SIZE,
  peekPhysical,
  readWord,
  stackPages,
  step,
  systemPageLinear,
} from '../model/index.ts';

/**
 * The window's other linear addresses that reach the same physical word as `va` in machine `m`
 * (an alias: the page directory seen through window page (0,1), a page-table word seen through
 * (0,0), two PTEs naming one frame).
 */
const aliasesIn = (m: Machine, va: number): number[] => {
  const pa = peekPhysical(m, va);
  if (pa === undefined) return [];
  const g = m.geometry;
  const offset = pa & 0xfff;
  if (offset >= g.wordsPerPage * 4) return [];
  const out: number[] = [];
  for (let d = 0; d < g.dirEntries; d++)
    for (let t = 0; t < g.tableEntries; t++) {
      const page = linear(d, t);
      const at = peekPhysical(m, page);
      if (at !== undefined && at >>> 12 === pa >>> 12 && (page | offset) >>> 0 !== va >>> 0)
        out.push((page | offset) >>> 0);
    }
  return out;
};

/**
 * For each operation with a linear address, the addresses that reach the same word in its guest's
 * boot machine or in the guest's bare-metal state just before it: the shrinker may use one where
 * an operation that only built a mapping can then go.
 */
const addressAliases = (s: Scenario): Map<number, number[]> => {
  const out = new Map<number, number[]>();
  if (!s.ops.some(({ op }) => 'va' in op)) return out;
  const boot = s.guests.map((spec) => bootGuest(spec, s.geometry));
  const now = boot.slice();
  s.ops.forEach(({ guest, op }, i) => {
    const m = now[guest];
    if (!m) return;
    if ('va' in op) {
      const found = [...new Set([...aliasesIn(boot[guest]!, op.va), ...aliasesIn(m, op.va)])];
      if (found.length > 0) out.set(i, found);
    }
    now[guest] = step(m, op).machine;
  });
  return out;
};

/** Operand fields whose values may be exchanged; register numbers and device indexes are not values. */
const VALUE_FIELDS: ReadonlySet<string> = new Set([
  'va',
  'value',
  'imm',
  'port',
  'image',
  'vector',
  'cs',
  'eflags',
  'frame',
]);

/** Where a value belongs: addresses are interchangeable across kinds, other operands only within one kind. */
const slot = (kind: string, field: string): string => (field === 'va' ? 'va' : `${kind}.${field}`);

/** Candidate values for each operand slot and for registers, the scenario's own first. */
const candidatePools = (s: Scenario): { readonly operands: Map<string, number[]>; readonly regs: number[] } => {
  const operands = new Map<string, number[]>();
  const add = (key: string, v: number) => {
    const pool = operands.get(key) ?? [];
    if (!pool.includes(v)) pool.push(v);
    operands.set(key, pool);
  };
  const regs: number[] = [];
  const addReg = (v: number) => {
    if (!regs.includes(v)) regs.push(v);
  };
  for (const { op } of s.ops)
    for (const [field, v] of Object.entries(op))
      if (typeof v === 'number' && VALUE_FIELDS.has(field)) {
        add(slot(op.kind, field), v);
        if (field === 'imm' || field === 'frame') addReg(v);
      }
  for (const spec of s.guests) for (const v of spec.regs) addReg(v);
  const g = s.geometry;
  const f = bootFrames(g);
  // The system page (IRET, interrupt delivery and LAR read it implicitly), a plain data page, and
  // the top word of the kernel stack (where every event delivered to ring 0 pushes its frame).
  for (const va of [systemPageLinear(g), linear(Math.min(1, g.dirEntries - 1), 1, 0), stackPages(g).kernel + 0xffc])
    add('va', va);
  // CR3: the boot directory, and the slot-0 page table read as a directory.
  for (const cr3 of [f.pageDirectory * PAGE_SIZE, f.pageTable(0) * PAGE_SIZE]) add('movToCr3.value', cr3);
  for (const v of [0, ...MSI_VECTORS]) addReg(v);
  // Physical addresses of words the boot layout already holds (the GDT's, on the system page): a
  // register pointing at one can stand for a store that put such a word in memory first.
  const words = bootMachine({ geometry: g }).memory;
  for (let w = 0; w < g.wordsPerPage; w++) {
    const pa = f.system * PAGE_SIZE + w * 4;
    if (readWord(words, pa) !== 0) addReg(pa);
  }
  // Frames from the world to each guest's card, to everyone, and to nobody known.
  for (const dst of [BROADCAST_MAC, ...s.guests.map((_, i) => guestMac(i)), UNKNOWN_MAC])
    add('frameIn.frame', frame(WORLD_MACS[0]!, dst));
  return { operands, regs };
};

/**
 * Every scenario that differs from `s` in one value: an operand of one operation, a guest's
 * initial register, or the ring a guest boots in (0 or 3: an IRET or a fault that only changes
 * rings can then go).
 */
export function* scenarioVariants(s: Scenario): Generator<Scenario> {
  const { operands, regs } = candidatePools(s);
  // An address by another that reaches the same word, first: the cheapest way past a mapping built by hand.
  const aliases = addressAliases(s);
  for (let i = s.ops.length - 1; i >= 0; i--) {
    const { guest, op } = s.ops[i]!;
    if (!('va' in op)) continue;
    for (const va of aliases.get(i) ?? [])
      yield { ...s, ops: s.ops.map((o, j) => (j === i ? { guest, op: { ...op, va } as Op } : o)) };
    // The simplest access instead: a load, of the same address or of another the scenario or the
    // boot layout offers (a store or SGDT may have done more than the failure needs).
    if (op.kind !== 'load')
      for (const va of [op.va, ...(operands.get('va') ?? []).filter((x) => x !== op.va)])
        yield { ...s, ops: s.ops.map((o, j) => (j === i ? { guest, op: { kind: 'load', dst: 0, va } } : o)) };
  }
  // One page for another in every operation that uses it (offsets kept): two accesses to one page
  // stay on one page, which a single value's change cannot do.
  const pages = [...new Set(s.ops.flatMap(({ op }) => ('va' in op ? [op.va >>> 12] : [])))];
  const pagesOfPool = [...new Set((operands.get('va') ?? []).map((va) => va >>> 12))];
  for (const from of pages) {
    if (s.ops.filter(({ op }) => 'va' in op && op.va >>> 12 === from).length < 2) continue;
    for (const to of pagesOfPool) {
      if (to === from) continue;
      yield {
        ...s,
        ops: s.ops.map((o) =>
          'va' in o.op && o.op.va >>> 12 === from
            ? { guest: o.guest, op: { ...o.op, va: ((to << 12) | (o.op.va & 0xfff)) >>> 0 } as Op }
            : o,
        ),
      };
    }
  }
  for (let i = s.ops.length - 1; i >= 0; i--) {
    const { guest, op } = s.ops[i]!;
    for (const [field, v] of Object.entries(op)) {
      if (typeof v !== 'number' || !VALUE_FIELDS.has(field)) continue;
      for (const c of operands.get(slot(op.kind, field)) ?? []) {
        if (c === v) continue;
        const changed = { ...op, [field]: c } as Op;
        yield { ...s, ops: s.ops.map((o, j) => (j === i ? { guest, op: changed } : o)) };
      }
    }
  }
  for (let g = 0; g < s.guests.length; g++) {
    const spec = s.guests[g]!;
    const withSpec = (changed: typeof spec): Scenario => ({
      ...s,
      guests: s.guests.map((x, j) => (j === g ? changed : x)),
    });
    yield withSpec({ ...spec, cpl: spec.cpl === 3 ? 0 : 3 });
    for (let r = 0; r < 4; r++)
      for (const c of regs) {
        if (c === spec.regs[r]) continue;
        yield withSpec({
          ...spec,
          regs: spec.regs.map((v, k) => (k === r ? c : v)) as [number, number, number, number],
        });
      }
  }
}
