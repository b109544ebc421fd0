/**
 * FROZEN: nothing under mutants/unseen2/ changes after its first commit.
 *
 * vmdq, whose forged-transmit check compares a frame's source with the guest's current MAC register.
 */
import {
  carry,
  composeDesign,
  copied,
  type Design,
  frameSrc,
  guestWord,
  NIC_PORT_BASE,
  policyOf,
  switchFrame,
  vmdq,
  vmdqBackEnd,
} from '../../index.ts';
import { GEOMETRY, guest, type UnseenMutant } from '../unseen/types.ts';

const base = vmdqBackEnd();

const design: Design = composeDesign({
  ...vmdq,
  name: 'vmdq-spoof-check-uses-current-mac',
  description:
    'vmdq, but forged transmits are judged against the MAC the guest last wrote, not the one it was assigned',
  network: {
    ...base,
    transmit: (d, h0, g, address) => {
      const f = guestWord(h0, g, address);
      if (f === undefined) return h0;
      const h = copied(h0);
      if (policyOf(d).forgedTransmits === 'reject' && frameSrc(f) !== h.net!.nics[g]!.mac) return h;
      const card = h.net!.card;
      const queues = card.kind === 'vmdq' ? card.queues : [];
      const ports = queues.map((q, port) => ({ port, mac: q.mac, open: q.accept, mirror: q.replicate }));
      return carry(d, h, g, f, switchFrame(ports, g, f), { byCopy: true });
    },
  },
});

export const vmdqSpoofCheckUsesCurrentMac: UnseenMutant = {
  name: 'vmdq-spoof-check-uses-current-mac',
  base: 'vmdq',
  level: 'network',
  area: 'network',
  bugClass: 'a security check made against a value the guest controls',
  reference:
    'VMware vSwitch “Forged transmits” (compares the source with the effective MAC assigned to the adapter, not one the guest wrote); the MAC-spoofing class of Linux ixgbe/i40e VF spoof-check bugs',
  flaw: 'The hypervisor’s forged-transmit filter compares a frame’s source MAC with the card’s MAC register, which the guest writes: change the register, and frames with any source go out.',
  property: 'equivalence',
  minimal: 2,
  minimalWhy:
    'The guest must change its MAC (OUT MAC) and transmit (OUT TX) a frame whose source is the new MAC: 2. EAX = 0x7000 serves both: MAC 0x00 (bits 7:0) and the address of a zero word (source 0, destination 0: no guest, so the uplink). Bare metal’s switch drops it (forged under reject); the mutant sends it.',
  design,
  witness: {
    geometry: GEOMETRY,
    guests: [guest({ nic: 0x11, regs: [0x7000, 0, 0, 0] }), guest({ nic: 0x22 })],
    ops: [
      { guest: 0, op: { kind: 'out', port: NIC_PORT_BASE } },
      { guest: 0, op: { kind: 'out', port: NIC_PORT_BASE + 2 } },
    ],
  },
};
