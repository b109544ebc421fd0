/**
 * Devices on the hosted machine: where each guest's devices live under each I/O design, and the
 * hardware the real CPU reaches them through (DESIGN.md §3, the I/O axis).
 *
 * - emulated: the hypervisor's device model holds the guest's device registers; every access
 *   traps and is emulated with the reference semantics on the guest's view, and a completion is
 *   the device model's work (the DMA lands on the guest's view: GPA to HPA by the hypervisor);
 * - paravirtual (virtio-style): the device registers are a descriptor slot in a ring page the
 *   hypervisor shares with the guest (a frame of the guest's pool, so the guest-physical memory
 *   the reference sees is untouched). The front end fills the slot without exiting (the port
 *   bus below stands for its stores); the notify (the COMMAND register) exits to the back end,
 *   which also completes the job and injects the completion interrupt;
 * - passthrough: a real device per guest (its own requester id), driven by the guest directly;
 *   its DMA goes through the IOMMU domain of its requester id and its MSIs through the
 *   interrupt-remapping table. Its MSI capability is configuration space, which the hypervisor
 *   keeps (the MSI ports exit, and the guest's writes land in its view of the engine): with
 *   remapping on, the real function's MSI ADDRESS is the remappable-format address of the
 *   hypervisor's block of IRTEs for it (handle 256 n, SHV), and the real MSI DATA's bits 7:0 are
 *   the VECTOR register the guest writes directly, a subhandle: IRTE 256 n + v delivers vector v
 *   to the guest, if the requester is the device (SVT = 01, SID its requester id). What the guest
 *   cannot keep from its device is a DMA write to the interrupt range (devices.ts): that message
 *   reaches the IOMMU as written, and only the IRTEs' source validation and the blocking of
 *   compatibility format keep it from another guest's handle or an unremapped vector;
 * - SR-IOV: one physical function (the hypervisor's) and a virtual function per guest, each
 *   with its own requester id, domain and remapping entry.
 *
 * The guest sees the same DMA engine in every case (model/devices.ts): its device 0 at ports
 * 0x40..0x43.
 */

import {
  DMA_IMAGE_WORDS,
  DMA_REG,
  type DmaEngine,
  decodeDmaEngine,
  decodeDmaPort,
  dmaRead,
  dmaWrite,
  encodeDmaEngine,
  MIN_MSI_VECTOR,
  MSI_REG,
  type MsiMessage,
} from '../devices.ts';
import type { PortBus } from '../exec.ts';
import { PAGE_SIZE } from '../geometry.ts';
import { frameIdentity, type PhysicalMemory, readWord, writeWord } from '../memory.ts';
import type { Op } from '../ops.ts';
import type { DesignAxes, IoVirtualization } from './design.ts';
import {
  buildIommuDomain,
  type HostVector,
  IOMMU_OFF,
  type IommuDomain,
  type IommuState,
  type RemapEntry,
  remappableMsiAddress,
} from './iommu.ts';
import { guestBase, poolBase } from './layout.ts';
import { type HostMachine, POOL, secondLevelTables, withGuest } from './machine.ts';

/** Where the hypervisor keeps one guest's devices. */
export type GuestDevices =
  /** The hypervisor's device model (emulated). */
  | { readonly kind: 'model'; readonly engines: readonly DmaEngine[] }
  /** Descriptor slots in a ring page shared with the guest (paravirtual); `frame` is a host frame. */
  | { readonly kind: 'ring'; readonly frame: number; readonly count: number }
  /** Real devices assigned to the guest: indices into the host's devices (passthrough, SR-IOV). */
  | { readonly kind: 'assigned'; readonly physical: readonly number[] };

/** A PCI function of the host. */
export interface PhysicalDevice {
  /** Requester id: bus << 8 | device << 3 | function. */
  readonly rid: number;
  /** A whole device, or an SR-IOV physical or virtual function. */
  readonly function: 'device' | 'pf' | 'vf';
  /** The guest it is assigned to; absent: the hypervisor keeps it (an SR-IOV PF). */
  readonly owner?: number;
  readonly engine: DmaEngine;
  /**
   * The real function's MSI ADDRESS as the hypervisor programmed it (absent: the engine's own):
   * its completion MSI is then (this address, the engine's vector as the data), see `deviceMsi`.
   */
  readonly msiAddress?: number;
}

