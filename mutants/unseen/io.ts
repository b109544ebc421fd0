/**
 * Unseen mutants of device virtualization: a paravirtual back end that fetches a descriptor field
 * twice (XSA-155), one that never retires a descriptor, an I/O bitmap that leaves the doorbell
 * open, and an IOMMU domain one frame too large.
 *
 * FROZEN: nothing under mutants/unseen/ changes after its first commit.
 */
import {
  buildIommuDomain,
  composeDesign,
  type Design,
  DMA_NO_MEMORY,
  DMA_REG,
  type DmaPort,
  decodeDmaPort,
  dmaComplete,
  ept,
  guestBase,
  guestDeviceEngines,
  hostFrames,
  injectInterrupt,
  PAGE_SIZE,
  POOL,
  passthrough,
  poolBase,
  secondLevelTables,
  standardHandle,
  withGuestDeviceEngines,
} from '../../index.ts';
import { GEOMETRY, guest, type UnseenMachineMutant } from './types.ts';

// ---------------------------------------------------------------------------------------------

const eptDoubleFetchDesign: Design = composeDesign({
  ...ept,
  name: 'ept-backend-double-fetch',
  description:
    'ept: the paravirtual back end checks the posted job’s address, then re-reads ADDRESS from the shared ring to do the transfer',
  handle: (h, entry) => {
    if (entry.kind === 'call' && entry.op.kind === 'dmaComplete') {
      const g = h.current;
      const device = entry.op.device;
      const engines = guestDeviceEngines(h, g);
      const e = engines?.[device];
      const guestBytes = h.config.guestGeometry.frames * PAGE_SIZE;
      if (h.guests[g]!.devices?.kind === 'ring' && engines && e?.job && e.job.address < guestBytes) {
        // The check passed on the job the guest posted at the doorbell. The flaw: the transfer then
        // fetches the address again from the ring, which the guest can rewrite in between (a double
        // fetch, TOCTOU), and translates it GPA -> HPA by the guest's offset without a second check.
        const base = guestBase(h.config, g) * PAGE_SIZE;
        const hostBytes = hostFrames(h.config) * PAGE_SIZE;
        const port: DmaPort = (_d, address) => (base + address < hostBytes ? base + address : DMA_NO_MEMORY);
        const refetched = { ...e, job: { ...e.job, address: (e.address & ~3) >>> 0 } };
        const r = dmaComplete(refetched, device, h.memory, port);
        if (!r) return h;
        const h1 = withGuestDeviceEngines(
          { ...h, memory: r.memory },
          g,
          engines.map((x, i) => (i === device ? r.engine : x)),
        );
        return r.msi === undefined ? h1 : injectInterrupt(eptDoubleFetchDesign, h1, g, r.msi);
      }
    }
    return standardHandle(() => eptDoubleFetchDesign)(h, entry);
  },
});

export const eptBackendDoubleFetch: UnseenMachineMutant = {
  name: 'ept-backend-double-fetch',
  base: 'ept',
  area: 'devices',
  level: 'machine',
  bugClass: 'double fetch (TOCTOU) of a shared-ring descriptor by the back end',
  reference:
    'Xen XSA-155 / CVE-2015-8550 (paravirtualized back ends read shared-ring fields twice: validated once, used after the front end changed them)',
  flaw: 'At completion the back end validates the address of the job the guest posted, then reads the ADDRESS field again from the shared ring and transfers there: a guest that rewrites ADDRESS after the doorbell makes the back end write outside its memory.',
  design: eptDoubleFetchDesign,
  property: 'resource-control',
  minimal: 3,
  minimalWhy:
    'With EAX = 0x20003 at boot: OUT 0x42 rings the doorbell (COMMAND = 3: a write of DATA 0 to ADDRESS 0, which passes the check) (1); OUT 0x40 rewrites ADDRESS in the ring to 0x20000, just past guest 0’s 32 frames (2); the completion (3) writes guest 1’s frame 0 (its page directory) instead of guest 0’s. Bare metal guest 0 writes its own word 0 (equivalence sees the missing write at step 2 too). A job, a rewrite after the doorbell and a completion are each needed.',
  witness: {
    geometry: GEOMETRY,
    guests: [guest({ devices: 1, regs: [0x20003, 0, 0, 0] }), guest({ devices: 1 })],
    ops: [
      { guest: 0, op: { kind: 'out', port: 0x42 } },
      { guest: 0, op: { kind: 'out', port: 0x40 } },
      { guest: 0, op: { kind: 'dmaComplete', device: 0 } },
    ],
  },
};

