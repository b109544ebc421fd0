/**
 * FROZEN: nothing under mutants/unseen2/ changes after its first commit.
 *
 * passthrough, which programs the real function's MSI DATA with all of the guest's MSI DATA.
 */
import {
  assignedDevices,
  assignedRids,
  composeDesign,
  type Design,
  deviceInterrupt,
  hostIo,
  injectInterrupt,
  passthrough,
  routeMsiMessage,
  standardHandle,
} from '../../index.ts';
import { GEOMETRY, guest, type UnseenMutant } from '../unseen/types.ts';
import { dmaOut, msiOut } from './common.ts';

const design: Design = composeDesign({
  ...passthrough,
  name: 'passthrough-msi-data-passed-whole',
  description:
    'passthrough, but the real MSI DATA carries the guest’s whole MSI DATA word (its upper bits too), not the vector alone',
  handle: (h, e) => {
    if (e.kind !== 'exit' || e.exit.reason !== 'device-interrupt' || e.exit.blocked || !e.exit.message)
      return standardHandle(() => design)(h, e);
    const dev = assignedDevices(h, h.current)[e.exit.device];
    const rid = assignedRids(h, h.current)[e.exit.device];
    if (!dev || rid === undefined || dev.msiAddress === undefined) return deviceInterrupt(design, h, e.exit);
    const io = hostIo(h);
    // The flaw: the data word is the guest's, so its upper bits enter the remappable subhandle.
    const r = routeMsiMessage(io.iommu, io.hostVectors, rid, { address: dev.msiAddress, data: e.exit.message.data });
    return r.kind === 'guest' ? injectInterrupt(design, h, r.guest, r.vector) : h;
  },
});

export const passthroughMsiDataPassedWhole: UnseenMutant = {
  name: 'passthrough-msi-data-passed-whole',
  base: 'passthrough',
  level: 'machine',
  area: 'interrupts',
  bugClass: 'guest-controlled bits passed into a hardware table index (unvalidated MSI data)',
  reference:
    'VT-d §5.1.2.2 (remappable format: interrupt index = handle + subhandle from the data when SHV is set); SDM Vol. 3A §11.11.2 (MSI data: vector 7:0, delivery mode 10:8, trigger 15)',
  flaw: 'The hypervisor copies the guest’s MSI DATA into the real function as it is, so a driver that sets delivery-mode or trigger bits shifts the subhandle past its block of remapping entries and its interrupt is blocked.',
  property: 'equivalence',
  minimal: 3,
  minimalWhy:
    'MSI DATA must be written with upper bits and a valid vector (OUT MSI DATA, EAX = 0x121: vector 0x21, delivery mode 1), a transfer started (OUT COMMAND: 0x121 has START) and completed: 3. Bare metal raises vector 0x21; the mutant’s message names entry 0x121 of the block, past its 256, and is blocked.',
  design,
  witness: {
    geometry: GEOMETRY,
    guests: [guest({ devices: 1, regs: [0x121, 0, 0, 0] })],
    ops: [
      { guest: 0, op: msiOut(1) },
      { guest: 0, op: dmaOut(2) },
      { guest: 0, op: { kind: 'dmaComplete', device: 0 } },
    ],
  },
};
