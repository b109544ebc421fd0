/**
 * Counterexamples the long runs found in correct presets, kept as regressions (each was a real
 * bug in the hypervisor toolkit, now fixed; the scenario is the shrunk one the checker printed).
 */
import { checkScenario, type Scenario, shadow } from 'hyperprop';
import { describe, expect, it } from 'vitest';

const plainGuest = {
  cpl: 0 as const,
  eflags: 0,
  wp: true,
  ts: false,
  regs: [0, 0, 0, 0] as const,
  pteFlags: new Array(16).fill(7),
  pdeFlags: new Array(4).fill(7),
  devices: 1,
};

describe('shadow: a guest #PF delivered by emulation invalidates the page in the real TLB', () => {
  // Found by `npm run bench:properties -- --runs 100000 --designs shadow --seed 7` after 89,277
  // scenarios. The guest reads its own page table through the self-map (0: hidden fault, 1: native,
  // caching page 0 in the real TLB), clears the PTE that maps page 0 (2: trapped, emulated), then
  // stores through page 0 (3): the real TLB entry has D = 0, so the CPU walks, faults, and the
  // hypervisor delivers the guest's #PF by emulation; bare metal's #PF drops page 0 from the TLB
  // (SDM Vol. 3A §4.10.4.1), so the load (4) must fault again. The design kept the stale real TLB
  // entry and let the load read the cleared PTE natively.
  it('the shrunk scenario now passes equivalence', () => {
    const scenario: Scenario = {
      geometry: { dirEntries: 4, tableEntries: 4, frames: 32, wordsPerPage: 16 },
      guests: [plainGuest],
      ops: [
        { guest: 0, op: { kind: 'load', dst: 0, va: 0 } },
        { guest: 0, op: { kind: 'load', dst: 0, va: 0 } },
        { guest: 0, op: { kind: 'store', va: 0, src: 1 } },
        { guest: 0, op: { kind: 'store', va: 8, src: 0 } },
        { guest: 0, op: { kind: 'load', dst: 0, va: 0 } },
      ],
    };
    expect(checkScenario(shadow, 'equivalence', scenario)).toBeUndefined();
    expect(checkScenario(shadow, 'resource-control', scenario)).toBeUndefined();
  });
});
