/**
 * The mutant catalog. For every machine-level mutant, a witness written by hand from its
 * `minimalWhy` derivation (not from the checker's output): the mutant fails its property on it, the
 * correct base preset passes it, and it is exactly as long as the derived minimum. Then the
 * checker itself finds each mutant and shrinks it to that length (one seed here; `hyperprop
 * mutants --seeds 20` and bench/mutants.ts run twenty).
 */
import {
  checkScenario,
  DEFAULT_GEOMETRY,
  linear,
  type Op,
  PRESETS,
  type PropertyName,
  type Scenario,
  SEL,
} from 'hyperprop';
import { describe, expect, it } from 'vitest';
import { type GuestSpec, plainGuestSpec } from '../../generators/reference.ts';
import { MUTANTS } from '../../mutants/catalog.ts';
import { runMutant } from '../../mutants/run.ts';

const g = DEFAULT_GEOMETRY;
const plain = (patch: Partial<GuestSpec> = {}): GuestSpec => ({ ...plainGuestSpec(g), ...patch });
const withEax = (eax: number, patch: Partial<GuestSpec> = {}): GuestSpec => plain({ regs: [eax, 0, 0, 0], ...patch });
const one = (guests: GuestSpec[], ...ops: [number, Op][]): Scenario => ({
  geometry: g,
  guests,
  ops: ops.map(([guest, op]) => ({ guest, op })),
});

// The standard boot (model/boot.ts): frame 0 is the page directory, 1..4 the page tables, 5 the
// system page, 6.. the window's data frames; window page (0,0) maps page table 0, (0,1) the
// directory, (3,3) the system page (supervisor); a guest's memory is 32 frames (0x20000 bytes).
const SYSTEM_PAGE_VA = linear(3, 3);
const P = linear(0, 2); // a data page whose PTE is word 2 of page table 0, visible at linear 0x8
const GUEST_BYTES = g.frames * 4096;
const PORT = { ADDRESS: 0x40, COMMAND: 0x42, VECTOR: 0x43 } as const;
const dma = (device = 0): Op => ({ kind: 'dmaComplete', device });
const dev = (patch: Partial<GuestSpec> = {}) => plain({ devices: 1, ...patch });
const nic = (index: number, patch: Partial<GuestSpec> = {}) => plain({ nic: 0x10 + index, ...patch });
const NIC = { MAC: 0x50, CONTROL: 0x51, TX: 0x52 } as const;
const wire = (src: number, dst: number): number => ((src << 24) | (dst << 16)) >>> 0;

