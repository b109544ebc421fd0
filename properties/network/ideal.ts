/**
 * The reference network (issue 12): every guest's bare machine has a card on one ideal switch,
 * together with the outside world. The switch is defined over the global interleaved sequence,
 * so it is the multi-guest part of the reference: what each guest is entitled to receive.
 *
 * The ideal switch, as the issue defines it, with the three policies of a virtual switch at
 * `reject` (what a guest is entitled to, not what a lenient configuration allows):
 * - a frame from a guest whose source MAC is not the guest's assigned MAC is dropped (forged);
 * - a broadcast goes to every other guest port and to the outside world;
 * - a unicast goes to the port whose assigned MAC it carries (never back to its sender), and any
 *   other unicast from a guest to the outside world; from the outside world, only to a port;
 * - a port whose card's MAC is not its assigned MAC receives nothing (MAC changes rejected);
 * - a port never receives a frame addressed to another, whatever its card's promiscuous mode;
 * - frames keep their order (one switch, one sequence).
 * A frame offered to a port then meets the port's own card (its receive filter, its queue, its
 * interrupt: model/nic.ts), as on bare metal.
 */
import type { ScenarioOp } from '../../generators/host.ts';
import {
  BROADCAST_MAC,
  deliverPending,
  frameDst,
  frameSrc,
  type Machine,
  type Nic,
  nicArrive,
  nicServed,
  PAGE_SIZE,
  permitted,
  readWord,
  sameArchitecturalState,
  step,
} from '../../model/index.ts';

/** Where the ideal switch sends a frame. */
export interface IdealRoute {
  readonly guests: readonly number[];
  readonly world: boolean;
}

/** The ideal switch's route for frame `f` from `source` (a guest, or the outside world). */
export const idealRoute = (
  assigned: readonly number[],
  nics: readonly (Nic | undefined)[],
  source: number | 'world',
  f: number,
): IdealRoute => {
  if (source !== 'world' && frameSrc(f) !== assigned[source]) return { guests: [], world: false };
  const open = (p: number) => p !== source && nics[p] !== undefined && nics[p]!.mac === assigned[p];
  const ports = assigned.map((_, p) => p);
  const dst = frameDst(f);
  if (dst === BROADCAST_MAC) return { guests: ports.filter(open), world: source !== 'world' };
  if (assigned.includes(dst)) return { guests: ports.filter((p) => assigned[p] === dst && open(p)), world: false };
  return { guests: [], world: source !== 'world' };
};

/**
 * A frame reaches a bare machine's card: its receive filter and queue decide, and its MSI becomes
 * a pending interrupt (one per vector, as in the local APIC's IRR: a second MSI of a vector still
 * pending is the same interrupt). `now`: the machine is at an instruction boundary (the frame came
 * in its own time slice), so what its IF allows is delivered at once; otherwise it is delivered at
 * the boundary before the guest's next instruction (`atBoundary`).
 */
export const arrive = (m: Machine, f: number, now: boolean): Machine => {
  if (!m.nic) return m;
  const r = nicArrive(m.nic, f);
  if (!r.queued) return m;
  const pending =
    r.msi === undefined || m.cpu.pending.includes(r.msi)
      ? m.cpu.pending
      : [...m.cpu.pending, r.msi].sort((a, b) => a - b);
  const arrived = { ...m, nic: r.nic, cpu: { ...m.cpu, pending } };
  return now ? atBoundary(arrived) : arrived;
};

/** A machine at an instruction boundary: the pending interrupts its IF and STI shadow allow are delivered. */
export const atBoundary = (m: Machine): Machine => deliverPending(m).machine;

/** The reference network after one operation. */
export interface IdealStep {
  /** Frames queued into guests' cards by this step. */
  readonly deliveries: readonly { readonly guest: number; readonly frame: number }[];
  /** Every frame the outside world has received so far. */
  readonly world: readonly number[];
  /** Every frame that has left a guest's port so far. */
  readonly left: readonly { readonly from: number; readonly frame: number }[];
  /** Each guest's bare machine after the step (canonical behaviour). */
  readonly machines: readonly Machine[];
}

/** The frame a bare machine's card fetches for a descriptor: the word at the address, if memory answers. */
const fetchFrame = (m: Machine, address: number): number | undefined =>
  address < m.geometry.frames * PAGE_SIZE ? readWord(m.memory, address) : undefined;

/** States kept per guest while the ideal follows its permitted behaviours (as properties/frontier.ts). */
const IDEAL_FRONTIER_LIMIT = 32;

/** One guest's step on the ideal switch: its machine after the step and what its card sent. */
interface Stepped {
  readonly machine: Machine;
  readonly sent: readonly number[];
}