/**
 * The completion MSI the real function writes when its engine (the guest's view) sends `m`: the
 * guest's own, unless the hypervisor programmed the function's MSI ADDRESS, which then carries the
 * VECTOR (m's data bits 7:0) as its data (the real MSI DATA's other bits are the hypervisor's:
 * zero). A DMA write to the interrupt range is not this: the guest's message goes as written.
 */
export const deviceMsi = (dev: PhysicalDevice | undefined, m: MsiMessage): MsiMessage =>
  dev?.msiAddress === undefined ? m : { address: dev.msiAddress, data: m.data & 0xff };

/** The real functions assigned to guest `g`, in its device order. */
export const assignedDevices = (h: HostMachine, g: number): readonly PhysicalDevice[] => {
  const d = h.guests[g]?.devices;
  return d?.kind === 'assigned' ? d.physical.map((p) => hostIo(h).devices[p]!) : [];
};

/** IRTEs the hypervisor gives each assigned function: one per vector, the block of function n at handle 256 n. */
export const IRTES_PER_DEVICE = 256;

/** The host's devices, its IOMMU, and interrupts the hypervisor kept. */
export interface HostIo {
  readonly devices: readonly PhysicalDevice[];
  readonly iommu: IommuState;
  /** Host vectors the hypervisor assigned to guests' devices (used when MSIs are not remapped). */
  readonly hostVectors: readonly HostVector[];
  /** MSIs that reached the hypervisor itself, not a guest. */
  readonly hostInterrupts: readonly { readonly rid: number; readonly vector: number }[];
}

/** A host with no devices: no IOMMU, no interrupt remapping, nothing delivered. */
export const NO_HOST_IO: HostIo = Object.freeze({
  devices: Object.freeze([]),
  iommu: IOMMU_OFF,
  hostVectors: Object.freeze([]),
  hostInterrupts: Object.freeze([]),
});

/** The host's I/O state. */
export const hostIo = (h: HostMachine): HostIo => h.io ?? NO_HOST_IO;

/** The I/O choice of a design's axes. */
export const ioOf = (axes: DesignAxes): IoVirtualization => axes.io ?? 'emulated';

/** Words of a ring slot (one per device). */
export const RING_SLOT_WORDS = 16;
const ringWord = (frame: number, device: number, word: number) =>
  frame * PAGE_SIZE + (device * RING_SLOT_WORDS + word) * 4;

const readSlot = (memory: PhysicalMemory, frame: number, device: number): DmaEngine =>
  decodeDmaEngine(Array.from({ length: DMA_IMAGE_WORDS }, (_, w) => readWord(memory, ringWord(frame, device, w))));

/** The key of an all-zero ring page (it has no trie node of its own to key by). */
const ZERO_PAGE = {};

/** Engines decoded from a ring page, by the page's contents (frameIdentity) and device count. */
const decodedRings = new WeakMap<object, Map<number, readonly DmaEngine[]>>();

/** The `count` engines a ring page holds (decoded once per page contents: every guest view reads them). */
const readRing = (memory: PhysicalMemory, frame: number, count: number): readonly DmaEngine[] => {
  const decode = () => Array.from({ length: count }, (_, i) => readSlot(memory, frame, i));
  const id = frameIdentity(memory, frame) ?? ZERO_PAGE;
  let byCount = decodedRings.get(id);
  if (!byCount) {
    byCount = new Map();
    decodedRings.set(id, byCount);
  }
  let engines = byCount.get(count);
  if (!engines) {
    engines = decode();
    byCount.set(count, engines);
  }
  return engines;
};

const writeSlot = (memory: PhysicalMemory, frame: number, device: number, e: DmaEngine): PhysicalMemory => {
  let mem = memory;
  encodeDmaEngine(e).forEach((v, w) => {
    mem = writeWord(mem, ringWord(frame, device, w), v);
  });
  return mem;
};