/** Hand witnesses, one per mutant, each following the mutant's own `minimalWhy`. */
const WITNESSES: Record<string, Scenario> = {
  // VT-d §5.1.2.2 remappable format: 0xFEE00000 | handle[14:0] << 5 | 1 << 4 (SHV = 0), handle
  // 0x131 = guest 1's block (256) + vector 0x31; bits 1:0 = 3 double as START | TO_MEMORY.
  'passthrough-irte-no-source-validation': one(
    [dev({ regs: [0xfee0_0000 + (0x131 << 5) + 0x10 + 3, 0, 0, 0] }), dev()],
    [0, { kind: 'out', port: PORT.ADDRESS }],
    [0, { kind: 'out', port: PORT.COMMAND }],
    [0, dma()],
    [1, { kind: 'load', dst: 1, va: P }],
  ),
  // SDM §11.11: 0xFEE00020 is the interrupt range with address bit 4 = 0 (compatibility format);
  // the same word as DATA carries vector 0x23; bits 1:0 = 3 are START | TO_MEMORY.
  'passthrough-compatibility-format-enabled': one(
    [dev({ regs: [0xfee0_0023, 0, 0, 0] })],
    [0, { kind: 'out', port: 0x41 }],
    [0, { kind: 'out', port: PORT.ADDRESS }],
    [0, { kind: 'out', port: PORT.COMMAND }],
    [0, dma()],
  ),
  'shadow-cr3-store-not-exiting': one([plain()], [0, { kind: 'movFromCr', dst: 0, cr: 3 }]),
  // CR0 = PE | ET | PG, WP cleared (SDM Vol. 3A §2.5).
  'shadow-cr0-wp-guest-owned': one([plain()], [0, { kind: 'movToCr0', value: 0x8000_0011 }]),
  'xen-pv-hypercall-trusts-pointer': one([plain()], [0, { kind: 'sgdt', va: linear(1, 1) }]),
  // IRET to ring 3 reads the GDT on the supervisor-only system page; then ring 3 reads that page.
  // The IRET to ring 3 pushes its frame on the supervisor-only kernel stack page (3,4): a hidden
  // fault, whose fill the mutant makes user-accessible; then a load of the frame's top word at CPL 3.
  'shadow-ignores-us': one(
    [plain()],
    [0, { kind: 'iret', cs: SEL.USER_CODE, eflags: 0 }],
    [0, { kind: 'load', dst: 0, va: linear(3, 4, 1023) }],
  ),
  // At CPL 3 a store to the supervisor-only system page faults (its #PF delivery sets the page's
  // accessed bits); then at CPL 0, SGDT writes the page: bare metal sets the PTE's D bit.
  'shadow-ignores-rw': one(
    [plain({ cpl: 3 })],
    [0, { kind: 'store', va: SYSTEM_PAGE_VA, src: 0 }],
    [0, { kind: 'sgdt', va: SYSTEM_PAGE_VA }],
  ),
  // P's PTE rewritten to map frame 0 (the directory: word 0 is not zero) with P | R/W | U/S = 7.
  'shadow-no-invlpg-sync': one(
    [withEax(0x0000_0007)],
    [0, { kind: 'load', dst: 1, va: P }],
    [0, { kind: 'load', dst: 1, va: P }],
    [0, { kind: 'store', va: 0x8, src: 0 }],
    [0, { kind: 'invlpg', va: P }],
    [0, { kind: 'load', dst: 1, va: P }],
  ),
  // CR3 = frame 1 (page table 0 read as a directory): slot 1 then maps the directory as a table,
  // so linear (1,1) reaches page table 1, whose word 0 is not zero; the old data page's is.
  'shadow-no-cr3-sync': one(
    [plain()],
    [0, { kind: 'load', dst: 0, va: linear(1, 1) }],
    [0, { kind: 'movToCr3', value: 0x1000 }],
    [0, { kind: 'load', dst: 0, va: linear(1, 1) }],
  ),
  'ept-maps-hypervisor-frame': one([plain()], [0, { kind: 'movImm', dst: 0, imm: 1 }]),
  'ept-shared-vpid': one(
    [plain(), plain()],
    [0, { kind: 'load', dst: 0, va: P }],
    [1, { kind: 'movImm', dst: 0, imm: 1 }],
  ),
  'bt-no-flush-on-switch': one(
    [plain(), plain()],
    [0, { kind: 'load', dst: 0, va: P }],
    [0, { kind: 'load', dst: 0, va: P }],
    [1, { kind: 'movImm', dst: 0, imm: 1 }],
  ),
  // Host frame 65 is guest 0's EPT root (model/host/layout.ts: pool at 64, EPT root slot 1); | 3 = START | TO_MEMORY.
  'passthrough-no-iommu': one(
    [withEax(65 * 4096 + 3, { devices: 1 })],
    [0, { kind: 'out', port: PORT.ADDRESS }],
    [0, { kind: 'out', port: PORT.COMMAND }],
    [0, dma()],
  ),
  'sriov-shared-vf-domain': one(
    [dev(), withEax(3, { devices: 1 })],
    [1, { kind: 'out', port: PORT.COMMAND }],
    [1, dma()],
  ),
  // 0x31 is not guest 0's device host vector (0x30), and odd: bit 0 is START.
  'passthrough-no-interrupt-remapping': one(
    [withEax(0x31, { devices: 1 })],
    [0, { kind: 'out', port: PORT.VECTOR }],
    [0, { kind: 'out', port: PORT.COMMAND }],
    [0, dma()],
  ),
  'shadow-injects-with-if-clear': one([plain()], [0, { kind: 'timer' }]),
  'ept-timer-not-exiting': one([plain()], [0, { kind: 'movImm', dst: 0, imm: 1 }]),
  'shadow-device-model-trusts-address': one(
    [withEax(GUEST_BYTES + 3, { devices: 1 }), dev()],
    [0, { kind: 'out', port: PORT.ADDRESS }],
    [0, { kind: 'out', port: PORT.COMMAND }],
    [0, dma()],
  ),
  'ept-backend-trusts-address': one(
    [withEax(GUEST_BYTES + 3, { devices: 1 }), dev()],
    [0, { kind: 'out', port: PORT.ADDRESS }],
    [0, { kind: 'out', port: PORT.COMMAND }],
    [0, dma()],
  ),
  // Confused deputies (mutants/cpu.ts): the hypervisor's own code writes guest 1's frame in guest 0's step.
  'xen-pv-copies-to-wrong-domain': one([plain(), plain()], [0, { kind: 'sgdt', va: linear(1, 1) }]),
  'shadow-exit-writes-wrong-guest': one([plain(), plain()], [0, { kind: 'hlt' }]),
  // Efficiency mutants (mutants/efficiency.ts). Data page (1,1) is guest frame 11 (6 + 4 * 1 + 1).
  'shadow-fills-read-only': one(
    [plain()],
    [0, { kind: 'store', va: linear(1, 1), src: 0 }],
    [0, { kind: 'store', va: linear(1, 1), src: 0 }],
  ),
  // Slot 1 not present at boot, so frame 2 (its table) is no live table; EAX = 0x2007 maps page (0,2)
  // onto frame 2 through word 2 of page table 0 (window page (0,0)); then two stores to (0,2).
  'shadow-sticky-write-protection': one(
    [withEax(0x2007, { pdeFlags: [7, 0, 7, 7] })],
    [0, { kind: 'store', va: linear(0, 0, 2), src: 0 }],
    [0, { kind: 'store', va: linear(0, 2), src: 0 }],
    [0, { kind: 'store', va: linear(0, 2), src: 0 }],
  ),
  'ept-entry-never-installed': one(
    [plain()],
    [0, { kind: 'load', dst: 0, va: linear(1, 1) }],
    [0, { kind: 'load', dst: 0, va: linear(1, 1) }],
  ),
  'passthrough-io-bitmap-intercepts': one([dev()], [0, { kind: 'out', port: PORT.ADDRESS }]),
  // Network mutants (mutants/network.ts). Cards on MACs 0x10 + index (generators/net.ts); ports
  // 0x50 MAC, 0x51 CONTROL (bit 0 PROMISCUOUS), 0x52 TX (EAX = the frame word's guest-physical
  // address); a frame word is src << 24 | dst << 16 | payload (model/nic.ts); the world is 0xe0.
  'ept-promiscuous-accept': one(
    [nic(0), nic(1, { regs: [1, 0, 0, 0] })],
    [1, { kind: 'out', port: NIC.CONTROL }],
    [1, { kind: 'frameIn', frame: wire(0xe0, 0x77) }],
  ),
  'ept-mac-changes-accept': one(
    [nic(0), nic(1, { regs: [0x77, 0, 0, 0] })],
    [1, { kind: 'out', port: NIC.MAC }],
    [1, { kind: 'frameIn', frame: wire(0xe0, 0x77) }],
  ),
  // GPA 0x500c (system page, frame 5, word 3) holds the kernel code descriptor's high word
  // 0x00cf9b00 at boot: source MAC 0x00, destination 0xcf (unknown: to the world).
  'ept-forged-transmits-accept': one([nic(0, { regs: [0x500c, 0, 0, 0] })], [0, { kind: 'out', port: NIC.TX }]),
  'ept-bridge-floods-unknown-unicast': one(
    [nic(0), nic(1, { regs: [1, 0, 0, 0] })],
    [1, { kind: 'out', port: NIC.CONTROL }],
    [1, { kind: 'frameIn', frame: wire(0xe0, 0x77) }],
  ),
  'vmdq-sorter-not-updated': one(
    [nic(0), nic(1, { regs: [0x77, 0, 0, 0] })],
    [1, { kind: 'out', port: NIC.MAC }],
    [1, { kind: 'frameIn', frame: wire(0xe0, 0xff) }],
  ),
  // Direct paging (xen-pv). A kernel store to page table 0 through its own window page (0,0): the
  // kernel's set_pte sets the accessed and dirty bits of (0,0)'s PTE, which maps page table 0 (frame
  // 1) writable in the guest's view (boot flags P | R/W | U/S), and the accessed bit of PDE 0.
  'xen-pv-writable-pagetable': one([plain()], [0, { kind: 'store', va: linear(0, 0, 2), src: 0 }]),
  'xen-pv-l2-fast-path-drops-type': one([plain()], [0, { kind: 'store', va: linear(0, 0, 2), src: 0 }]),
  // The same store through the directory's window page (0,1): (0,1)'s PTE maps the directory writable.
  'xen-pv-l2-entry-as-l1': one([plain()], [0, { kind: 'store', va: linear(0, 1, 2), src: 0 }]),
  // CR3 = frame 22, the first spare frame (zero: an empty directory, model/boot.ts bootFrames).
  'xen-pv-unpin-keeps-type': one([plain()], [0, { kind: 'movToCr3', value: 22 * 4096 }]),
  // Guest 0 writes PTE (0,2) = frame 32 (just past its 32 frames) | P | U/S: guest 1's frame 0 on the host.
  'xen-pv-foreign-frame': one([withEax(0x0002_0005), plain()], [0, { kind: 'store', va: linear(0, 0, 2), src: 0 }]),
  'passthrough-vf-no-spoof-check': one([nic(0)], [0, { kind: 'out', port: NIC.TX }]),
  // Guest 1 stores a frame from guest 0's MAC at data page (1,2) (frame 6 + 1 * 4 + 2 = 12, GPA
  // 0xc000); guest 0 transmits from GPA 0xc000 + its memory size, which the host lays out as guest 1's.
  'xen-pv-backend-unchecked-grant': one(
    [nic(0, { regs: [GUEST_BYTES + 0xc000, 0, 0, 0] }), nic(1, { regs: [0, wire(0x10, 0xe0), 0, 0] })],
    [1, { kind: 'store', va: linear(1, 2), src: 1 }],
    [0, { kind: 'out', port: NIC.TX }],
  ),
};

