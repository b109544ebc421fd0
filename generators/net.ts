/**
 * Network scenarios: 2 to 4 guests, each with a network card on its own MAC (0x10 + its index),
 * and the outside world, with interleaved runs mixing the network (MAC and control writes,
 * transmits, receives, frames from the world) with memory, paging and interrupt operations.
 *
 * Biased toward collisions (DESIGN.md §5): frames are written to memory and transmitted as a
 * driver does; source MACs are mostly the sender's own, sometimes a neighbour's (forged);
 * destinations are neighbours, broadcast, the sender itself, an outside host or unknown; MAC
 * changes go to a neighbour's address, an unknown one or back to the guest's own; receive
 * interrupts use vectors that collide; transmit descriptors sometimes point just past the
 * guest's memory, where a neighbour's memory lies in the host. `values: 'uniform'` draws the same
 * operations with uniform MACs, frames and addresses, to measure what the bias buys.
 */
import fc from 'fast-check';
import {
  BRIDGE_LEARNED_LIMIT,
  BROADCAST_MAC,
  bootFrames,
  DEFAULT_GEOMETRY,
  frame,
  type Geometry,
  linear,
  NIC_CONTROL,
  NIC_PORT_BASE,
  NIC_REG,
  NIC_RX_LIMIT,
  type Op,
  type OpKind,
  PAGE_SIZE,
  type Reg,
  TIMER_VECTOR,
} from '../model/index.ts';
import type { MotifName, Scenario } from './host.ts';
import { arbGuestSpec, arbOpOfKind } from './reference.ts';

/** Guest g's card's MAC in generated scenarios. */
export const guestMac = (g: number): number => 0x10 + g;
/** MACs of hosts in the outside world. */
export const WORLD_MACS: readonly number[] = [0xe0, 0xe1];
/** A MAC no card and no outside host has. */
export const UNKNOWN_MAC = 0x77;
/**
 * Source MACs of a capacity run's flood (the macof class): FLOOD_MAC_BASE + i, distinct from the
 * guests', the outside hosts', the unknown one and broadcast.
 */
export const FLOOD_MAC_BASE = 0x80;

/** Who a MAC in a generated frame stands for, resolved once the guest and the guest count are known. */
type MacRole = 'self' | 'next' | 'prev' | 'broadcast' | 'world' | 'unknown' | { readonly literal: number };

const resolveMac = (role: MacRole, g: number, n: number): number => {
  if (typeof role === 'object') return role.literal & 0xff;
  switch (role) {
    case 'self':
      return guestMac(g);
    case 'next':
      return guestMac((g + 1) % n);
    case 'prev':
      return guestMac((g + n - 1) % n);
    case 'broadcast':
      return BROADCAST_MAC;
    case 'world':
      return WORLD_MACS[0]!;
    case 'unknown':
      return UNKNOWN_MAC;
  }
};

/** A run of one guest, with MACs by role: resolved by `resolveRun`. */
type NetRun =
  | {
      readonly kind: 'send';
      readonly src: MacRole;
      readonly dst: MacRole;
      readonly payload: number;
      readonly reg: Reg;
      readonly page: readonly [number, number, number];
      /** Where the descriptor points: the stored frame, or the same offset of the frame just past the guest's memory. */
      readonly at: 'stored' | 'beyond' | { readonly literal: number };
    }
  | { readonly kind: 'mac'; readonly mac: MacRole }
  | { readonly kind: 'control'; readonly promiscuous: boolean; readonly vector: number }
  | { readonly kind: 'receive'; readonly status: boolean }
  | { readonly kind: 'world'; readonly src: MacRole; readonly dst: MacRole; readonly payload: number }
  | { readonly kind: 'ops'; readonly ops: readonly Op[] }
  /**
   * The `capacity` motif: drive a bounded table past its limit, then use what it should still
   * hold. `table`: frames from the outside world with `count` distinct source MACs (the bridge's
   * learned-address limit and more), then a frame to the first of them from the guest (it must
   * reach the uplink, not a guest), or one from the world to the guest (its static entry must
   * survive the flood). `ring`: `count` frames to the guest (the card's receive queue's limit and
   * more), then the guest reads its receive queue as many times and its status.
   */
  | {
      readonly kind: 'capacity';
      readonly table: 'table' | 'ring';
      readonly count: number;
      readonly after: 'toFirst' | 'toGuest' | 'fromFirst';
      readonly payload: number;
    };

const port = (r: number) => NIC_PORT_BASE + r;

