/**
 * FROZEN: nothing under mutants/unseen2/ changes after its first commit.
 *
 * vmdq, whose loopback sorter hands a guest's broadcast back to the guest that sent it.
 */
import {
  BROADCAST_MAC,
  carry,
  composeDesign,
  copied,
  type Design,
  frameDst,
  frameSrc,
  guestWord,
  linear,
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
  name: 'vmdq-broadcast-reflected-to-sender',
  description: 'vmdq, but a guest’s broadcast is looped back into the sender’s own queue too',
  network: {
    ...base,
    transmit: (d, h0, g, address) => {
      const f = guestWord(h0, g, address);
      if (f === undefined || frameDst(f) !== BROADCAST_MAC) return base.transmit(d, h0, g, address);
      const h = copied(h0);
      if (policyOf(d).forgedTransmits === 'reject' && frameSrc(f) !== h.net!.assigned[g]) return h;
      const card = h.net!.card;
      const queues = card.kind === 'vmdq' ? card.queues : [];
      const ports = queues.map((q, port) => ({ port, mac: q.mac, open: q.accept, mirror: q.replicate }));
      const route = switchFrame(ports, g, f);
      // The flaw: the source pool is not excluded from the replication of a broadcast.
      return carry(d, h, g, f, { ...route, ports: [...route.ports, g] }, { byCopy: true });
    },
  },
});

export const vmdqBroadcastReflectedToSender: UnseenMutant = {
  name: 'vmdq-broadcast-reflected-to-sender',
  base: 'vmdq',
  level: 'network',
  area: 'network',
  bugClass: 'loopback without source-port filtering (a frame reflected to its sender)',
  reference:
    'IEEE 802.1Q §8.6.1 (a bridge never forwards a frame to the port it was received on, without reflective relay); Intel 82599 datasheet §7.10.3 (VMDq loopback: the source pool is excluded from replication)',
  flaw: 'A broadcast a guest sends is replicated into every queue, the sender’s own included, so each guest receives its own ARP requests and DHCP discovers (duplicate-address detection then fails).',
  property: 'equivalence',
  minimal: 3,
  minimalWhy:
    'The frame must be in memory (a store of EAX = frame(0x11, broadcast) to page (0,2), GPA 0x8000), its address in EAX (MOV EAX, 0x8000) and queued (OUT TX): 3. No boot word is a broadcast from the guest’s MAC.',
  design,
  witness: {
    geometry: GEOMETRY,
    guests: [guest({ nic: 0x11, regs: [0x11ff_0000, 0, 0, 0] }), guest({ nic: 0x22 })],
    ops: [
      { guest: 0, op: { kind: 'store', va: linear(0, 2), src: 0 } },
      { guest: 0, op: { kind: 'movImm', dst: 0, imm: 0x8000 } },
      { guest: 0, op: { kind: 'out', port: NIC_PORT_BASE + 2 } },
    ],
  },
};
