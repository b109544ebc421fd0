/**
 * FROZEN: nothing under mutants/unseen2/ changes after its first commit.
 *
 * ept, whose paravirtual back end gives every guest the ring page of guest 0.
 */
import { composeDesign, type Design, ept, POOL, poolBase, withGuest } from '../../index.ts';
import { GEOMETRY, guest, type UnseenMutant } from '../unseen/types.ts';
import { dmaOut } from './common.ts';

const design: Design = composeDesign({
  ...ept,
  name: 'ept-virtio-rings-share-a-page',
  description: 'ept, but the ring page of every guest’s paravirtual device is the same host frame (guest 0’s)',
  init: (h0) => {
    let h = ept.init(h0);
    for (const ctx of h.guests)
      if (ctx.devices?.kind === 'ring')
        h = withGuest(h, ctx.id, { devices: { ...ctx.devices, frame: poolBase(0) + POOL.VIRTIO_RING } });
    return h;
  },
});

export const eptVirtioRingsShareAPage: UnseenMutant = {
  name: 'ept-virtio-rings-share-a-page',
  base: 'ept',
  level: 'machine',
  area: 'devices',
  bugClass: 'one shared-memory page handed to two guests’ devices (double allocation)',
  reference:
    'Xen XSA-387/XSA-380-class grant-table and shared-ring lifetime bugs; the virtio specification §2.7 (a virtqueue’s memory belongs to one device and its driver)',
  flaw: 'The back end allocates the descriptor ring of each guest’s paravirtual device at guest 0’s ring page, so a register one guest writes through its ring is what another guest reads back.',
  property: 'isolation',
  minimal: 2,
  minimalWhy:
    'One guest writes a device register through the shared ring (OUT ADDRESS, natively: EAX = 5), the other reads it (IN ADDRESS): 2. Isolation sees the reader’s value depend on the writer.',
  design,
  witness: {
    geometry: GEOMETRY,
    guests: [guest({ devices: 1 }), guest({ devices: 1, regs: [5, 0, 0, 0] })],
    ops: [
      { guest: 1, op: dmaOut(0) },
      { guest: 0, op: { kind: 'in', port: 0x40 } },
    ],
  },
};
