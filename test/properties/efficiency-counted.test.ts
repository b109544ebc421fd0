/**
 * Counted efficiency: traps against what the design's own mechanism needs (properties/efficiency.ts,
 * README "Properties"). Hand witnesses, each a one-change flaw of a correct preset that stays
 * equivalent (the guest sees bare metal's results) but traps more than its mechanism needs: a
 * shadow that faults again and again on the same write (a trap storm), a shadow that keeps a page
 * write-protected after it stopped being a page table, an EPT entry never installed after its
 * violation, and an I/O bitmap that intercepts an assigned device's ports. Before counting, the
 * property excused every hidden #PF and EPT violation and looked at innocuous operations only, so
 * all four passed. (The four are catalog mutants, mutants/efficiency.ts.) The expected steps come from the shadow-paging rules by hand: a boot PTE has
 * neither A nor D (generators/reference.ts plainGuestSpec), so the first store to a page is a
 * hidden fault the hypervisor emulates (setting A and D) before it fills a writable entry.
 */
import {
  checkScenario,
  composeDesign,
  DEFAULT_GEOMETRY,
  type Design,
  EPT_BITS,
  linear,
  type Op,
  PAGE_SIZE,
  PRESETS,
  passthrough,
  type Scenario,
  setEptRights,
  shadow,
  standardHandle,
} from 'hyperprop';
import { describe, expect, it } from 'vitest';
import { type GuestSpec, plainGuestSpec } from '../../generators/reference.ts';
import {
  eptEntryNeverInstalled,
  passthroughIoBitmapIntercepts,
  shadowFillsReadOnly,
  shadowStickyWriteProtection,
} from '../../mutants/efficiency.ts';

const g = DEFAULT_GEOMETRY;
const plain = (patch: Partial<GuestSpec> = {}): GuestSpec => ({ ...plainGuestSpec(g), ...patch });
const scenario = (guests: GuestSpec[], ...ops: [number, Op][]): Scenario => ({
  geometry: g,
  guests,
  ops: ops.map(([guest, op]) => ({ guest, op })),
});

const fillsReadOnly = shadowFillsReadOnly;
const stickyProtection = shadowStickyWriteProtection;
const lazyEptNeverFilled = eptEntryNeverInstalled;
const bitmapInterceptsDevice = passthroughIoBitmapIntercepts;

/** The same, but installing the entry at the first violation (lazy EPT population): correct. */
const lazyEpt: Design = composeDesign({
  ...lazyEptNeverFilled,
  name: 'ept-lazy',
  description: 'guest frame 11 mapped in EPT at its first violation',
  handle: (h, entry) => {
    const out = standardHandle(() => lazyEpt)(h, entry);
    if (entry.kind !== 'exit' || entry.exit.reason !== 'ept-violation') return out;
    const root = out.guests[out.current]!.eptRoot * PAGE_SIZE;
    return { ...out, memory: setEptRights(out.memory, root, entry.exit.address, EPT_BITS.R | EPT_BITS.W | EPT_BITS.X) };
  },
});

