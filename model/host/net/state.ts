/**
 * The hosted machine's network: each guest's card (a model the hypervisor keeps, or a virtual
 * function on the physical card), the physical card's own configuration, and what the outside
 * world received. The pieces every network design shares live here: delivering a frame into a
 * guest's card (its receive filter, then its interrupt through the existing injection or
 * interrupt-remapping machinery), sending one to the world, and the log properties read.
 */
import { PAGE_SIZE } from '../../geometry.ts';
import { readWord } from '../../memory.ts';
import { type Nic, nicArrive } from '../../nic.ts';
import type { Machine } from '../../state.ts';
import type { Design, NetworkPolicy } from '../design.ts';
import { hostIo } from '../io.ts';
import { routeMsi } from '../iommu.ts';
import { guestBase } from '../layout.ts';
import type { HostMachine } from '../machine.ts';
import { injectInterrupt } from '../toolkit.ts';

/** A bridge's forwarding entry: frames to `mac` go to guest port `port`, or to the uplink (the physical card). */
export interface BridgeEntry {
  readonly mac: number;
  readonly port: number | 'uplink';
  /** Configured by the hypervisor (a guest port), rather than learned from a source address. */
  readonly static: boolean;
}

/** A VMDq receive queue's filter, as the hypervisor programmed it into the card's sorter. */
export interface VmdqQueue {
  readonly mac: number;
  /** Frames matching `mac` are queued (true) or dropped by the card (false). */
  readonly accept: boolean;
  /** The card also copies every other frame into this queue (promiscuous replication). */
  readonly replicate: boolean;
}

/** What the physical function (the hypervisor) programmed for one virtual function. */
export interface VfConfig {
  /** The MAC the PF assigned: the embedded switch's entry for the VF. */
  readonly mac: number;
  /** Drop frames whose source MAC is not `mac`. */
  readonly spoofCheck: boolean;
  /** The VF's receive stops while its own MAC register differs from `mac` (else the entry follows the register). */
  readonly macLock: boolean;
  /** A trusted VF in promiscuous mode gets a copy of every frame. */
  readonly trusted: boolean;
}

/** The physical card's configuration, by network design. */
export type CardState =
  | { readonly kind: 'none' }
  | { readonly kind: 'bridge'; readonly promiscuous: boolean; readonly table: readonly BridgeEntry[] }
  | { readonly kind: 'vmdq'; readonly queues: readonly VmdqQueue[] }
  | { readonly kind: 'sriov'; readonly vfs: readonly VfConfig[] };

/** Who touches the physical card. */
export type CardOwner = 'hypervisor' | 'dom0';

/** The host's network state: assigned MACs, guest ports, the physical card and the back end's own state. */
export interface HostNet {
  /** Each guest port's MAC as the administrator assigned it (the card's MAC at boot; -1: no card). */
  readonly assigned: readonly number[];
  /** Each guest's card as it sees it (undefined: the guest has none, and no port). */
  readonly nics: readonly (Nic | undefined)[];
  /** Where the guests' cards are: the hypervisor's models (every access traps) or virtual functions (passed through). */
  readonly placement: 'model' | 'vf';
  readonly owner: CardOwner;
  readonly card: CardState;
  /** Frames the outside world received, in order. */
  readonly world: readonly number[];
  /** Frames that left a guest's port onto the network, in order. */
  readonly left: readonly { readonly from: number; readonly frame: number }[];
  /** Frame copies made by software (the hypervisor or Dom0): the efficiency measure. */
  readonly copies: number;
  /** Frames queued into guests' cards. */
  readonly delivered: number;
}

/** The network of a fresh host: each guest's card from its boot machine, nothing behind them yet. */
export const bareNet = (guests: readonly Machine[]): HostNet => ({
  assigned: guests.map((m) => m.nic?.mac ?? -1),
  nics: guests.map((m) => m.nic),
  placement: 'model',
  owner: 'hypervisor',
  card: { kind: 'none' },
  world: [],
  left: [],
  copies: 0,
  delivered: 0,
});

