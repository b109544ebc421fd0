/**
 * Laws of the reference semantics, over generated (machine, operation) pairs:
 * `step` is total, pure and deterministic; `permitted` contains `step`; and the TLB laws of the
 * SDM (Vol. 3A §4.10.4.1): after INVLPG of an address only the current translation of that
 * address may be used, and after a CR3 write only current translations may be used.
 */
import fc from 'fast-check';
import {
  bootMachine,
  DEFAULT_GEOMETRY,
  linear,
  type Machine,
  nonZeroWords,
  type Op,
  permitted,
  sameMachine,
  step,
  writeWord,
} from 'hyperprop';
import { describe, expect, it } from 'vitest';
import { arbMachine, arbOp, arbVa, withCpl } from '../../generators/reference.ts';

const g = DEFAULT_GEOMETRY;
const SEED = 20261125;

const deepFreeze = <T>(x: T): T => {
  if (typeof x === 'object' && x !== null && !Object.isFrozen(x)) {
    Object.freeze(x);
    for (const v of Object.values(x)) deepFreeze(v);
  }
  return x;
};

/** A canonical text of everything in a machine, for exact comparisons. */
const snapshot = (m: Machine) => JSON.stringify({ cpu: m.cpu, tlb: m.tlb, mem: [...nonZeroWords(m.memory)] });

describe('step over 10,000 generated (machine, operation) pairs', () => {
  it('is total, pure (a deep-frozen input is accepted and unchanged) and deterministic', () => {
    let retiredOrFaulted = 0;
    fc.assert(
      fc.property(arbMachine(g), arbOp(g), (m, op) => {
        const before = snapshot(m);
        deepFreeze(m);
        deepFreeze(op);
        const a = step(m, op); // throws on a mutation of frozen input, in strict mode
        const b = step(m, op);
        expect(snapshot(m)).toBe(before);
        expect(snapshot(a.machine)).toBe(snapshot(b.machine));
        expect(a.outcome).toEqual(b.outcome);
        if (a.outcome.status === 'retired' || a.outcome.status === 'faulted') retiredOrFaulted++;
      }),
      { numRuns: 10_000, seed: SEED },
    );
    // The generators exercise the semantics, not only halted or shut-down machines.
    expect(retiredOrFaulted).toBeGreaterThan(8_000);
  });

  it('lists the canonical behaviour first among the permitted ones', () => {
    fc.assert(
      fc.property(arbMachine(g), arbOp(g), (m, op) => {
        const all = permitted(m, op);
        expect(all.length).toBeGreaterThan(0);
        expect(sameMachine(all[0]!.machine, step(m, op).machine)).toBe(true);
        expect(all[0]!.outcome).toEqual(step(m, op).outcome);
      }),
      { numRuns: 2_000, seed: SEED + 1 },
    );
  });

  it('answers an operation outside the subset with invalid-op and no change', () => {
    const m = bootMachine();
    for (const op of [
      { kind: 'load', dst: 0, va: 0x1002 },
      { kind: 'movToCr0', value: 0x8000_0000 },
      { kind: 'popf', image: 0x100 },
      { kind: 'movImm', dst: 7, imm: 1 },
      { kind: 'nonsense' },
    ] as unknown as Op[]) {
      const r = step(m, op);
      expect(r.outcome.status).toBe('invalid-op');
      expect(r.outcome.problem).toBeTruthy();
      expect(r.machine).toBe(m);
    }
  });
});

/**
 * What the translation of `va` decides for a load: whether it faults, and the word it reads.
 * (After a fault, delivery reads the IDT through other pages, whose own stale entries are allowed.)
 */
const loadView = (m: Machine, va: number) => [
  ...new Set(
    permitted(m, { kind: 'load', dst: 0, va }).map((s) =>
      JSON.stringify(s.outcome.status === 'retired' ? ['reads', s.machine.cpu.regs[0]] : ['faults']),
    ),
  ),
];

describe('TLB laws (SDM Vol. 3A §4.10.4.1)', () => {
  it('after INVLPG va, only the current translation of va is permitted', () => {
    let staleBefore = 0;
    fc.assert(
      fc.property(arbMachine(g, 12), arbVa(g), (m0, va) => {
        const m = withCpl({ ...m0, cpu: { ...m0.cpu, run: 'running', pending: [] } }, 0);
        if (loadView(m, va).length > 1) staleBefore++;
        const after = step(m, { kind: 'invlpg', va }).machine;
        expect(loadView(after, va)).toHaveLength(1);
      }),
      { numRuns: 10_000, seed: SEED + 2 },
    );
    // The law is not vacuous: stale translations were permitted before the INVLPG.
    expect(staleBefore).toBeGreaterThan(50);
  });

  it('after a CR3 write, only current translations are permitted', () => {
    let staleBefore = 0;
    fc.assert(
      fc.property(arbMachine(g, 12), arbVa(g), (m0, va) => {
        const m = withCpl({ ...m0, cpu: { ...m0.cpu, run: 'running', pending: [] } }, 0);
        if (loadView(m, va).length > 1) staleBefore++;
        const after = step(m, { kind: 'movToCr3', value: m.cpu.cr3 }).machine;
        expect(loadView(after, va)).toHaveLength(1);
      }),
      { numRuns: 10_000, seed: SEED + 3 },
    );
    expect(staleBefore).toBeGreaterThan(50);
  });

  it('a stale translation stays usable until invalidated (by hand: remap a page without INVLPG)', () => {
    // Page (1,1) maps its data frame; write 1 there, remap the PTE to page (1,2)'s frame (which
    // holds 2) without INVLPG: a load may see 1 (stale TLB entry) or 2 (fresh walk), never else.
    let m = bootMachine();
    const run = (op: Op) => {
      m = step(m, op).machine;
    };
    run({ kind: 'movImm', dst: 0, imm: 1 });
    run({ kind: 'store', va: linear(1, 1), src: 0 });
    run({ kind: 'movImm', dst: 0, imm: 2 });
    run({ kind: 'store', va: linear(1, 2), src: 0 });
    run({ kind: 'load', dst: 1, va: linear(1, 2) }); // the PTE of (1,2), read below
    // PT of directory slot 1 is not mapped in the window: rewrite the PTE of (1,1) directly.
    const pte12 = [...nonZeroWords(m.memory)].find(([pa]) => pa === 2 * 4096 + 2 * 4)![1];
    m = { ...m, memory: writeWord(m.memory, 2 * 4096 + 1 * 4, pte12) };
    const seen = loadView(m, linear(1, 1)).map((s) => JSON.parse(s)[1]);
    expect(seen.sort()).toEqual([1, 2]);
    const after = step(m, { kind: 'invlpg', va: linear(1, 1) }).machine;
    expect(loadView(after, linear(1, 1)).map((s) => JSON.parse(s)[1])).toEqual([2]);
  });
});