const resolveRun = (run: NetRun, g: number, n: number, geo: Geometry): Op[] => {
  const mac = (r: MacRole) => resolveMac(r, g, n);
  switch (run.kind) {
    case 'send': {
      const [d, t, w] = run.page;
      const gpa = bootFrames(geo).data(d, t) * PAGE_SIZE + w * 4;
      const at = run.at === 'stored' ? gpa : run.at === 'beyond' ? geo.frames * PAGE_SIZE + gpa : run.at.literal & ~3;
      return [
        { kind: 'movImm', dst: run.reg, imm: frame(mac(run.src), mac(run.dst), run.payload) },
        { kind: 'store', va: linear(d, t, w), src: run.reg },
        { kind: 'movImm', dst: 0, imm: at >>> 0 },
        { kind: 'out', port: port(NIC_REG.TX) },
      ];
    }
    case 'mac':
      return [
        { kind: 'movImm', dst: 0, imm: mac(run.mac) },
        { kind: 'out', port: port(NIC_REG.MAC) },
      ];
    case 'control':
      return [
        { kind: 'movImm', dst: 0, imm: (run.promiscuous ? NIC_CONTROL.PROMISCUOUS : 0) | (run.vector << 8) },
        { kind: 'out', port: port(NIC_REG.CONTROL) },
      ];
    case 'receive':
      return [{ kind: 'in', port: port(run.status ? NIC_REG.CONTROL : NIC_REG.RX) }];
    case 'world':
      return [{ kind: 'frameIn', frame: frame(mac(run.src), mac(run.dst), run.payload) }];
    case 'ops':
      return [...run.ops];
    case 'capacity': {
      const flood = (i: number): number => (FLOOD_MAC_BASE + i) & 0xff;
      if (run.table === 'ring') {
        const frames: Op[] = Array.from({ length: run.count }, (_, i) => ({
          kind: 'frameIn',
          frame: frame(WORLD_MACS[0]!, guestMac(g), (run.payload + i) & 0xffff),
        }));
        const reads: Op[] = Array.from({ length: run.count }, () => ({ kind: 'in', port: port(NIC_REG.RX) }));
        return [...frames, ...reads, { kind: 'in', port: port(NIC_REG.CONTROL) }];
      }
      const frames: Op[] = Array.from({ length: run.count }, (_, i) => ({
        kind: 'frameIn',
        frame: frame(flood(i), UNKNOWN_MAC, (run.payload + i) & 0xffff),
      }));
      const last: Op[] =
        run.after === 'toGuest'
          ? [{ kind: 'frameIn', frame: frame(WORLD_MACS[0]!, guestMac((g + 1) % n), run.payload) }]
          : run.after === 'fromFirst'
            ? [{ kind: 'frameIn', frame: frame(flood(0), guestMac((g + 1) % n), run.payload) }]
            : resolveRun(
                {
                  kind: 'send',
                  src: 'self',
                  dst: { literal: flood(0) },
                  payload: run.payload,
                  reg: 1,
                  page: [1, Math.min(2, geo.tableEntries - 1), 0],
                  at: 'stored',
                },
                g,
                n,
                geo,
              );
      // The card's receive queue read once, so that what reached this guest is observed.
      return [...frames, ...last, { kind: 'in', port: port(NIC_REG.RX) }];
    }
  }
};

/**
 * Memory, paging and interrupt kinds mixed in with the network. Guests run their drivers in the
 * kernel (CPL 0) and never IRET to user mode: user mode is where the CPU axis of `bt` and `xen-pv`
 * is known not to be equivalent (README, the "Red Pill"), which is not what these scenarios test.
 */
export const NET_MIX_KINDS: readonly OpKind[] = Object.freeze([
  'load',
  'store',
  'movImm',
  'invlpg',
  'cli',
  'sti',
  'pushf',
  'popf',
  'int',
  'hlt',
  'timer',
]);

const arbRole = (roles: readonly (MacRole | 'literal')[], uniform: boolean): fc.Arbitrary<MacRole> =>
  uniform
    ? fc.nat({ max: 0xff }).map((literal) => ({ literal }))
    : fc
        .constantFrom(...roles)
        .chain((r) => (r === 'literal' ? fc.nat({ max: 0xff }).map((literal) => ({ literal })) : fc.constant(r)));

/**
 * The `capacity` motif's runs: a table driven to its limit and one or two more (BRIDGE_LEARNED_LIMIT,
 * NIC_RX_LIMIT, from the model), the counts shrinking toward the limit plus one.
 */
const arbCapacityRun = (): fc.Arbitrary<NetRun> =>
  fc
    .record({
      table: fc.constantFrom('table' as const, 'ring' as const),
      extra: fc.integer({ min: 1, max: 2 }),
      after: fc.constantFrom('toFirst' as const, 'toGuest' as const, 'fromFirst' as const),
      payload: fc.nat({ max: 0xffff }),
    })
    .map(({ table, extra, after, payload }) => ({
      kind: 'capacity' as const,
      table,
      count: (table === 'table' ? BRIDGE_LEARNED_LIMIT : NIC_RX_LIMIT) + extra,
      after,
      payload,
    }));

