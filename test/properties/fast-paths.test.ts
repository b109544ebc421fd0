/**
 * The checker's fast paths give the definitions' verdicts: equivalence following each guest's
 * canonical reference run (falling back to the whole frontier at the first step that leaves it)
 * against following the whole frontier at every step; isolation's second runs starting from the
 * recorded run's shared prefix against re-running them from the initial host. Checked on
 * generated scenarios, for correct presets and for designs that fail.
 */
import fc from 'fast-check';
import { arbScenario, type Design, PRESETS, runScenario } from 'hyperprop';
import { describe, expect, it } from 'vitest';
import { MUTANTS } from '../../mutants/catalog.ts';
import { eptSharedVpid } from '../../mutants/tlb.ts';
import { checkEquivalence } from '../../properties/equivalence.ts';
import { checkIsolation } from '../../properties/isolation.ts';

// Every preset, and every machine-level mutant that runs on the default scenarios.
const DESIGNS: readonly Design[] = [
  ...Object.values(PRESETS),
  ...MUTANTS.flatMap((m) => (m.target.level === 'machine' && !m.target.scenarios ? [m.target.design] : [])),
];

const SCENARIOS = fc.sample(arbScenario({ minGuests: 2 }), { numRuns: 40, seed: 8 });

describe('fast paths agree with the definitions', () => {
  it.each(DESIGNS.map((d) => [d.name, d] as const))('%s: same equivalence and isolation verdicts', (_name, design) => {
    for (const s of SCENARIOS) {
      const trace = runScenario(design, s);
      expect(checkEquivalence(trace)).toEqual(checkEquivalence(trace, true));
      expect(checkIsolation(design, s, trace)).toEqual(checkIsolation(design, s, trace, true));
    }
  });

  it('the scenarios have teeth: both verdicts occur, and runs leave the canonical reference run', () => {
    const failures = (d: Design) =>
      SCENARIOS.filter((s) => {
        const t = runScenario(d, s);
        return checkEquivalence(t) !== undefined || checkIsolation(d, s, t) !== undefined;
      }).length;
    expect(failures(PRESETS.classic!)).toBeGreaterThan(0);
    expect(failures(eptSharedVpid)).toBeGreaterThan(0);
    expect(failures(PRESETS.ept!)).toBe(0);
    // EPT's real TLB serves stale translations bare metal also permits: the fast path's fallback runs.
    const offCanonical = SCENARIOS.flatMap((s) => runScenario(PRESETS.ept!, s).steps).filter((x) => !x.canonical);
    expect(offCanonical.length).toBeGreaterThan(0);
  });
});
