/**
 * The properties on the presets: every correct preset passes every property for a fixed seed
 * and budget; `classic` fails equivalence at once, shrunk to the one instruction that reveals
 * the hypervisor. (The long run, 100,000 scenarios per preset and property, is bench/properties.ts.)
 */
import { check, classic, ept, formatOp, NOT_INNOCUOUS, PROPERTY_NAMES, passthrough, shadow } from 'hyperprop';
import { describe, expect, it } from 'vitest';

const BUDGET = 150;

describe.each([shadow, ept, passthrough])('the correct preset $name', (design) => {
  it.each(PROPERTY_NAMES)(`passes %s over ${BUDGET} generated scenarios (seed 2026)`, (property) => {
    const [report] = check(design, { properties: [property], runs: BUDGET, seed: 2026 });
    expect(report!.counterexample?.rendering ?? '').toBe('');
    expect(report!.status).toBe('passed');
    expect(report!.runs).toBe(BUDGET);
  });
});

describe('classic (trap-and-emulate on x86) fails equivalence, by emergence', () => {
  // By Popek and Goldberg's theorem, and the classification: x86 has sensitive instructions that
  // do not trap at ring 1, so one such instruction in guest kernel mode is a whole counterexample.
  it.each(Array.from({ length: 20 }, (_, i) => i + 1))(
    'seed %i: found within 100 runs, shrunk to at most 2 operations',
    (seed) => {
      const [report] = check(classic, { properties: ['equivalence'], runs: 100, seed });
      expect(report!.status).toBe('failed');
      const c = report!.counterexample!;
      expect(c.runsToFailure).toBeLessThanOrEqual(100);
      expect(c.scenario.ops.length).toBeLessThanOrEqual(2);
      // The rendering names the instruction, and it is a sensitive one that ran without trapping.
      const culprit = c.scenario.ops[c.failure.step]!.op;
      expect(NOT_INNOCUOUS.has(culprit.kind)).toBe(true);
      expect(c.rendering).toContain(formatOp(culprit));
      expect(c.rendering).toContain('ran natively  <-- first divergence');
    },
  );
});