/** Guest `g`'s devices as it sees them, or undefined when it has none. */
export const guestDeviceEngines = (h: HostMachine, g: number): readonly DmaEngine[] | undefined => {
  const d = h.guests[g]?.devices;
  if (!d) return undefined;
  switch (d.kind) {
    case 'model':
      return d.engines;
    case 'ring':
      return readRing(h.memory, d.frame, d.count);
    case 'assigned':
      return d.physical.map((p) => hostIo(h).devices[p]!.engine);
  }
};

/** The host with guest `g`'s devices set to `engines` (the hypervisor writing back a guest's view). */
export const withGuestDeviceEngines = (
  h: HostMachine,
  g: number,
  engines: readonly DmaEngine[] | undefined,
): HostMachine => {
  const d = h.guests[g]?.devices;
  if (!d || !engines) return h;
  switch (d.kind) {
    case 'model':
      return d.engines === engines ? h : withGuest(h, g, { devices: { kind: 'model', engines } });
    case 'ring': {
      let mem = h.memory;
      engines.forEach((e, i) => {
        if (i < d.count) mem = writeSlot(mem, d.frame, i, e);
      });
      return mem === h.memory ? h : { ...h, memory: mem };
    }
    case 'assigned':
      return withAssignedEngines(h, g, engines);
  }
};

/** The real devices assigned to guest `g`, in its device order, or undefined when none is. */
export const assignedEngines = (h: HostMachine, g: number): readonly DmaEngine[] | undefined => {
  const d = h.guests[g]?.devices;
  return d?.kind === 'assigned' ? d.physical.map((p) => hostIo(h).devices[p]!.engine) : undefined;
};

/** Requester ids of the real devices assigned to guest `g`, in its device order. */
export const assignedRids = (h: HostMachine, g: number): readonly number[] => {
  const d = h.guests[g]?.devices;
  return d?.kind === 'assigned' ? d.physical.map((p) => hostIo(h).devices[p]!.rid) : [];
};

/** Store back the engines of the real devices assigned to guest `g` (after the real CPU or a device ran). */
export const withAssignedEngines = (
  h: HostMachine,
  g: number,
  engines: readonly DmaEngine[] | undefined,
): HostMachine => {
  const d = h.guests[g]?.devices;
  if (d?.kind !== 'assigned' || !engines) return h;
  const io = hostIo(h);
  let changed = false;
  const devices = io.devices.map((dev, p) => {
    const i = d.physical.indexOf(p);
    const e = i < 0 ? undefined : engines[i];
    if (!e || e === dev.engine) return dev;
    changed = true;
    return { ...dev, engine: e };
  });
  return changed ? { ...h, io: { ...io, devices } } : h;
};

/**
 * The port bus of a paravirtual guest's front end: its register accesses are loads and stores
 * of the descriptor slots in the shared ring page, except the notify (a write of COMMAND), which
 * is not decoded here: it exits (see `ioPortPassesThrough`).
 */
export const ringBus = (frame: number, count: number): PortBus => ({
  read: (port, memory) => {
    const at = decodeDmaPort(port, count);
    return at ? dmaRead(readSlot(memory, frame, at.device), at.reg) : undefined;
  },
  write: (port, value, memory) => {
    const at = decodeDmaPort(port, count);
    if (!at || at.reg === DMA_REG.COMMAND) return undefined;
    return writeSlot(memory, frame, at.device, dmaWrite(readSlot(memory, frame, at.device), at.reg, value));
  },
});

/**
 * Whether IN/OUT `op` of the running guest reaches its device without the hypervisor (the VMX
 * I/O bitmap leaves the port open): an assigned device's registers, or a paravirtual slot's
 * registers other than the notify. Every other port access exits.
 */
export const ioPortPassesThrough = (h: HostMachine, op: Op): boolean => {
  if (op.kind !== 'in' && op.kind !== 'out') return false;
  const d = h.guests[h.current]?.devices;
  if (!d) return false;
  if (d.kind === 'assigned') {
    const at = decodeDmaPort(op.port, d.physical.length);
    return at !== undefined && at.reg !== MSI_REG.ADDRESS && at.reg !== MSI_REG.DATA;
  }
  if (d.kind === 'ring') {
    const at = decodeDmaPort(op.port, d.count);
    return at !== undefined && !(op.kind === 'out' && at.reg === DMA_REG.COMMAND);
  }
  return false;
};

