/**
 * Broken designs are caught by the property you would expect, for 20 of 20 seeds, and shrunk to
 * the minimal length derived by hand (each derivation is in the test).
 */
import { check, type Design, type PropertyName } from 'hyperprop';
import { describe, expect, it } from 'vitest';
import { passthroughNoIommu } from '../../mutants/io.ts';
import { shadowNoInvlpgSync } from '../../mutants/mmu.ts';
import { eptSharedVpid as sharedVpid } from '../../mutants/tlb.ts';

const SEEDS = Array.from({ length: 20 }, (_, i) => 100 + i);

const caught = (design: Design, property: PropertyName, seed: number, runs: number, opts: object = {}) => {
  const [r] = check(design, { properties: [property], runs, seed, ...opts });
  expect(r!.status, `seed ${seed}`).toBe('failed');
  return r!.counterexample!;
};

describe('shadow paging without INVLPG sync', () => {
  // Minimal by hand, 5 operations (the new PTE value already in a register): (1) a load through
  // page P takes a hidden page fault (the shadow starts empty) and the hypervisor fills P's shadow
  // entry, emulating the load, so the real TLB is still empty; (2) a second load of P runs natively
  // and caches P's translation in the real TLB; (3) a store to the guest's page table rewrites P's
  // PTE (it traps and is emulated; a stale TLB entry is still permitted); (4) INVLPG P, which bare
  // metal obeys and this design ignores; (5) a load of P: bare metal translates afresh, the real
  // TLB answers from the stale entry. Without any one of them the stale read cannot be shown.
  it.each(SEEDS)('seed %i: equivalence fails, shrunk to the 5 operations derived by hand', (seed) => {
    // 3000 scenarios: with the history motifs in half the scenarios (HISTORY_SHARE) fewer of the 12
    // operations are plain accesses, and seed 102 first fails at scenario 2,074 (measured).
    const c = caught(shadowNoInvlpgSync, 'equivalence', seed, 3000, { maxGuests: 1, maxOps: 12 });
    expect(c.scenario.ops).toHaveLength(5);
    const kinds = c.scenario.ops.map((o) => o.op.kind);
    // (1) and (2) are any two accesses to P (a store or SGDT serves as well as a load); then the three.
    expect(kinds.slice(2)).toEqual(['store', 'invlpg', 'load']);
    const page = (o: { op: object }) => ('va' in o.op ? (o.op.va as number) >>> 12 : -1);
    const p = page(c.scenario.ops[3]!);
    expect(page(c.scenario.ops[0]!)).toBe(p);
    expect(page(c.scenario.ops[1]!)).toBe(p);
    expect(page(c.scenario.ops[4]!)).toBe(p);
  });
});

describe('VPID on, every guest with the same tag', () => {
  // Minimal by hand, 2 operations: (1) guest A touches memory, caching a translation to A's frame
  // under the shared tag; (2) guest B runs any operation: from then on B can use A's entry (no
  // flush on switch, same tag), a translation to a frame B does not own. One operation cannot:
  // the only entries then are the running guest's own.
  it.each(SEEDS)('seed %i: resource control fails, shrunk to the 2 operations derived by hand', (seed) => {
    const c = caught(sharedVpid, 'resource-control', seed, 2000, { minGuests: 2 });
    expect(c.scenario.ops).toHaveLength(2);
    expect(new Set(c.scenario.ops.map((o) => o.guest)).size).toBe(2);
    expect(c.failure.message).toContain('real TLB');
  });
});

describe('passthrough with the IOMMU bypassed', () => {
  // Minimal by hand, 3 operations, with EAX = (host address of a word outside the guest's memory
  // that is not zero, e.g. the hypervisor's EPT directory) | 3 in the initial registers: (1) OUT to
  // the ADDRESS port (which ignores bits 1:0), (2) OUT of the same EAX to the COMMAND port (which
  // reads only bits 1:0: START | TO_MEMORY), (3) the transfer completes and writes DATA's reset
  // value 0 over that word. The device's ports and the completion are all needed; nothing else is.
  it.each(SEEDS)('seed %i: resource control fails, shrunk to the 3 operations derived by hand', (seed) => {
    const c = caught(passthroughNoIommu, 'resource-control', seed, 2000, { maxGuests: 2 });
    expect(c.scenario.ops.map((o) => o.op.kind)).toEqual(['out', 'out', 'dmaComplete']);
    expect(c.failure.message).toContain('device');
  });
});