// ---------------------------------------------------------------------------------------------

const eptDescriptorNotRetiredDesign: Design = composeDesign({
  ...ept,
  name: 'ept-backend-descriptor-not-retired',
  description: 'ept: the back end completes a job but leaves it posted in the ring',
  handle: (h, entry) => {
    const out = standardHandle(() => eptDescriptorNotRetiredDesign)(h, entry);
    if (entry.kind !== 'call' || entry.op.kind !== 'dmaComplete') return out;
    const g = out.current;
    const device = entry.op.device;
    const job = guestDeviceEngines(h, g)?.[device]?.job;
    const after = guestDeviceEngines(out, g);
    if (!job || !after || out.guests[g]!.devices?.kind !== 'ring') return out;
    // The flaw: the completion is reported (DONE, the MSI) but the descriptor is not retired (the used
    // index is not advanced): the job stays posted and the next completion event runs it again.
    return withGuestDeviceEngines(
      out,
      g,
      after.map((x, i) => (i === device ? { ...x, job } : x)),
    );
  },
});

export const eptBackendDescriptorNotRetired: UnseenMachineMutant = {
  name: 'ept-backend-descriptor-not-retired',
  base: 'ept',
  area: 'devices',
  level: 'machine',
  bugClass: 'duplicated completion: a descriptor processed twice',
  flaw: 'The paravirtual back end completes a job without retiring its descriptor, so the job is still in flight after its completion and is performed again at the next completion event (a second write, a second MSI) while new STARTs are ignored.',
  design: eptDescriptorNotRetiredDesign,
  property: 'equivalence',
  minimal: 2,
  minimalWhy:
    'OUT 0x42 with EAX = 1 starts a job (1) and the completion (2) leaves it in flight, where bare metal’s engine is idle (the in-flight job is device state the abstraction compares: model/devices.ts sameDmaEngine). A job needs a START and a completion, so no shorter witness exists; what a guest program sees of it needs a third operation (a second completion or START).',
  witness: {
    geometry: GEOMETRY,
    guests: [guest({ devices: 1, regs: [1, 0, 0, 0] })],
    ops: [
      { guest: 0, op: { kind: 'out', port: 0x42 } },
      { guest: 0, op: { kind: 'dmaComplete', device: 0 } },
    ],
  },
};

// ---------------------------------------------------------------------------------------------

const eptNotifyOpenDesign: Design = composeDesign({
  ...ept,
  name: 'ept-notify-port-open',
  description: 'ept: the I/O bitmap leaves the whole descriptor slot open, the notify (COMMAND) port included',
  hardware: (h) => {
    const hw = ept.hardware(h);
    const exits = hw.exits ?? {};
    const devices = h.guests[h.current]!.devices;
    const count = devices?.kind === 'ring' ? devices.count : 0;
    // The flaw: the I/O bitmap is cleared for every port of the slot; the doorbell (an OUT to COMMAND)
    // must stay intercepted, or the back end never hears it.
    const isNotify = (port: number) => decodeDmaPort(port, count)?.reg === DMA_REG.COMMAND;
    return {
      ...hw,
      exits: {
        ...exits,
        instruction: (op, cpu) => !(op.kind === 'out' && isNotify(op.port)) && (exits.instruction?.(op, cpu) ?? false),
      },
    };
  },
});