/** The policy of a design's axes, `reject` where unset. */
export const policyOf = (d: Design): NetworkPolicy => ({
  promiscuous: d.axes.netPolicy?.promiscuous ?? 'reject',
  macChanges: d.axes.netPolicy?.macChanges ?? 'reject',
  forgedTransmits: d.axes.netPolicy?.forgedTransmits ?? 'reject',
});

/** The host with its network patched. */
export const withNet = (h: HostMachine, patch: Partial<HostNet>): HostMachine =>
  h.net ? { ...h, net: { ...h.net, ...patch } } : h;

/** Guest `g`'s card, if it has one. */
export const guestNic = (h: HostMachine, g: number): Nic | undefined => h.net?.nics[g];

/** The host with guest `g`'s card replaced. */
export const withGuestNic = (h: HostMachine, g: number, nic: Nic | undefined): HostMachine => {
  const net = h.net;
  if (!net || !nic || net.nics[g] === nic) return h;
  return { ...h, net: { ...net, nics: net.nics.map((n, i) => (i === g ? nic : n)) } };
};

/** The virtual function the running guest's port I/O reaches directly, if its card is one. */
export const passedThroughNic = (h: HostMachine, g: number): Nic | undefined =>
  h.net?.placement === 'vf' ? h.net.nics[g] : undefined;

/** The word at guest-physical address `gpa` of guest `g`, read by software that checks it is the guest's memory. */
export const guestWord = (h: HostMachine, g: number, gpa: number): number | undefined =>
  gpa < h.config.guestGeometry.frames * PAGE_SIZE
    ? readWord(h.memory, guestBase(h.config, g) * PAGE_SIZE + gpa)
    : undefined;

/** Record a frame leaving guest `g`'s port onto the network. */
export const leaving = (h: HostMachine, g: number, frame: number): HostMachine =>
  withNet(h, { left: [...(h.net?.left ?? []), { from: g, frame }] });

/** The physical card puts a frame on the wire; `copied`: software copied it there. */
export const toWorld = (h: HostMachine, frame: number, copied: boolean): HostMachine =>
  withNet(h, { world: [...(h.net?.world ?? []), frame], copies: (h.net?.copies ?? 0) + (copied ? 1 : 0) });

/** Frame copies made by software. */
export const copied = (h: HostMachine, n = 1): HostMachine => withNet(h, { copies: (h.net?.copies ?? 0) + n });

/**
 * Offer `frame` to guest `p`'s card: its receive filter decides; a queued frame sends the card's
 * interrupt, injected by the hypervisor (a card it models) or routed by interrupt remapping from
 * the requester id `rid` (a virtual function), exactly as a device's MSI is. `byCopy`: software
 * copied the frame in.
 */
export const deliver = (
  d: Design,
  h: HostMachine,
  p: number,
  frame: number,
  how: { readonly byCopy: boolean; readonly rid?: number },
): HostMachine => {
  const nic = guestNic(h, p);
  if (!nic) return h;
  const r = nicArrive(nic, frame);
  if (!r.queued) return h;
  const net = h.net!;
  const h1: HostMachine = {
    ...h,
    net: {
      ...net,
      nics: net.nics.map((n, i) => (i === p ? r.nic : n)),
      delivered: net.delivered + 1,
      copies: net.copies + (how.byCopy ? 1 : 0),
    },
  };
  if (r.msi === undefined) return h1;
  if (how.rid === undefined) return injectInterrupt(d, h1, p, r.msi);
  const io = hostIo(h1);
  const target = routeMsi(io.iommu, io.hostVectors, how.rid, r.msi);
  return target.kind === 'guest' ? injectInterrupt(d, h1, target.guest, target.vector) : h1;
};

/** Is port `p` blocked by the MAC-changes policy (reject: a guest whose MAC is not its assigned one receives nothing)? */
export const macChangeBlocks = (policy: NetworkPolicy, h: HostMachine, p: number): boolean =>
  policy.macChanges === 'reject' && h.net !== undefined && h.net.nics[p]?.mac !== h.net.assigned[p];
