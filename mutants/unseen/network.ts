/**
 * Unseen mutants of the network back ends: a bridge whose learning overrides a guest port’s static
 * entry, a bridge table whose size limit evicts the static entries (CAM overflow), and a VMDq card
 * whose pools do not accept broadcasts.
 *
 * FROZEN: nothing under mutants/unseen/ changes after its first commit.
 */
import {
  BRIDGE_LEARNED_LIMIT,
  BROADCAST_MAC,
  composeDesign,
  type Design,
  ept,
  frame,
  frameDst,
  frameSrc,
  type NetworkBackEnd,
  vmdq,
  withNet,
  xenPv,
} from '../../index.ts';
import { GEOMETRY, guest, type UnseenMachineMutant } from './types.ts';

// ---------------------------------------------------------------------------------------------

const eptBridge = ept.network!;

const eptBridgeLearnsOverStaticDesign: Design = composeDesign({
  ...ept,
  name: 'ept-bridge-learns-over-static',
  description: 'ept: the bridge learns a source address from the wire even when it is a guest port’s static entry',
  network: {
    ...eptBridge,
    receive: (d, h0, f) => {
      const h = eptBridge.receive(d, h0, f);
      const card = h.net?.card;
      const src = frameSrc(f);
      if (card?.kind !== 'bridge' || !card.table.some((e) => e.static && e.mac === src)) return h;
      // The flaw: learning replaces any entry for the source address, a guest port's static one
      // included (802.1D: static filtering entries are never overridden by learning), so anyone on
      // the wire who sends with a guest's MAC steals the frames addressed to it.
      return withNet(h, {
        card: {
          ...card,
          table: [...card.table.filter((e) => e.mac !== src), { mac: src, port: 'uplink', static: false }],
        },
      });
    },
  } satisfies NetworkBackEnd,
});

export const eptBridgeLearnsOverStatic: UnseenMachineMutant = {
  name: 'ept-bridge-learns-over-static',
  base: 'ept',
  area: 'network',
  level: 'network',
  bugClass: 'bridge table poisoning: learning overrides a static entry',
  reference:
    'IEEE 802.1D static filtering entries; Linux net/bridge/br_fdb.c never moves a local or static entry on learning ("received packet ... with own address as source address")',
  flaw: 'A frame from the outside world carrying a guest’s MAC as its source re-points that MAC to the uplink: the bridge then sends the guest’s traffic to the wire.',
  design: eptBridgeLearnsOverStaticDesign,
  property: 'equivalence',
  minimal: 2,
  minimalWhy:
    'Guest 0 (MAC 0x00) and guest 1 (MAC 0xCF) have cards. A frame from the wire with source 0xCF (to an unknown 0x77: it goes nowhere) poisons the table (1); guest 0 transmits the word at guest-physical 0x500C (EAX at boot), which is the ring-0 code descriptor’s high word 0x00CF9B00, a frame from 0x00 to 0xCF (2): the ideal switch delivers it to guest 1, the mutant sends it to the world. Learning needs a frame from the wire and the theft a frame to the victim, so two operations.',
  witness: {
    geometry: GEOMETRY,
    guests: [guest({ nic: 0x00, regs: [0x500c, 0, 0, 0] }), guest({ nic: 0xcf })],
    ops: [
      { guest: 0, op: { kind: 'frameIn', frame: frame(0xcf, 0x77) } },
      { guest: 0, op: { kind: 'out', port: 0x52 } },
    ],
  },
};

// ---------------------------------------------------------------------------------------------

const xenSplit = xenPv.network!;

const xenPvCamOverflowDesign: Design = composeDesign({
  ...xenPv,
  name: 'xen-pv-bridge-cam-overflow',
  description:
    'xen-pv: Dom0’s bridge limits its whole table, static guest entries included, to the learned-entry limit',
  network: {
    ...xenSplit,
    receive: (d, h0, f) => {
      const h = xenSplit.receive(d, h0, f);
      const card = h.net?.card;
      if (card?.kind !== 'bridge' || card.table.length <= BRIDGE_LEARNED_LIMIT) return h;
      // The flaw: the size limit meant for learned entries is applied to the whole table, oldest
      // first, so enough distinct sources from the wire evict the guests' static entries (CAM
      // overflow) and frames to an evicted guest become unknown unicast.
      return withNet(h, { card: { ...card, table: card.table.slice(card.table.length - BRIDGE_LEARNED_LIMIT) } });
    },
  } satisfies NetworkBackEnd,
});