export const eptNotifyPortOpen: UnseenMachineMutant = {
  name: 'ept-notify-port-open',
  base: 'ept',
  area: 'devices',
  level: 'machine',
  bugClass: 'I/O bitmap: a port left open',
  reference:
    'Intel SDM Vol. 3C "I/O-Bitmap Addresses" (a clear bit lets the port access run without exiting); CVE-2020-2732 (KVM nVMX: I/O-bitmap intercepts not honoured for emulated L2 port accesses)',
  flaw: 'The VMX I/O bitmap passes the paravirtual device’s notify port through with the rest of its slot: the guest’s doorbell goes to no device and the back end never starts the job.',
  design: eptNotifyOpenDesign,
  property: 'equivalence',
  minimal: 1,
  minimalWhy:
    'OUT 0x42 with EAX = 1 (START) at boot: bare metal’s engine latches a job and becomes BUSY; under the mutant the write is not decoded by anything and dropped. One operation.',
  witness: {
    geometry: GEOMETRY,
    guests: [guest({ devices: 1, regs: [1, 0, 0, 0] })],
    ops: [{ guest: 0, op: { kind: 'out', port: 0x42 } }],
  },
};

// ---------------------------------------------------------------------------------------------

const passthroughIommuOffByOneDesign: Design = composeDesign({
  ...passthrough,
  name: 'passthrough-iommu-domain-off-by-one',
  description: 'passthrough: each IOMMU domain maps one frame past the guest’s memory',
  init: (h0) => {
    const h = passthrough.init(h0);
    const frames = h.config.guestGeometry.frames;
    // The entry past the end exists in the domain's last table unless the guest fills it exactly.
    if (frames % 1024 === 0) return h;
    let memory = h.memory;
    for (const ctx of h.guests) {
      if (ctx.devices?.kind !== 'assigned') continue;
      // The flaw: the domain is built for frames 0..N inclusive (`<=` for `<`), so IOVA frame N maps
      // host frame base + N: the first frame of the next guest's region.
      memory = buildIommuDomain(
        memory,
        poolBase(ctx.id) + POOL.IOMMU_ROOT,
        secondLevelTables(h.config, ctx.id, 'iommu'),
        frames + 1,
        guestBase(h.config, ctx.id),
      );
    }
    return { ...h, memory };
  },
});

export const passthroughIommuDomainOffByOne: UnseenMachineMutant = {
  name: 'passthrough-iommu-domain-off-by-one',
  base: 'passthrough',
  area: 'IOMMU / DMA',
  level: 'machine',
  bugClass: 'IOMMU domain bounds: an off-by-one mapping',
  reference:
    'Intel VT-d specification, second-level translation (a DMA remapping domain must map only its owner’s memory)',
  flaw: 'Each assigned device’s IOMMU domain maps one IOVA frame past its guest’s memory, to the first frame of the next guest: the device can DMA into its neighbour.',
  design: passthroughIommuOffByOneDesign,
  property: 'resource-control',
  minimal: 3,
  minimalWhy:
    'With EAX = 0x20003 at boot, guest 0 sets ADDRESS = 0x20003 (1) and COMMAND = 3, a write to 0x20000 (2), and the job completes (3): on bare metal 0x20000 is past the guest’s 32 frames (no memory: the engine reports ERROR), under the mutant the device writes guest 1’s frame 0. Two guests are needed for the frame to be someone’s; a job needs an address, a START and a completion.',
  witness: {
    geometry: GEOMETRY,
    guests: [guest({ devices: 1, regs: [0x20003, 0, 0, 0] }), guest({ devices: 1 })],
    ops: [
      { guest: 0, op: { kind: 'out', port: 0x40 } },
      { guest: 0, op: { kind: 'out', port: 0x42 } },
      { guest: 0, op: { kind: 'dmaComplete', device: 0 } },
    ],
  },
};

/** The device and IOMMU mutants. */
export const IO_MUTANTS: readonly UnseenMachineMutant[] = [
  eptBackendDoubleFetch,
  eptBackendDescriptorNotRetired,
  eptNotifyPortOpen,
  passthroughIommuDomainOffByOne,
];
