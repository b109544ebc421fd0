/**
 * A learning bridge in the hypervisor over the physical card in promiscuous mode (KVM with a
 * Linux bridge, VMware's vSwitch): the card takes in every frame; the hypervisor copies each
 * frame out of the sending guest and into each receiving guest's card model. Guest ports are
 * static entries the hypervisor configures (IEEE 802.1D static filtering entries), so a source
 * address learned from the wire never overrides them; every other source address is learned on the
 * port it came in by and consulted for forwarding (a unicast to an address learned on the uplink is
 * never sent back to it), and only an unknown unicast goes to the uplink. The policies are the bridge's own structure: forged transmits are dropped at the port,
 * a port whose guest changed its MAC is blocked (reject) or re-keyed to the new MAC (accept), and
 * promiscuous ports get copies only when the policy accepts.
 */
import { frameSrc, isPromiscuous } from '../../nic.ts';
import type { HostMachine } from '../machine.ts';
import type { NetworkBackEnd } from './backend.ts';
import { carry, type LearnedPort, type SwitchPort, switchFrame } from './forward.ts';
import { type BridgeEntry, type CardOwner, copied, guestWord, macChangeBlocks, policyOf, withNet } from './state.ts';

/** Learned entries the bridge keeps (the oldest is forgotten first). */
export const BRIDGE_LEARNED_LIMIT = 8;

/** Options of the learning bridge back end (each default is the correct behaviour; the other is a mutant's flaw). */
export interface BridgeOptions {
  /**
   * 802.1D's rule for an unknown destination: flood it to every port. Right for a bridge between
   * segments; wrong in front of guests, whose addresses the hypervisor knows (the mutant's flaw).
   */
  readonly floodUnknownUnicast?: boolean;
  /** Who runs the bridge and drives the card (default: the hypervisor). */
  readonly owner?: CardOwner;
  /** How the bridge reads a frame out of a guest's memory (default: the hypervisor's checked read). */
  readonly fetch?: (h: HostMachine, g: number, gpa: number) => number | undefined;
}

const tableOf = (h: HostMachine): readonly BridgeEntry[] => (h.net?.card.kind === 'bridge' ? h.net.card.table : []);

const withTable = (h: HostMachine, table: readonly BridgeEntry[]): HostMachine =>
  withNet(h, { card: { kind: 'bridge', promiscuous: true, table } });

/** Where the bridge learned each address (its dynamic entries). */
const learnedPort =
  (h: HostMachine): LearnedPort =>
  (mac) =>
    tableOf(h).find((e) => !e.static && e.mac === mac)?.port;

/** Learn that `src` lives behind `port` (never over a static entry; the oldest learned entry goes first). */
export const bridgeLearn = (h: HostMachine, src: number, port: number | 'uplink'): HostMachine => {
  const table = tableOf(h);
  if (table.some((e) => e.mac === src && e.static)) return h;
  if (table.some((e) => !e.static && e.mac === src && e.port === port)) return h;
  return withTable(h, [
    ...table.filter((e) => e.static),
    ...table.filter((e) => !e.static && e.mac !== src).slice(1 - BRIDGE_LEARNED_LIMIT),
    { mac: src, port, static: false },
  ]);
};

/** A bridge back end. */
export const bridgeBackEnd = (o: BridgeOptions = {}): NetworkBackEnd => {
  const fetch = o.fetch ?? guestWord;
  const ports = (d: Parameters<NetworkBackEnd['transmit']>[0], h: HostMachine): SwitchPort[] => {
    const policy = policyOf(d);
    const table = tableOf(h);
    return h.net!.nics.map((nic, p) => ({
      port: p,
      mac: table.find((e) => e.static && e.port === p)?.mac ?? -1,
      open: nic !== undefined && !macChangeBlocks(policy, h, p),
      mirror: nic !== undefined && policy.promiscuous === 'accept' && isPromiscuous(nic),
    }));
  };
  const forward = (
    d: Parameters<NetworkBackEnd['transmit']>[0],
    h: HostMachine,
    source: number | 'uplink',
    f: number,
  ) =>
    carry(d, h, source, f, switchFrame(ports(d, h), source, f, o.floodUnknownUnicast, learnedPort(h)), {
      byCopy: true,
    });
  return {
    owner: o.owner ?? 'hypervisor',
    dataPath: 'software',
    placement: 'model',
    init: (_d, h) =>
      withNet(
        withTable(
          h,
          h.net!.assigned.map((mac, port) => ({ mac, port, static: true })),
        ),
        {
          owner: o.owner ?? 'hypervisor',
          placement: 'model',
        },
      ),
    transmit: (d, h0, g, address) => {
      const f = fetch(h0, g, address);
      if (f === undefined) return h0;
      const h = copied(h0);
      if (policyOf(d).forgedTransmits === 'reject' && frameSrc(f) !== h.net!.assigned[g]) return h;
      // Learn where the source lives (its own port), then forward.
      return forward(d, bridgeLearn(h, frameSrc(f), g), g, f);
    },
    receive: (d, h0, f) => forward(d, bridgeLearn(h0, frameSrc(f), 'uplink'), 'uplink', f),
    configure: (d, h, g) => {
      if (policyOf(d).macChanges !== 'accept') return h;
      // Accept: the port's static entry follows the guest's new MAC (taking it over from any other port).
      const mac = h.net!.nics[g]?.mac;
      if (mac === undefined) return h;
      return withTable(h, [...tableOf(h).filter((e) => e.port !== g && e.mac !== mac), { mac, port: g, static: true }]);
    },
  };
};
