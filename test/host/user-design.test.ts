/**
 * A design written outside model/ (test/host/fixtures/my-design.ts, importing only 'hyperprop') is
 * loaded from its path with a dynamic `import()`, as `hyperprop check` loads a user's file, and runs
 * through the same code path as the presets: `createHost`, `hostStep`, and the same refinement loop
 * (support.ts `refine`, around `checkRefinement`) that refinement.test.ts runs the presets through.
 */
import { fileURLToPath } from 'node:url';
import {
  bootMachine,
  checkRefinement,
  createHost,
  type Design,
  ept,
  guestView,
  hostStep,
  isDesign,
  linear,
  type Op,
} from 'hyperprop';
import { describe, expect, it } from 'vitest';
import { refine, sequences } from './support.ts';

const FILE = fileURLToPath(new URL('./fixtures/my-design.ts', import.meta.url));
const loaded: Record<string, unknown> = await import(FILE);
const design = loaded.default as Design;

describe(`a user's design loaded from ${FILE.slice(FILE.indexOf('test/'))}`, () => {
  it('is a design, by the same check a loader applies to any file', () => {
    expect(isDesign(loaded.default)).toBe(true);
    expect(design.name).toBe('ept-cautious');
    expect(isDesign({ ...design, handle: 'not a function' })).toBe(false);
  });

  // A CPL-0 guest loads from data page (1,1) (frame 11: host frame 1024 + 11 = 1035), which leaves a
  // real TLB entry for page 0x401, then executes IN (I/O exiting: a VM exit, emulated).
  const OPS: readonly Op[] = [
    { kind: 'load', dst: 0, va: linear(1, 1, 0) },
    { kind: 'in', port: 0x10 },
  ];
  const PAGE_11 = linear(1, 1) >>> 12;

  it('runs natively under its own VPID (17 for guest 0), and its handler flushes that tag after an exit', () => {
    const h0 = createHost(design, [bootMachine({ cpl: 0 })]);
    const h1 = hostStep(design, h0, OPS[0]!);
    expect(h1.counters.native).toBe(1);
    expect(h1.tlb.entries).toEqual([expect.objectContaining({ tag: 17, page: PAGE_11, frame: 1035 * 4096 })]);
    const h2 = hostStep(design, h1, OPS[1]!);
    expect(h2.counters.traps.in).toBe(1);
    expect(h2.tlb.entries).toEqual([]);
    // IN from an undecoded port reads all ones (README: no device decodes it), emulated by the hypervisor.
    expect(guestView(design, h2, 0).cpu.regs[0]).toBe(0xffff_ffff);
  });

  it('differs from the ept preset exactly in those pieces', () => {
    const h = OPS.reduce((x, op) => hostStep(ept, x, op), createHost(ept, [bootMachine({ cpl: 0 })]));
    expect(h.tlb.entries).toEqual([expect.objectContaining({ tag: 1, page: PAGE_11, frame: 1035 * 4096 })]);
  });

  it('passes the first refinement check on 1,000 generated sequences, as the presets do', () => {
    expect(
      checkRefinement(
        design,
        createHost(design, [bootMachine({ cpl: 0 })]),
        OPS.map((op) => ({ guest: 0, op })),
      ).divergence,
    ).toBeUndefined();
    const s = refine(design, sequences(1000, 20260415));
    expect(s.found.map((f) => ({ cpl: f.seq.cpl, ops: f.seq.ops.slice(0, f.divergence.step + 1) }))).toEqual([]);
    expect(s.sequences).toBe(1000);
    expect(s.ops).toBeGreaterThan(5000);
  });
});
