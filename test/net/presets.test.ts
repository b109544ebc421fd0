/**
 * The network presets pass every property on generated network scenarios (a CI-sized budget; the
 * 10,000-sequence runs are `npm run bench:network -- --sequences 10000`), and `hyperprop list`'s
 * source, the preset table, carries each network choice.
 */
import { describe, expect, it } from 'vitest';
import { arbNetScenario } from '../../generators/net.ts';
import { PRESETS } from '../../model/designs/presets.ts';
import { check } from '../../properties/check.ts';

const NETWORK_PRESETS = { ept: 'bridge', vmdq: 'vmdq', passthrough: 'sriov', 'xen-pv': 'xen-split' } as const;

describe('network presets', () => {
  for (const [name, net] of Object.entries(NETWORK_PRESETS)) {
    it(`${name} is on the ${net} network`, () => {
      expect(PRESETS[name]!.axes.net).toBe(net);
      expect(PRESETS[name]!.network).toBeDefined();
    });
    it(`${name} passes every property on 25 network scenarios`, () => {
      const reports = check(PRESETS[name]!, { runs: 25, seed: 7, scenarios: arbNetScenario() });
      for (const r of reports)
        expect([r.property, r.status, r.counterexample?.failure.message]).toEqual([r.property, 'passed', undefined]);
    });
  }
  it('designs without a network axis have no network piece', () => {
    for (const name of ['shadow', 'classic', 'bt', 'sriov']) expect(PRESETS[name]!.network).toBeUndefined();
  });
});
