/**
 * Every network mutant is found by the property that must catch it, within a CI-sized budget, and
 * shrunk to at most 4 operations, no shorter than its hand-derived minimum (a shorter one would
 * prove the derivation wrong); and the correct preset it was made from passes that counterexample,
 * so what was found is the mutation's doing.
 */
import { describe, expect, it } from 'vitest';
import { arbNetScenario } from '../../generators/net.ts';
import { PRESETS } from '../../model/designs/presets.ts';
import { MUTANTS } from '../../mutants/catalog.ts';
import { NETWORK_MUTANTS } from '../../mutants/network.ts';
import { check, checkScenario } from '../../properties/check.ts';
import type { PropertyName } from '../../properties/property.ts';

/** Scenarios per mutant: a few times the runs the slowest needed at seed 1 (bench/network.ts measures them). */
const BUDGET = 400;

describe('network mutants', () => {
  it('are in the catalog, each with a reference, a catching property and a derivation', () => {
    for (const m of NETWORK_MUTANTS) {
      expect(MUTANTS).toContain(m);
      expect(m.area).toBe('network');
      expect(m.target.level).toBe('machine');
      expect(m.reference.length).toBeGreaterThan(20);
      expect(m.minimalWhy.length).toBeGreaterThan(40);
      expect(PRESETS[m.base]).toBeDefined();
    }
    expect(NETWORK_MUTANTS.map((m) => m.name)).toHaveLength(7);
  });

  for (const m of NETWORK_MUTANTS)
    it(`${m.name} is found by ${m.property} and shrunk to ${m.minimalLength}..4 operations`, () => {
      const target = m.target as Extract<typeof m.target, { level: 'machine' }>;
      const property = m.property as PropertyName;
      const [r] = check(target.design, {
        properties: [property],
        runs: BUDGET,
        seed: 1,
        scenarios: target.scenarios?.() ?? arbNetScenario(),
      });
      expect(r!.status).toBe('failed');
      const c = r!.counterexample!;
      expect(c.scenario.ops.length).toBeLessThanOrEqual(4);
      expect(c.scenario.ops.length).toBeGreaterThanOrEqual(m.minimalLength);
      expect(checkScenario(PRESETS[m.base]!, property, c.scenario)).toBeUndefined();
    });
});
