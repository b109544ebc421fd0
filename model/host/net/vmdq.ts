/**
 * VMDq (Intel Virtual Machine Device Queues): the card sorts received frames by destination MAC
 * into one hardware queue per guest (and loops guest-to-guest frames back through the same
 * sorter); the hypervisor programs the sorter's MAC filters, copies each frame from a guest into
 * the card, and from a guest's queue into that guest's card model. The policies live in what the
 * hypervisor programs: on a guest's MAC change it re-keys the guest's queue (accept) or makes the
 * card drop what matches it (reject); a queue replicates every frame only for a promiscuous guest
 * under an accepting policy; forged frames are dropped before they reach the card.
 */
import { frameSrc, isPromiscuous } from '../../nic.ts';
import type { Design } from '../design.ts';
import type { HostMachine } from '../machine.ts';
import type { NetworkBackEnd } from './backend.ts';
import { carry, type SwitchPort, switchFrame } from './forward.ts';
import { copied, guestWord, policyOf, type VmdqQueue, withNet } from './state.ts';

/** Options of the VMDq network back end (each default is the correct behaviour; the other is a mutant's flaw). */
export interface VmdqOptions {
  /** Reprogram a guest's queue filter when the guest changes its MAC (default true; false is the mutant's flaw). */
  readonly updateSorterOnMacChange?: boolean;
}

const queuesOf = (h: HostMachine): readonly VmdqQueue[] => (h.net?.card.kind === 'vmdq' ? h.net.card.queues : []);

/** The sorter as forwarding sees it: each queue's filter. */
const sorter = (h: HostMachine): SwitchPort[] =>
  queuesOf(h).map((q, port) => ({ port, mac: q.mac, open: q.accept, mirror: q.replicate }));

/** A VMDq back end. */
export const vmdqBackEnd = (o: VmdqOptions = {}): NetworkBackEnd => {
  const update = o.updateSorterOnMacChange ?? true;
  return {
    owner: 'hypervisor',
    dataPath: 'software',
    placement: 'model',
    init: (_d, h) =>
      withNet(h, {
        card: {
          kind: 'vmdq',
          queues: h.net!.assigned.map((mac, g) => ({ mac, accept: h.net!.nics[g] !== undefined, replicate: false })),
        },
        owner: 'hypervisor',
        placement: 'model',
      }),
    transmit: (d: Design, h0, g, address) => {
      const f = guestWord(h0, g, address);
      if (f === undefined) return h0;
      const h = copied(h0);
      if (policyOf(d).forgedTransmits === 'reject' && frameSrc(f) !== h.net!.assigned[g]) return h;
      return carry(d, h, g, f, switchFrame(sorter(h), g, f), { byCopy: true });
    },
    receive: (d, h, f) => carry(d, h, 'uplink', f, switchFrame(sorter(h), 'uplink', f), { byCopy: true }),
    configure: (d, h, g) => {
      const policy = policyOf(d);
      const nic = h.net!.nics[g];
      if (!nic) return h;
      const old = queuesOf(h)[g]!;
      const filter = !update
        ? { mac: old.mac, accept: old.accept }
        : policy.macChanges === 'accept'
          ? { mac: nic.mac, accept: true }
          : { mac: h.net!.assigned[g]!, accept: nic.mac === h.net!.assigned[g] };
      const queue: VmdqQueue = { ...filter, replicate: policy.promiscuous === 'accept' && isPromiscuous(nic) };
      return withNet(h, { card: { kind: 'vmdq', queues: queuesOf(h).map((q, i) => (i === g ? queue : q)) } });
    },
  };
};
