/**
 * FROZEN: nothing under mutants/unseen2/ changes after its first commit.
 *
 * sriov, whose IOMMU translates a VF's DMA writes but lets its reads through untranslated.
 */
import { composeDesign, type Design, sriov } from '../../index.ts';
import { GEOMETRY, guest, type UnseenMutant } from '../unseen/types.ts';
import { dmaOut } from './common.ts';

const design: Design = composeDesign({
  ...sriov,
  name: 'sriov-dma-reads-untranslated',
  description:
    'sriov, but DMA reads bypass the IOMMU (a pass-through read window, as for an RMRR), writes are translated',
  hardware: (h) => {
    const hw = sriov.hardware(h);
    const dma = hw.dma;
    return {
      ...hw,
      dma: (device, address, write, memory) => (write || !dma ? dma!(device, address, write, memory) : address),
    };
  },
});

export const sriovDmaReadsUntranslated: UnseenMutant = {
  name: 'sriov-dma-reads-untranslated',
  base: 'sriov',
  level: 'machine',
  area: 'IOMMU / DMA',
  bugClass: 'DMA protection on one access direction only (reads identity-mapped)',
  reference:
    'VT-d §3.6 and §8.4 (second-level read/write permissions; RMRR identity mappings that stay readable by the device); the “read is harmless” fallacy: DMA reads leak host memory (Wojtczuk, “Subverting the Xen hypervisor”, 2008, on unprotected DMA)',
  flaw: 'The VF’s reads go to the bus address as a host address, so a guest’s device reads the hypervisor’s memory (host frame 0 for bus address 0) where its own memory should answer.',
  property: 'equivalence',
  minimal: 2,
  minimalWhy:
    'A read transfer must be started (OUT COMMAND with START, EAX = 1; ADDRESS is 0 at boot) and completed: 2. DATA then holds host frame 0’s word 0 instead of the guest’s page-directory entry 0.',
  design,
  witness: {
    geometry: GEOMETRY,
    guests: [guest({ devices: 1, regs: [1, 0, 0, 0] })],
    ops: [
      { guest: 0, op: dmaOut(2) },
      { guest: 0, op: { kind: 'dmaComplete', device: 0 } },
    ],
  },
};
