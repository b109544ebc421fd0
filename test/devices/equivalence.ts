/**
 * Equivalence with devices (DESIGN.md §4): generated scenarios of 2 to 4 guests, each with a
 * DMA engine, mixing memory, paging, device programming, DMA completions and interrupts; after
 * every operation the guest's view of the host must be a state bare metal permits (checkRefinement:
 * where the reference is deterministic, that is equality).
 */
import fc from 'fast-check';
import { checkRefinement, createHost, type Design, hostIo } from 'hyperprop';
import { expect } from 'vitest';
import { arbIoScenario, bootIoGuest } from '../../generators/io.ts';

export const SCENARIOS = 10_000;

export const checkDeviceEquivalence = (design: Design, seed: number, runs = SCENARIOS) => {
  const stats = { ops: 0, completions: 0, faults: 0, multiGuest: 0 };
  fc.assert(
    fc.property(arbIoScenario(), (s) => {
      const h0 = createHost(
        design,
        s.guests.map((g) => bootIoGuest(g, s.geometry)),
      );
      const r = checkRefinement(design, h0, s.ops);
      stats.ops += s.ops.length;
      stats.completions += s.ops.filter((o) => o.op.kind === 'dmaComplete').length;
      stats.faults += hostIo(r.host).iommu.faults.length;
      if (new Set(s.ops.map((o) => o.guest)).size > 1) stats.multiGuest++;
      return r.divergence === undefined;
    }),
    { numRuns: runs, seed },
  );
  // Not vacuous: thousands of completions, most scenarios interleave guests.
  expect(stats.completions).toBeGreaterThan(runs / 2);
  expect(stats.multiGuest).toBeGreaterThan(runs / 2);
  return stats;
};

/** The first scenario (shrunk) whose run leaves what bare metal permits, or undefined. */
export const findDivergence = (design: Design, seed: number, runs: number) => {
  const r = fc.check(
    fc.property(arbIoScenario(), (s) => {
      const h0 = createHost(
        design,
        s.guests.map((g) => bootIoGuest(g, s.geometry)),
      );
      return checkRefinement(design, h0, s.ops).divergence === undefined;
    }),
    { numRuns: runs, seed },
  );
  return r.failed
    ? (r.counterexample as [ReturnType<typeof arbIoScenario> extends fc.Arbitrary<infer S> ? S : never])[0]
    : undefined;
};
