import { ept } from 'hyperprop';
import { expect, it } from 'vitest';
import { checkDeviceEquivalence, SCENARIOS } from './equivalence.ts';

it(`ept: the guest's view equals what bare metal permits over ${SCENARIOS} generated scenarios with devices (2 to 4 guests)`, () => {
  const stats = checkDeviceEquivalence(ept, 2026);
  console.log('ept', JSON.stringify(stats));
  expect(stats.ops).toBeGreaterThan(0);
});
