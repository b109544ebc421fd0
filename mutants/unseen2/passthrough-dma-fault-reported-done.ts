/**
 * FROZEN: nothing under mutants/unseen2/ changes after its first commit.
 *
 * passthrough, whose DMA-fault handler reports the blocked transfer to the guest as a success.
 */
import {
  commitGuest,
  composeDesign,
  type Design,
  DMA_STATUS,
  guestView,
  passthrough,
  standardHandle,
} from '../../index.ts';
import { GEOMETRY, guest, type UnseenMutant } from '../unseen/types.ts';
import { dmaOut } from './common.ts';

const design: Design = composeDesign({
  ...passthrough,
  name: 'passthrough-dma-fault-reported-done',
  description:
    'passthrough, but after an IOMMU fault the hypervisor clears the engine’s ERROR status (a transfer the IOMMU blocked reads as DONE)',
  handle: (h, e) => {
    const out = standardHandle(() => design)(h, e);
    if (e.kind !== 'exit' || e.exit.reason !== 'device-interrupt' || !e.exit.blocked) return out;
    const v = guestView(design, out, out.current);
    const engines = v.devices;
    if (!engines || engines.length === 0) return out;
    const cleared = engines.map((x) => ({ ...x, status: (x.status & ~DMA_STATUS.ERROR) >>> 0 }));
    return commitGuest(design, out, out.current, { ...v, devices: cleared });
  },
});

export const passthroughDmaFaultReportedDone: UnseenMutant = {
  name: 'passthrough-dma-fault-reported-done',
  base: 'passthrough',
  level: 'machine',
  area: 'IOMMU / DMA',
  bugClass: 'an error path that reports success (a DMA fault swallowed)',
  reference:
    'VT-d §7.1 (a blocked request completes to the device as unsupported/aborted) and PCIe’s completer abort; the error-path class of bugs where a fault handler “recovers” by faking completion',
  flaw: 'A DMA the IOMMU blocked (an address outside the guest) completes with DONE and no ERROR: the guest’s driver believes its data was written, where bare metal’s master abort sets ERROR.',
  property: 'equivalence',
  minimal: 3,
  minimalWhy:
    'ADDRESS must point outside the guest’s memory (OUT ADDRESS), the transfer be started (OUT COMMAND) and completed (the IOMMU blocks it): 3. EAX = 0x20003 serves both OUTs (address 0x20000, one past the guest’s 32 frames; START | TO_MEMORY).',
  design,
  witness: {
    geometry: GEOMETRY,
    guests: [guest({ devices: 1, regs: [0x20003, 0, 0, 0] })],
    ops: [
      { guest: 0, op: dmaOut(0) },
      { guest: 0, op: dmaOut(2) },
      { guest: 0, op: { kind: 'dmaComplete', device: 0 } },
    ],
  },
};
