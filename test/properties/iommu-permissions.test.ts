/**
 * IOMMU permissions (VT-d second-level R/W bits) and designs that keep guest pages read-only in
 * EPT and derive their devices' mappings from it. Expected values come from the specifications:
 * VT-d §9.8 (second-level entries: R bit 0, W bit 1; R = W = 0 is not present) and §3.6 (a DMA
 * read needs R, a DMA write needs W, else the request is blocked and a fault recorded); SDM Vol. 3C
 * §28.3.3.2 (an EPT write without W is an EPT violation); model/devices.ts (a blocked transfer ends
 * DONE | ERROR, a blocked read leaves all ones in DATA).
 */
import {
  assignedRids,
  bareMetal,
  checkScenario,
  composeDesign,
  createHost,
  DEFAULT_GEOMETRY,
  type Design,
  DMA_BLOCKED,
  DMA_STATUS,
  deviceInterrupt,
  dmaComplete,
  EMPTY_MEMORY,
  EPT_BITS,
  guestEptLeaf,
  hostIo,
  iommuPort,
  iommuRightsOfEpt,
  iommuTranslate,
  linear,
  mapIova,
  type Op,
  PAGE_SIZE,
  passthrough,
  type Scenario,
  scenarioGuests,
  standardHandle,
  VTD_BITS,
  writeWord,
} from 'hyperprop';
import { describe, expect, it } from 'vitest';
import { type GuestSpec, plainGuestSpec } from '../../generators/reference.ts';

const g = DEFAULT_GEOMETRY;

describe('VT-d second-level permissions through the one walker', () => {
  // A domain at frame 1 with one table at frame 2: IOVA page 0 read-only, page 1 write-only, page 2 both.
  let mem = writeWord(EMPTY_MEMORY, 1 * PAGE_SIZE, (2 * PAGE_SIZE) | VTD_BITS.R | VTD_BITS.W);
  mem = mapIova(mem, PAGE_SIZE, 0x0000, 0x10000, VTD_BITS.R);
  mem = mapIova(mem, PAGE_SIZE, 0x1000, 0x11000, VTD_BITS.W);
  mem = mapIova(mem, PAGE_SIZE, 0x2000, 0x12000, VTD_BITS.R | VTD_BITS.W);

  it('a read needs R and a write needs W; a mapping may grant either alone (VT-d §3.6, §9.8)', () => {
    expect(iommuTranslate(mem, PAGE_SIZE, 0x0008, false)).toBe(0x10008);
    expect(iommuTranslate(mem, PAGE_SIZE, 0x0008, true)).toBeUndefined();
    expect(iommuTranslate(mem, PAGE_SIZE, 0x1008, false)).toBeUndefined();
    expect(iommuTranslate(mem, PAGE_SIZE, 0x1008, true)).toBe(0x11008);
    expect(iommuTranslate(mem, PAGE_SIZE, 0x2008, false)).toBe(0x12008);
    expect(iommuTranslate(mem, PAGE_SIZE, 0x2008, true)).toBe(0x12008);
    // Unmapping (no rights) makes the entry not present.
    const unmapped = mapIova(mem, PAGE_SIZE, 0x2000, 0x12000, 0);
    expect(iommuTranslate(unmapped, PAGE_SIZE, 0x2008, false)).toBeUndefined();
  });

  it("a device's read through a write-only mapping and its write through a read-only one are blocked", () => {
    const iommu = {
      dmaRemapping: true,
      domains: [{ rid: 8, root: 1 }],
      interruptRemapping: false,
      irt: [],
      faults: [],
    };
    const port = iommuPort(iommu, [8], 0x100000);
    expect(port(0, 0x1000, false, mem)).toBe(DMA_BLOCKED);
    expect(port(0, 0x0000, true, mem)).toBe(DMA_BLOCKED);
    // The engine: a read-from-memory job at IOVA 0x1004 (write-only page) ends DONE | ERROR, DATA all ones.
    const engine = {
      address: 0x1004,
      data: 7,
      command: 1,
      vector: 0,
      status: DMA_STATUS.BUSY,
      job: { address: 0x1004, data: 7, toMemory: false },
    };
    const r = dmaComplete(engine, 0, mem, port)!;
    expect(r.blocked).toBe(true);
    expect(r.engine.status).toBe(DMA_STATUS.DONE | DMA_STATUS.ERROR);
    expect(r.engine.data).toBe(0xffff_ffff);
    // The same job towards memory on the write-only page lands.
    const w = dmaComplete({ ...engine, job: { address: 0x1004, data: 7, toMemory: true } }, 0, mem, port)!;
    expect(w.blocked).toBe(false);
    expect(w.wrote).toBe(0x11004);
    // Bare metal (no IOMMU) is unaffected.
    expect(bareMetal(32).dma!(0, 0x1004, true, mem)).toBe(0x1004);
  });

  it("derives a device's rights from an EPT entry's: R to R, W to W, X to nothing", () => {
    expect(iommuRightsOfEpt(EPT_BITS.R | EPT_BITS.W | EPT_BITS.X)).toBe(VTD_BITS.R | VTD_BITS.W);
    expect(iommuRightsOfEpt(EPT_BITS.R | EPT_BITS.X)).toBe(VTD_BITS.R);
    expect(iommuRightsOfEpt(EPT_BITS.X)).toBe(0);
  });
});

