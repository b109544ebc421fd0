/**
 * The forwarding step every network design shares once its own structure (a bridge's table, a
 * VMDq sorter's queues, an SR-IOV card's virtual-function entries) has said which MAC each guest
 * port answers to: broadcast to every other open port and the uplink; a known unicast to its port
 * (never back out of the port it came in by, IEEE 802.1D §7.7.1), a learned one where it was learned;
 * an unknown unicast to the uplink (or flooded, where a structure floods); and a copy to every
 * mirroring (promiscuous) port.
 */
import { BROADCAST_MAC, frameDst } from '../../nic.ts';
import type { Design } from '../design.ts';
import type { HostMachine } from '../machine.ts';
import { deliver, leaving, toWorld } from './state.ts';

/** A guest port as a design's structure presents it to forwarding. */
export interface SwitchPort {
  readonly port: number;
  /** The MAC the structure sends to this port (-1: none). */
  readonly mac: number;
  /** Does the port receive at all (false: the structure drops what would go there)? */
  readonly open: boolean;
  /** Does the port get a copy of every frame (promiscuous replication)? */
  readonly mirror: boolean;
}

/** Where a frame goes: guest ports, and whether the uplink (the outside world) gets it. */
export interface Route {
  readonly ports: readonly number[];
  readonly uplink: boolean;
}

/**
 * Where a learning structure last saw a source address: a guest port, the uplink, or nowhere
 * (IEEE 802.1D §7.8 filtering database, its dynamic entries).
 */
export type LearnedPort = (mac: number) => number | 'uplink' | undefined;

/**
 * The route of frame `f` entering from `source` (a guest port or the uplink). A unicast whose
 * destination no port answers to goes where `learned` last saw that address (filtered when that is
 * the port it came in by, 802.1D §7.7.1); only an address seen nowhere is unknown (to the uplink,
 * or flooded where a structure floods).
 */
export const switchFrame = (
  ports: readonly SwitchPort[],
  source: number | 'uplink',
  f: number,
  floodUnknown = false,
  learned?: LearnedPort,
): Route => {
  const others = ports.filter((p) => p.port !== source && p.open);
  const dst = frameDst(f);
  const fromGuest = source !== 'uplink';
  const seen = dst === BROADCAST_MAC || ports.some((p) => p.mac === dst) ? undefined : learned?.(dst);
  let to: readonly SwitchPort[];
  let uplink: boolean;
  if (dst === BROADCAST_MAC) {
    to = others;
    uplink = fromGuest;
  } else if (ports.some((p) => p.mac === dst)) {
    to = others.filter((p) => p.mac === dst);
    uplink = false;
  } else if (seen !== undefined) {
    to = seen === 'uplink' ? [] : others.filter((p) => p.port === seen);
    uplink = seen === 'uplink' && fromGuest;
  } else {
    to = floodUnknown ? others : [];
    uplink = fromGuest;
  }
  const mirrors = others.filter((p) => p.mirror && !to.includes(p));
  return { ports: [...to, ...mirrors].map((p) => p.port), uplink };
};

/**
 * Carry out a route: record the frame leaving its guest (when it goes anywhere), offer it to each
 * port's card, and put it on the wire. `byCopy`: software copies it into guests' cards; `rid`:
 * the requester id whose MSIs interrupt remapping routes (a virtual function), if any.
 */
export const carry = (
  d: Design,
  h0: HostMachine,
  source: number | 'uplink',
  f: number,
  route: Route,
  how: { readonly byCopy: boolean; readonly rid?: (port: number) => number },
): HostMachine => {
  if (route.ports.length === 0 && !route.uplink) return h0;
  let h = source === 'uplink' ? h0 : leaving(h0, source, f);
  for (const p of route.ports)
    h = deliver(d, h, p, f, how.rid ? { byCopy: how.byCopy, rid: how.rid(p) } : { byCopy: how.byCopy });
  return route.uplink ? toWorld(h, f, false) : h;
};