/** First host vector the hypervisor hands out to assigned devices when MSIs are not remapped. */
export const FIRST_DEVICE_HOST_VECTOR = 0x30;
/** Requester ids: passthrough device n is bus 0 device n+1; SR-IOV's PF is bus 0x10 function 0, VF n function n+1. */
export const passthroughRid = (n: number): number => (n + 1) << 3;
/** Requester id of the SR-IOV physical function (bus 0x10, function 0). */
export const SRIOV_PF_RID = 0x1000;
/** Requester id of SR-IOV virtual function `n` (bus 0x10, function n + 1). */
export const sriovVfRid = (n: number): number => SRIOV_PF_RID + 1 + n;

/**
 * Set up every guest's devices for the design's I/O choice, from the devices each guest booted
 * with (bareHost leaves them in the hypervisor's device model).
 */
export const initIo = (axes: DesignAxes, h0: HostMachine): HostMachine => {
  const io = ioOf(axes);
  let h = h0;
  if (io === 'emulated') return h;
  if (io === 'paravirtual') {
    for (const ctx of h.guests) {
      if (ctx.devices?.kind !== 'model') continue;
      const frame = poolBase(ctx.id) + POOL.VIRTIO_RING;
      let mem = h.memory;
      ctx.devices.engines.forEach((e, i) => {
        mem = writeSlot(mem, frame, i, e);
      });
      h = withGuest({ ...h, memory: mem }, ctx.id, {
        devices: { kind: 'ring', frame, count: ctx.devices.engines.length },
      });
    }
    return h;
  }
  const sriov = io === 'sriov';
  const dmaRemapping = axes.iommu ?? true;
  const interruptRemapping = axes.interruptRemapping ?? true;
  const svt = axes.irteSourceValidation ?? 'requester-id';
  const devices: PhysicalDevice[] = sriov
    ? [{ rid: SRIOV_PF_RID, function: 'pf', engine: { address: 0, data: 0, command: 0, vector: 0, status: 0 } }]
    : [];
  const domains: IommuDomain[] = [];
  const irt: RemapEntry[] = [];
  const hostVectors: HostVector[] = [];
  let n = 0;
  for (const ctx of h.guests) {
    if (ctx.devices?.kind !== 'model') continue;
    const physical: number[] = [];
    const root = poolBase(ctx.id) + POOL.IOMMU_ROOT;
    if (dmaRemapping)
      h = {
        ...h,
        memory: buildIommuDomain(
          h.memory,
          root,
          secondLevelTables(h.config, ctx.id, 'iommu'),
          h.config.guestGeometry.frames,
          guestBase(h.config, ctx.id),
        ),
      };
    for (const engine of ctx.devices.engines) {
      const rid = sriov ? sriovVfRid(n) : passthroughRid(n);
      physical.push(devices.length);
      const handle = irt.length;
      devices.push({
        rid,
        function: sriov ? 'vf' : 'device',
        owner: ctx.id,
        engine,
        ...(interruptRemapping ? { msiAddress: remappableMsiAddress(handle, true) } : {}),
      });
      if (dmaRemapping) domains.push({ rid, root });
      if (interruptRemapping)
        for (let v = 0; v < IRTES_PER_DEVICE; v++)
          irt.push({ sid: rid, guest: ctx.id, present: v >= MIN_MSI_VECTOR, vector: v, svt, sq: 0 });
      else hostVectors.push({ vector: FIRST_DEVICE_HOST_VECTOR + n, guest: ctx.id });
      n++;
    }
    h = withGuest(h, ctx.id, { devices: { kind: 'assigned', physical } });
  }
  return {
    ...h,
    io: {
      devices,
      iommu: {
        dmaRemapping,
        domains,
        interruptRemapping,
        irt,
        faults: [],
        ...(axes.compatibilityFormatInterrupts ? { compatibilityFormat: true } : {}),
      },
      hostVectors,
      hostInterrupts: [],
    },
  };
};