// ------------------------------------------------------------------------------------------------
// A design that write-tracks the guest's page directory (guest frame 0 in the standard boot, see
// model/boot.ts) through EPT, as KVM's page-track does for the frames it must see every write to.

/** Passthrough, with guest frame 0 kept read-only in EPT (and so for the device). */
const tracking: Design = composeDesign({
  ...passthrough,
  name: 'passthrough-tracks-frame-0',
  description: 'passthrough that write-tracks guest frame 0 through EPT',
  readOnlyInEpt: () => [0],
});

/** One change: the device keeps a writable IOMMU mapping of the tracked frame (not derived from EPT). */
const deviceWritable: Design = composeDesign({
  ...tracking,
  name: 'tracking-device-writable',
  description: 'the tracked frame stays writable in the IOMMU',
  init: (h0) => {
    const h = tracking.init(h0);
    const root = hostIo(h).iommu.domains[0]!.root;
    const hpa = guestEptLeaf(h, 0, 0)! & EPT_BITS.FRAME;
    return { ...h, memory: mapIova(h.memory, root * PAGE_SIZE, 0, hpa, VTD_BITS.R | VTD_BITS.W) };
  },
});

/** One change: the hypervisor records the DMA fault but does not complete the tracked write. */
const faultNotServiced: Design = composeDesign({
  ...tracking,
  name: 'tracking-fault-not-serviced',
  description: 'a DMA fault on a tracked frame is only logged',
  handle: (h, entry) =>
    entry.kind === 'exit' && entry.exit.reason === 'device-interrupt'
      ? deviceInterrupt(faultNotServiced, h, entry.exit)
      : standardHandle(() => faultNotServiced)(h, entry),
});

const spec = (patch: Partial<GuestSpec> = {}): GuestSpec => ({ ...plainGuestSpec(g), devices: 1, ...patch });
const scenario = (guests: GuestSpec[], ...ops: [number, Op][]): Scenario => ({
  geometry: g,
  guests,
  ops: ops.map(([guest, op]) => ({ guest, op })),
});

// EAX = 3 = START | TO_MEMORY: with ADDRESS and DATA at their reset value 0, OUT to COMMAND
// (port 0x42) starts a write of 0 to bus address 0 (the page directory's PDE 0, not zero at boot).
const deviceWritesFrame0 = scenario(
  [spec({ regs: [3, 0, 0, 0] })],
  [0, { kind: 'out', port: 0x42 }],
  [0, { kind: 'dmaComplete', device: 0 }],
);

describe('a design that keeps a guest page read-only in EPT', () => {
  it('maps it R|X in EPT and read-only for the device; other frames stay R|W|X and R|W', () => {
    const h = createHost(tracking, scenarioGuests(deviceWritesFrame0));
    expect(guestEptLeaf(h, 0, 0)! & 7).toBe(EPT_BITS.R | EPT_BITS.X);
    expect(guestEptLeaf(h, 0, PAGE_SIZE)! & 7).toBe(EPT_BITS.R | EPT_BITS.W | EPT_BITS.X);
    const root = hostIo(h).iommu.domains.find((d) => assignedRids(h, 0).includes(d.rid))!.root * PAGE_SIZE;
    expect(iommuTranslate(h.memory, root, 0, false)).toBeDefined();
    expect(iommuTranslate(h.memory, root, 0, true)).toBeUndefined();
    expect(iommuTranslate(h.memory, root, PAGE_SIZE, true)).toBeDefined();
  });

  it("the guest's store to it exits as an EPT violation and is completed by the hypervisor", () => {
    // Window page (0,1) maps the page directory: a store there writes guest frame 0.
    const s = scenario([spec({ regs: [0x1234_5007, 0, 0, 0] })], [0, { kind: 'store', va: linear(0, 1, 3), src: 0 }]);
    for (const p of ['equivalence', 'resource-control', 'efficiency'] as const)
      expect(checkScenario(tracking, p, s), p).toBeUndefined();
  });

  it("the device's write raises a DMA fault the hypervisor services: every property holds", () => {
    for (const p of ['equivalence', 'resource-control', 'efficiency'] as const)
      expect(checkScenario(tracking, p, deviceWritesFrame0), p).toBeUndefined();
    const two = { ...deviceWritesFrame0, guests: [...deviceWritesFrame0.guests, spec()] };
    expect(checkScenario(tracking, 'isolation', two)).toBeUndefined();
  });

  it('a device write through a mapping left writable fails resource control at the completion (2 operations)', () => {
    const f = checkScenario(deviceWritable, 'resource-control', deviceWritesFrame0);
    expect(f?.step).toBe(1);
    expect(f?.message).toMatch(/read-only/);
    // The guest sees what bare metal shows: only resource control can tell.
    expect(checkScenario(deviceWritable, 'equivalence', deviceWritesFrame0)).toBeUndefined();
  });

  it('a DMA fault the hypervisor does not service fails equivalence at the completion (2 operations)', () => {
    const f = checkScenario(faultNotServiced, 'equivalence', deviceWritesFrame0);
    expect(f?.step).toBe(1);
  });
});