/** A bare machine's step: the instruction, then its card's transmit queue served (the frames fetched). */
const bareStep = (m0: Machine): Stepped => {
  let m = m0;
  const sent: number[] = [];
  if (m.nic && m.nic.txq.length > 0) {
    for (const a of m.nic.txq) {
      const f = fetchFrame(m, a);
      if (f !== undefined) sent.push(f);
    }
    m = { ...m, nic: nicServed(m.nic) };
  }
  return { machine: m, sent };
};

/**
 * Run the guests' bare machines on the ideal switch, one step per operation.
 *
 * Bare metal may take any of its permitted behaviours (a TLB keeping a stale translation, SDM Vol.
 * 3A §4.10.4.3), and what a card sends depends on which it took (a store through a stale
 * translation writes the frame the doorbell then sends). Given `views` (the guest's view after each
 * operation), each guest's bare machine follows the permitted behaviours that agree with its view,
 * as equivalence's frontier does, so the switch carries what that bare machine sent; where none
 * agrees (the guest left what bare metal permits, which equivalence reports at that step) and
 * without views, it follows the canonical behaviour.
 */
export const idealRun = (
  guests: readonly Machine[],
  ops: readonly ScenarioOp[],
  views?: readonly (Machine | undefined)[],
): IdealStep[] => {
  const assigned = guests.map((m) => m.nic?.mac ?? -1);
  // Per guest: the bare states that agree with what it has seen (architecturally equal; they differ
  // only in their TLBs). The first is the one shown as the guest's ideal machine.
  const fs: Machine[][] = guests.map((m) => [m]);
  let world: number[] = [];
  let left: { from: number; frame: number }[] = [];
  const out: IdealStep[] = [];
  // Guests a frame reached while they were not running: their next instruction boundary comes first.
  const waiting = guests.map(() => false);
  for (const [i, { guest: g, op }] of ops.entries()) {
    const from = waiting[g] ? fs[g]!.map(atBoundary) : fs[g]!;
    waiting[g] = false;
    const view = views?.[i];
    const candidates: Stepped[] =
      view === undefined
        ? [bareStep(step(from[0]!, op).machine)]
        : from.flatMap((m) => permitted(m, op).map((s) => bareStep(s.machine)));
    // One candidate's switch step: routes, deliveries, and every guest's machine after it.
    const switchStep = (c: Stepped) => {
      const ms = fs.map((f) => f[0]!);
      ms[g] = c.machine;
      let w = world;
      let l = left;
      const deliveries: { guest: number; frame: number }[] = [];
      const reached = new Set<number>();
      const carry = (source: number | 'world', f: number) => {
        const r = idealRoute(
          assigned,
          ms.map((x) => x.nic),
          source,
          f,
        );
        if (source !== 'world' && (r.guests.length > 0 || r.world)) l = [...l, { from: source, frame: f }];
        if (r.world) w = [...w, f];
        for (const p of r.guests) {
          const before = ms[p]!;
          ms[p] = arrive(before, f, p === g);
          if (ms[p]!.nic !== before.nic) {
            deliveries.push({ guest: p, frame: f });
            reached.add(p);
          }
        }
      };
      for (const f of c.sent) carry(g, f);
      if (op.kind === 'frameIn') carry('world', op.frame);
      return { ms, world: w, left: l, deliveries, reached };
    };
    const results = candidates.map(switchStep);
    const agree = view === undefined ? [] : results.filter((r) => sameArchitecturalState(r.ms[g]!, view));
    const chosen = agree[0] ?? results[0]!;
    // The guest's frontier: every agreeing state, one per TLB content.
    const seen = new Set<string>();
    const next: Machine[] = [];
    for (const r of agree.length > 0 ? agree : [chosen]) {
      const key = JSON.stringify(r.ms[g]!.tlb);
      if (next.length >= IDEAL_FRONTIER_LIMIT || seen.has(key)) continue;
      seen.add(key);
      next.push(r.ms[g]!);
    }
    fs[g] = next;
    // Every other guest the frames reached: the same arrivals in each of its states.
    for (const p of chosen.reached) {
      if (p === g) continue;
      const frames = chosen.deliveries.filter((d) => d.guest === p).map((d) => d.frame);
      fs[p] = fs[p]!.map((m) => frames.reduce((x, f) => arrive(x, f, false), m));
      waiting[p] = true;
    }
    world = chosen.world;
    left = chosen.left;
    out.push({ deliveries: chosen.deliveries, world, left, machines: fs.map((f) => f[0]!) });
  }
  return out;
};