const MACHINE = MUTANTS.filter((m) => m.target.level === 'machine');

describe('the catalog', () => {
  it('holds at least 16 machine-level mutants, uniquely named, covering every part of the machine', () => {
    expect(MACHINE.length).toBeGreaterThanOrEqual(16);
    expect(new Set(MUTANTS.map((m) => m.name)).size).toBe(MUTANTS.length);
    const areas = new Set(MACHINE.map((m) => m.area));
    for (const a of ['cpu', 'shadow', 'ept', 'tlb', 'iommu', 'interrupts', 'devices']) expect(areas).toContain(a);
  });
  it.each(MUTANTS.map((m) => [m.name, m] as const))(
    '%s: names a correct base preset, a reference and a derivation',
    (_, m) => {
      if (m.target.level === 'machine') expect(Object.keys(PRESETS)).toContain(m.base);
      expect(m.reference.length).toBeGreaterThan(10);
      expect(m.minimalWhy.length).toBeGreaterThan(40);
      expect(m.minimalLength).toBeGreaterThanOrEqual(1);
    },
  );
});

describe.each(MACHINE.map((m) => [m.name, m] as const))('mutant %s', (name, m) => {
  const design = (m.target as { design: Parameters<typeof checkScenario>[0] }).design;
  const property = m.property as PropertyName;

  it('the hand witness fails the mutant, passes the base, and is as long as the derived minimum', () => {
    const w = WITNESSES[name];
    expect(w, 'every machine mutant has a hand witness').toBeDefined();
    expect(w!.ops).toHaveLength(m.minimalLength);
    expect(checkScenario(design, property, w!)?.message ?? 'no failure').not.toBe('no failure');
    expect(checkScenario(PRESETS[m.base]!, property, w!)).toBeUndefined();
  });

  it('the checker finds it with its own property and shrinks it to the derived minimum (seed 1)', () => {
    const r = runMutant(m, { seed: 1, runs: 3000, now: () => 0 });
    expect(r.killed).toBe(true);
    expect(r.caughtBy).toBe(m.property);
    expect(r.distinguishing).toBe(true);
    expect(r.shrunkLength).toBe(m.minimalLength);
  });
});