export const xenPvBridgeCamOverflow: UnseenMachineMutant = {
  name: 'xen-pv-bridge-cam-overflow',
  base: 'xen-pv',
  area: 'network',
  level: 'network',
  bugClass: 'MAC table (CAM) overflow evicts static entries',
  reference:
    'CAM table overflow attacks (macof, in Dug Song’s dsniff); IEEE 802.1D static entries are not aged or evicted by learning',
  flaw: 'In Dom0’s bridge the learned-entry limit (8) bounds the whole table: once enough sources are learned from the wire, the guests’ static entries are evicted and frames for those guests no longer reach them.',
  design: xenPvCamOverflowDesign,
  property: 'equivalence',
  minimal: 6,
  minimalWhy:
    'The table holds one static entry per guest; with the maximum of 4 guests, 5 frames from the wire with distinct unknown sources (to an unknown destination: delivered nowhere) make 9 entries and the trim evicts guest 0’s static entry (5 operations). A sixth frame, to guest 0’s MAC 0x01, is then dropped, where the ideal switch delivers it. Fewer guests need more frames (one guest: 9); learning happens only on receive, so no operation can stand for two sources.',
  witness: {
    geometry: GEOMETRY,
    guests: [guest({ nic: 0x01 }), guest({ nic: 0x02 }), guest({ nic: 0x03 }), guest({ nic: 0x04 })],
    ops: [
      { guest: 0, op: { kind: 'frameIn', frame: frame(0x10, 0x77) } },
      { guest: 0, op: { kind: 'frameIn', frame: frame(0x11, 0x77) } },
      { guest: 0, op: { kind: 'frameIn', frame: frame(0x12, 0x77) } },
      { guest: 0, op: { kind: 'frameIn', frame: frame(0x13, 0x77) } },
      { guest: 0, op: { kind: 'frameIn', frame: frame(0x14, 0x77) } },
      { guest: 0, op: { kind: 'frameIn', frame: frame(0x10, 0x01) } },
    ],
  },
};

// ---------------------------------------------------------------------------------------------

const vmdqCard = vmdq.network!;

const vmdqBroadcastDesign: Design = composeDesign({
  ...vmdq,
  name: 'vmdq-broadcast-not-accepted',
  description: 'vmdq: the pools’ broadcast-accept mode is never enabled, so broadcasts from the wire reach no guest',
  network: {
    ...vmdqCard,
    // The flaw: the hypervisor programs each pool's MAC filter but not its broadcast-accept bit, so the
    // sorter queues broadcasts (ARP requests, DHCP offers) from the wire for no guest.
    receive: (d, h, f) => (frameDst(f) === BROADCAST_MAC ? h : vmdqCard.receive(d, h, f)),
  } satisfies NetworkBackEnd,
});

export const vmdqBroadcastNotAccepted: UnseenMachineMutant = {
  name: 'vmdq-broadcast-not-accepted',
  base: 'vmdq',
  area: 'network',
  level: 'network',
  bugClass: 'network back end: broadcast not replicated to guest queues',
  reference: 'Intel 82599 datasheet, PFVML2FLT.BAM (per-pool broadcast accept mode, off after reset)',
  flaw: 'Broadcast frames from the outside world are queued for no guest.',
  design: vmdqBroadcastDesign,
  property: 'equivalence',
  minimal: 1,
  minimalWhy:
    'One broadcast from the wire: the ideal switch delivers it to every guest’s card, the mutant to none. One operation, one guest with a card.',
  witness: {
    geometry: GEOMETRY,
    guests: [guest({ nic: 0x11 })],
    ops: [{ guest: 0, op: { kind: 'frameIn', frame: frame(0x42, BROADCAST_MAC) } }],
  },
};

/** The network mutants. */
export const NETWORK_MUTANTS: readonly UnseenMachineMutant[] = [
  eptBridgeLearnsOverStatic,
  xenPvBridgeCamOverflow,
  vmdqBroadcastNotAccepted,
];
