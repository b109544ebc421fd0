/**
 * Generation aimed at histories (generators/host.ts): the history motifs build what they say, in
 * the boot layout's terms (model/boot.ts: frame 0 the page directory, seen at window page (0,1);
 * frame 6 + 4d + t the data page (d,t); the DMA engine's registers at ports 0x40..0x43, COMMAND
 * bit 0 START, bit 1 TO_MEMORY, model/devices.ts); swarm scenarios leave features out; and the
 * shrinker's alias move proposes another address reaching the same word.
 */
import fc from 'fast-check';
import { arbScenario, arbTaggedMotif, DEFAULT_GEOMETRY, linear, type Op, type OpKind, type Scenario } from 'hyperprop';
import { describe, expect, it } from 'vitest';
import { plainGuestSpec } from '../../generators/reference.ts';
import { scenarioVariants } from '../../properties/variants.ts';

const g = DEFAULT_GEOMETRY;
const sample = (name: string, n = 30) =>
  fc
    .sample(arbTaggedMotif(g), { numRuns: 2000, seed: 4 })
    .filter((m) => m.name === name)
    .slice(0, n)
    .map((m) => m.ops);

describe('history motifs', () => {
  it('retype: a page stored through becomes a page table, then is written through its old mapping', () => {
    const runs = sample('retype');
    expect(runs.length).toBeGreaterThan(5);
    for (const ops of runs) {
      const [use, pdeValue, pdeStore, , oldMapping, through] = ops as [Op, Op, Op, Op, Op, Op];
      expect(use.kind).toBe('store');
      expect(pdeStore.kind).toBe('store');
      // The PDE store goes through window page (0,1): the directory's word for a slot 1..3.
      const pdeVa = (pdeStore as Extract<Op, { kind: 'store' }>).va;
      expect(pdeVa >>> 12).toBe(1);
      const slot = (pdeVa & 0xfff) / 4;
      // The value points the slot at the frame of the page first stored through.
      const page = (use as Extract<Op, { kind: 'store' }>).va;
      const [d, t] = [page >>> 22, (page >>> 12) & 0x3ff];
      expect((pdeValue as Extract<Op, { kind: 'movImm' }>).imm >>> 12).toBe(6 + 4 * d + t);
      expect((oldMapping as Extract<Op, { kind: 'store' }>).va).toBe(page);
      expect((through as Extract<Op, { kind: 'load' | 'store' }>).va >>> 22).toBe(slot);
    }
  });

  it('retire: a page table mapped as a page and written, freed, then written as data twice', () => {
    const runs = sample('retire');
    expect(runs.length).toBeGreaterThan(5);
    for (const ops of runs) {
      const [value, mapIt, , , free, once, twice] = ops as Extract<Op, { kind: 'movImm' | 'store' }>[];
      // Word t >= 2 of page table 0 (window page (0,0)) maps window page (0,t) onto a slot's table, frame 1 + slot.
      const t = ((mapIt as Extract<Op, { kind: 'store' }>).va & 0xfff) / 4;
      expect(t).toBeGreaterThanOrEqual(2);
      const slot = ((free as Extract<Op, { kind: 'store' }>).va & 0xfff) / 4;
      expect((free as Extract<Op, { kind: 'store' }>).va >>> 12).toBe(1);
      expect((value as Extract<Op, { kind: 'movImm' }>).imm >>> 12).toBe(1 + slot);
      expect((once as Extract<Op, { kind: 'store' }>).va >>> 12).toBe(t);
      expect((twice as Extract<Op, { kind: 'store' }>).va).toBe((once as Extract<Op, { kind: 'store' }>).va);
    }
  });

  it('doubleFetch: START, then ADDRESS or DATA rewritten, then the completion', () => {
    for (const ops of sample('doubleFetch')) {
      const outs = ops.filter((o) => o.kind === 'out').map((o) => (o as Extract<Op, { kind: 'out' }>).port);
      const start = outs.indexOf(0x42);
      expect(start).toBeGreaterThan(0);
      expect(outs.slice(start + 1).some((p) => p === 0x40 || p === 0x41)).toBe(true);
      expect(ops.at(-1)).toEqual({ kind: 'dmaComplete', device: 0 });
    }
  });

  it('inFlight: START, a new ADDRESS and START again while busy, then the completion', () => {
    for (const ops of sample('inFlight')) {
      const outs = ops.filter((o) => o.kind === 'out').map((o) => (o as Extract<Op, { kind: 'out' }>).port);
      expect(outs.filter((p) => p === 0x42)).toHaveLength(2);
      expect(outs.lastIndexOf(0x40)).toBeGreaterThan(outs.indexOf(0x42));
      expect(ops.some((o) => o.kind === 'dmaComplete')).toBe(true);
    }
  });
});

describe('swarm testing', () => {
  const kindsOf = (s: Scenario) => new Set(s.ops.map((o) => o.op.kind));
  it('a swarm scenario leaves operation kinds out and is as long as any other', () => {
    const swarm = fc.sample(arbScenario({ swarm: 1, maxOps: 200 }), { numRuns: 400, seed: 3 });
    const none = fc.sample(arbScenario({ swarm: 0, maxOps: 200 }), { numRuns: 400, seed: 3 });
    const without = (xs: Scenario[], kind: OpKind) => xs.filter((s) => !kindsOf(s).has(kind)).length / xs.length;
    // A swarm keeps each kind with probability 1/2, so at least half of the swarm scenarios draw no
    // plain store (a motif may still bring one): stores, among the most frequent kinds, are missing
    // far more often than without swarm.
    for (const kind of ['store', 'load'] as const) {
      expect(without(swarm, kind)).toBeGreaterThan(0.3);
      expect(without(swarm, kind)).toBeGreaterThan(1.5 * without(none, kind));
    }
    expect(swarm.some((s) => s.ops.length > 10 && !kindsOf(s).has('store'))).toBe(true);
    // Every run is drawn from the kept features (not drawn and then filtered), so a swarm scenario
    // is as long as the others: mean lengths within 10%.
    const length = (xs: Scenario[]) => xs.reduce((a, s) => a + s.ops.length, 0) / xs.length;
    expect(Math.abs(length(swarm) - length(none))).toBeLessThan(0.1 * length(none));
  });
});

describe('shrinking by aliases', () => {
  it('proposes, for a store through a page made to map the directory, the window address of the same word', () => {
    // EAX = 0x0000_0007: page (0,2)'s PTE (word 2 of page table 0, at linear 0x8) now maps frame 0, the
    // directory; the store at linear (0,2) word 3 then writes PDE 3, which window page (0,1) reaches at word 3.
    const s: Scenario = {
      geometry: g,
      guests: [{ ...plainGuestSpec(g), regs: [7, 0, 0, 0] }],
      ops: [
        { guest: 0, op: { kind: 'store', va: linear(0, 0, 2), src: 0 } },
        { guest: 0, op: { kind: 'store', va: linear(0, 2, 3), src: 1 } },
      ],
    };
    const proposed = [...scenarioVariants(s)].map((v) => v.ops[1]!.op).filter((op) => op.kind === 'store');
    expect(proposed).toContainEqual({ kind: 'store', va: linear(0, 1, 3), src: 1 });
  });
});