const arbRun = (geo: Geometry, uniform: boolean, motifs: readonly MotifName[]): fc.Arbitrary<NetRun> => {
  // Frame buffers: the first word of two data pages, so that a transmit and another guest's store
  // meet (with two words per page as well, a descriptor past the sender's memory met a
  // neighbour's frame four times less often: 870 sequences to find the unchecked grant, now 130).
  const page = uniform
    ? fc.tuple(
        fc.integer({ min: 1, max: Math.max(1, geo.dirEntries - 2) }),
        fc.integer({ min: 0, max: geo.tableEntries - 1 }),
        fc.integer({ min: 0, max: geo.wordsPerPage - 1 }),
      )
    : fc.tuple(
        fc.constant(1),
        fc.integer({ min: Math.min(2, geo.tableEntries - 1), max: Math.min(3, geo.tableEntries - 1) }),
        fc.constant(0),
      );
  const send = fc.record({
    kind: fc.constant('send' as const),
    src: arbRole(['self', 'self', 'self', 'next', 'prev', 'literal'], uniform),
    dst: arbRole(['next', 'broadcast', 'prev', 'world', 'unknown', 'self'], uniform),
    payload: fc.nat({ max: 0xffff }),
    reg: fc.constantFrom<Reg>(1, 2, 3),
    page,
    at: uniform
      ? fc.nat({ max: (2 * geo.frames * PAGE_SIZE) / 4 - 1 }).map((w) => ({ literal: w * 4 }))
      : fc.constantFrom<'stored' | 'beyond'>('stored', 'beyond'),
  });
  const mac = fc.record({
    kind: fc.constant('mac' as const),
    mac: arbRole(['next', 'prev', 'unknown', 'self'], uniform),
  });
  const control = fc.record({
    kind: fc.constant('control' as const),
    promiscuous: fc.boolean().map((b) => !b),
    vector: uniform ? fc.nat({ max: 0xff }) : fc.constantFrom(0x30, 0x31, TIMER_VECTOR, 0),
  });
  const receive = fc.record({ kind: fc.constant('receive' as const), status: fc.boolean() });
  const world = fc.record({
    kind: fc.constant('world' as const),
    src: arbRole(['world', 'next', 'literal'], uniform),
    dst: arbRole(['broadcast', 'self', 'next', 'unknown', 'world'], uniform),
    payload: fc.nat({ max: 0xffff }),
  });
  const ops = fc
    .array(fc.oneof(...NET_MIX_KINDS.map((k) => arbOpOfKind(geo, k))), { minLength: 1, maxLength: 3 })
    .map((o) => ({ kind: 'ops' as const, ops: o }));
  return fc.oneof(
    { weight: 4, arbitrary: send },
    { weight: 2, arbitrary: mac },
    { weight: 2, arbitrary: control },
    { weight: 2, arbitrary: receive },
    { weight: 3, arbitrary: world },
    { weight: 3, arbitrary: ops },
    ...(!uniform && motifs.includes('capacity') ? [{ weight: CAPACITY_WEIGHT, arbitrary: arbCapacityRun() }] : []),
  );
};

/**
 * The `capacity` run's weight among the runs (sends 4, MAC and control writes 2 each, receives 2,
 * world frames 3, other operations 3), chosen by measurement (bench/RESULTS.md, issue 20).
 */
export const NET_CAPACITY_WEIGHT = 1;
const CAPACITY_WEIGHT = NET_CAPACITY_WEIGHT;

export interface NetScenarioOptions {
  readonly geometry?: Geometry;
  readonly minGuests?: number;
  readonly maxGuests?: number;
  /** Operations at most. */
  readonly maxOps?: number;
  /** Collisions by design (default) or uniform MACs, frames and addresses. */
  readonly values?: 'biased' | 'uniform';
  /** Motifs biased scenarios draw from (of MOTIF_NAMES, network scenarios use `capacity`; default: every one). */
  readonly motifs?: readonly MotifName[];
}

/** Network scenarios (see the module comment). */
export const arbNetScenario = (o: NetScenarioOptions = {}): fc.Arbitrary<Scenario> => {
  const geo = o.geometry ?? DEFAULT_GEOMETRY;
  const minGuests = o.minGuests ?? 2;
  const maxGuests = o.maxGuests ?? 4;
  const maxOps = o.maxOps ?? 24;
  const uniform = o.values === 'uniform';
  return fc
    .record({
      guests: fc.array(arbGuestSpec(geo, [0]), { minLength: minGuests, maxLength: maxGuests }),
      runs: fc.array(fc.tuple(fc.nat({ max: maxGuests - 1 }), arbRun(geo, uniform, o.motifs ?? ['capacity'])), {
        minLength: 1,
        maxLength: Math.max(1, Math.ceil(maxOps / 2)),
      }),
    })
    .map(({ guests, runs }) => ({
      geometry: geo,
      guests: guests.map((spec, g) => ({ ...spec, nic: guestMac(g) })),
      ops: runs
        .flatMap(([guest, run]) => {
          const g = guest % guests.length;
          return resolveRun(run, g, guests.length, geo).map((op) => ({ guest: g, op }));
        })
        .slice(0, maxOps),
    }));
};