describe('counted efficiency', () => {
  // Data page (1,1): frame 11, a plain RW user page.
  const twoStores = scenario(
    [plain()],
    [0, { kind: 'store', va: linear(1, 1), src: 0 }],
    [0, { kind: 'store', va: linear(1, 1), src: 0 }],
  );

  it('a trap storm (the same write faulting again with nothing changed) fails at the second store', () => {
    expect(checkScenario(fillsReadOnly, 'efficiency', twoStores)?.step).toBe(1);
    expect(checkScenario(fillsReadOnly, 'efficiency', twoStores)?.message).toMatch(/taken again/);
    expect(checkScenario(fillsReadOnly, 'equivalence', twoStores)).toBeUndefined();
    expect(checkScenario(shadow, 'efficiency', twoStores)).toBeUndefined();
  });

  // EAX = 0x3007: page (0,2)'s PTE (word 2 of page table 0, seen at window page (0,0)) maps frame 3,
  // page table 2; EBX = 0: directory slot 2 (word 2 of the directory, at window page (0,1)) cleared,
  // so frame 3 is no longer a page table; then two stores to page (0,2).
  const retired = scenario(
    [plain({ regs: [0x3007, 0, 0, 0] })],
    [0, { kind: 'store', va: linear(0, 0, 2), src: 0 }],
    [0, { kind: 'store', va: linear(0, 1, 2), src: 1 }],
    [0, { kind: 'store', va: linear(0, 2), src: 0 }],
    [0, { kind: 'store', va: linear(0, 2), src: 0 }],
  );

  it('a page that stopped being a page table and still traps on stores fails at the second store', () => {
    expect(checkScenario(stickyProtection, 'efficiency', retired)?.step).toBe(3);
    expect(checkScenario(stickyProtection, 'equivalence', retired)).toBeUndefined();
    expect(checkScenario(shadow, 'efficiency', retired)).toBeUndefined();
  });

  // Data page (1,1) is guest frame 6 + 4 * 1 + 1 = 11 (model/boot.ts bootFrames).
  const twoLoads = scenario(
    [plain()],
    [0, { kind: 'load', dst: 0, va: linear(1, 1) }],
    [0, { kind: 'load', dst: 0, va: linear(1, 1) }],
  );

  it('an EPT violation taken again on an entry never installed fails; installing it at the first is efficient', () => {
    expect(checkScenario(lazyEptNeverFilled, 'efficiency', twoLoads)?.step).toBe(1);
    expect(checkScenario(lazyEptNeverFilled, 'equivalence', twoLoads)).toBeUndefined();
    expect(checkScenario(lazyEpt, 'efficiency', twoLoads)).toBeUndefined();
  });

  it("an exit on an assigned device's port fails at that step (1 operation)", () => {
    const out = scenario([plain({ devices: 1 })], [0, { kind: 'out', port: 0x40 }]);
    expect(checkScenario(bitmapInterceptsDevice, 'efficiency', out)?.step).toBe(0);
    expect(checkScenario(bitmapInterceptsDevice, 'equivalence', out)).toBeUndefined();
    expect(checkScenario(passthrough, 'efficiency', out)).toBeUndefined();
  });

  it("a fault whose delivery fails on bare metal is the guest's own, however often it recurs (regression)", () => {
    // Found at run 1,244 of seed 11: directory slot 0 not present, so loads of linear 0 fault on bare
    // metal; the store of 0 into the IDT's #PF gate (system page offset 0x870 = 0x800 + 14 * 8 + 0) makes
    // that #PF's delivery fail (#NP, then #DF), so bare metal reports no #PF, yet the fault is the guest's.
    const s = scenario(
      [plain({ pdeFlags: [0, 0, 7, 7] })],
      [0, { kind: 'store', va: 0x00c0_3870, src: 0 }],
      [0, { kind: 'load', dst: 0, va: 0 }],
      [0, { kind: 'load', dst: 0, va: 0 }],
    );
    expect(checkScenario(shadow, 'efficiency', s)).toBeUndefined();
  });

  it('a page whose walk leaves installed memory (read as all ones) has no memory behind it: exempt (regression)', () => {
    // Found at run 2,117 of seed 11 on bt and xen-pv: SGDT into window page (0,1) (the directory) turns
    // PDE 0 into the GDTR image, whose frame is past the guest's memory; the walk for page (0,2) then
    // reads all ones there, a present PTE whose frame has no memory either: every access is emulated.
    const s = scenario(
      [plain()],
      [0, { kind: 'sgdt', va: linear(0, 1) }],
      [0, { kind: 'load', dst: 1, va: linear(0, 2) }],
      [0, { kind: 'load', dst: 0, va: linear(0, 2) }],
    );
    for (const d of [PRESETS.bt!, PRESETS['xen-pv']!])
      expect(checkScenario(d, 'efficiency', s), d.name).toBeUndefined();
  });
});
