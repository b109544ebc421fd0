import { composeDesign, passthrough, sriov } from 'hyperprop';
import { expect, it } from 'vitest';
import { checkDeviceEquivalence, findDivergence, SCENARIOS } from './equivalence.ts';

it(`passthrough: the guest's view equals what bare metal permits over ${SCENARIOS} generated scenarios with devices (2 to 4 guests)`, () => {
  const stats = checkDeviceEquivalence(passthrough, 2026);
  console.log('passthrough', JSON.stringify(stats));
  expect(stats.faults).toBeGreaterThan(SCENARIOS / 100);
});

it('sriov: the same over 2,000 scenarios', () => {
  checkDeviceEquivalence(sriov, 2027, 2000);
});

it('teeth: passthrough without an IOMMU, or without interrupt remapping (test-only designs), is found to diverge (and shrunk)', () => {
  for (const axes of [{ iommu: false }, { interruptRemapping: false }]) {
    const broken = composeDesign({
      name: 'broken passthrough (test only)',
      description: JSON.stringify(axes),
      axes: { cpu: 'hardware-assisted', mmu: 'nested', tlb: 'vpid', io: 'passthrough', ...axes },
    });
    const s = findDivergence(broken, 2026, 2000);
    expect(s).toBeDefined();
    expect(s!.ops.filter((o) => o.op.kind === 'dmaComplete').length).toBeGreaterThanOrEqual(1);
  }
});
