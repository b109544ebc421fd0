/**
 * Guests of up to 65,536 frames (the throughput bench's frame scaling): memory regions of two
 * subtrees, second-level tables past the pools, and every property over generated scenarios.
 *
 * Layout derived by hand (model/host/layout.ts): a 65,536-frame guest's region is 65,536 frames
 * aligned, so guest g's memory is host frames 65,536 (g + 1) onward; its EPT needs 64 tables (one
 * per 1024 frames), which go in its table block at frame 576 + 128 g (after the nine 64-frame
 * blocks of the hypervisor and its pools), its IOMMU domain's 64 tables after them.
 */
import {
  check,
  createHost,
  DEFAULT_GEOMETRY,
  ept,
  eptLookup,
  extractRegion,
  frameOwner,
  type Geometry,
  memoryFrom,
  passthrough,
  readWord,
  replaceRegion,
  sameRegionNode,
  writeWord,
} from 'hyperprop';
import { describe, expect, it } from 'vitest';
import { bootGuest, plainGuestSpec } from '../../generators/reference.ts';

const BIG: Geometry = { ...DEFAULT_GEOMETRY, frames: 65536 };

describe('memory regions of 65,536 frames (two level-1 subtrees)', () => {
  it('extract, replace and compare a region as a whole', () => {
    // Words at the region's first frame, its last, and just past it.
    const base = 65536;
    const mem = memoryFrom([
      [base * 4096, 1],
      [(base + 65535) * 4096 + 8, 2],
      [(base + 65536) * 4096, 3],
    ]);
    const r = extractRegion(mem, base, 65536);
    expect(readWord(r, 0)).toBe(1);
    expect(readWord(r, 65535 * 4096 + 8)).toBe(2);
    expect(readWord(r, 65536 * 4096)).toBe(0);
    const moved = replaceRegion(mem, 3 * 65536, 65536, r);
    expect(readWord(moved, 3 * 65536 * 4096)).toBe(1);
    expect(readWord(moved, (3 * 65536 + 65535) * 4096 + 8)).toBe(2);
    expect(sameRegionNode(mem, moved, base, 65536)).toBe(true);
    expect(sameRegionNode(mem, writeWord(mem, (base + 40000) * 4096, 9), base, 65536)).toBe(false);
    expect(sameRegionNode(mem, writeWord(mem, (base + 70000) * 4096, 9), base, 65536)).toBe(true);
  });
});

describe('hosts with guests of 65,536 frames', () => {
  const guests = [0, 3].map((cpl) => bootGuest(plainGuestSpec(BIG, cpl as 0 | 3), BIG));

  it('EPT and the IOMMU map every guest frame; their tables are hypervisor frames', () => {
    const h = createHost(passthrough, guests);
    for (const g of [0, 1])
      for (const f of [0, 1023, 1024, 65535])
        expect(eptLookup(h.memory, h.guests[g]!.eptRoot * 4096, f * 4096)).toBe((65536 * (g + 1) + f) * 4096);
    expect(frameOwner(h.config, 576)).toEqual({ kind: 'hypervisor' });
    expect(frameOwner(h.config, 576 + 2 * 128 - 1)).toEqual({ kind: 'hypervisor' });
    expect(frameOwner(h.config, 576 + 2 * 128)).toEqual({ kind: 'host' });
    expect(frameOwner(h.config, 2 * 65536 + 65535)).toEqual({ kind: 'guest', guest: 1 });
  });

  it.each([ept, passthrough].map((d) => [d.name, d] as const))('%s passes every property', (_n, design) => {
    for (const r of check(design, { geometry: BIG, runs: 25, seed: 4, maxGuests: 2 }))
      expect(r.status, r.counterexample?.failure.message).toBe('passed');
  });
});
