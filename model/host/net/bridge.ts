/**
 * A learning bridge in the hypervisor over the physical card in promiscuous mode (KVM with a
 * Linux bridge, VMware's vSwitch): the card takes in every frame; the hypervisor copies each
 * frame out of the sending guest and into each receiving guest's card model. Guest ports are
 * static entries the hypervisor configures (IEEE 802.1D static filtering entries), so a source
 * address learned from the wire never overrides them and an unknown unicast goes to the uplink
 * only. The policies are the bridge's own structure: forged transmits are dropped at the port,
 * a port whose guest changed its MAC is blocked (reject) or re-keyed to the new MAC (accept), and
 * promiscuous ports get copies only when the policy accepts.
 */
import { frameSrc, isPromiscuous } from '../../nic.ts';
import type { HostMachine } from '../machine.ts';
import type { NetworkBackEnd } from './backend.ts';
import { carry, type SwitchPort, switchFrame } from './forward.ts';
import { type BridgeEntry, type CardOwner, copied, guestWord, macChangeBlocks, policyOf, withNet } from './state.ts';

/** Learned entries the bridge keeps (the oldest is forgotten first). */
export const BRIDGE_LEARNED_LIMIT = 8;

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
      return carry(d, h, g, f, switchFrame(ports(d, h), g, f, o.floodUnknownUnicast), { byCopy: true });
    },
    receive: (d, h0, f) => {
      // Learn where the source lives (never over a guest port's static entry).
      const table = tableOf(h0);
      const src = frameSrc(f);
      const h = table.some((e) => e.mac === src && e.static)
        ? h0
        : withTable(h0, [
            ...table.filter((e) => e.static),
            ...table.filter((e) => !e.static && e.mac !== src).slice(1 - BRIDGE_LEARNED_LIMIT),
            { mac: src, port: 'uplink', static: false },
          ]);
      return carry(d, h, 'uplink', f, switchFrame(ports(d, h), 'uplink', f, o.floodUnknownUnicast), { byCopy: true });
    },
    configure: (d, h, g) => {
      if (policyOf(d).macChanges !== 'accept') return h;
      // Accept: the port's static entry follows the guest's new MAC (taking it over from any other port).
      const mac = h.net!.nics[g]?.mac;
      if (mac === undefined) return h;
      return withTable(h, [...tableOf(h).filter((e) => e.port !== g && e.mac !== mac), { mac, port: g, static: true }]);
    },
  };
};
