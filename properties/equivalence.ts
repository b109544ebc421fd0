/**
 * Equivalence (a simulation check, DESIGN.md §4): after every guest operation, the guest's view
 * of the host is one of the states bare metal permits from the guest's reference states so far
 * (the permitted set is followed as a frontier, properties/frontier.ts, so TLB freedom is honoured).
 *
 * Fast path, with the same verdicts: the frontier's first state is always the guest's canonical
 * reference state (the canonical successor of the first state comes first among the successors,
 * and while it matches it stays first). So while the view equals the canonical reference after
 * each of the guest's steps (the trace's `canonical`), the step is permitted and nothing needs
 * enumerating. At the guest's first step where it does not, the frontier is rebuilt exhaustively
 * from the guest's first step and followed exhaustively from then on.
 */
import { formatOp, type Machine } from '../model/index.ts';
import { diffMachines, renderDiff } from './diff.ts';
import { advanceFrontier } from './frontier.ts';
import { atBoundary, idealDeliveries, networkDivergence, withArrivals } from './network/equivalence.ts';
import type { Property, PropertyFailure } from './property.ts';
import type { Trace, TraceStep } from './trace.ts';

/** The failure at step `s`: the guest's view is not among bare metal's permitted states (`bare`: the first). */
const notPermitted = (s: TraceStep, bare: Machine): PropertyFailure => {
  const diff = diffMachines(bare, s.view);
  return {
    step: s.index,
    guest: s.guest,
    message: `after ${formatOp(s.op)}, guest ${s.guest} sees a state bare metal does not permit: ${renderDiff(diff, 'bare metal', 'design')}`,
    expected: diff.map((d) => `${d.field} ${d.a}`).join(', '),
    actual: diff.map((d) => `${d.field} ${d.b}`).join(', '),
  };
};

/**
 * The first step whose view bare metal does not permit. `exhaustive` follows every guest's whole
 * frontier at every step (the definition; the fast path is tested to agree with it).
 */
export const checkEquivalence = (trace: Trace, exhaustive = false): PropertyFailure | undefined => {
  // Per guest: its frontier, or undefined while it has followed its canonical reference run.
  const frontiers: (readonly Machine[] | undefined)[] = trace.guests.map((m) => (exhaustive ? [m] : undefined));
  for (const s of trace.steps) {
    let frontier = frontiers[s.guest];
    if (frontier === undefined) {
      if (s.canonical) continue;
      // Rebuild the frontier from the guest's initial machine: every earlier step was permitted.
      frontier = [trace.guests[s.guest]!];
      for (const t of trace.steps) {
        if (t.index >= s.index) break;
        if (t.guest === s.guest) frontier = advanceFrontier(frontier, t.op, t.view).next;
      }
    }
    const { successors, next } = advanceFrontier(frontier, s.op, s.view);
    if (next.length === 0) {
      return notPermitted(s, successors[0]!);
    }
    frontiers[s.guest] = next;
  }
  return undefined;
};

/**
 * Equivalence for guests with network cards: each guest's frontier is followed exhaustively, with
 * the frames the ideal switch delivered to it (in its own time slice or while it waited) added to
 * every permitted state before the comparison; the network itself against the ideal switch is
 * reported where it first fails.
 */
export const checkNetworkEquivalence = (trace: Trace): PropertyFailure | undefined => {
  const frontiers: (readonly Machine[])[] = trace.guests.map((m) => [m]);
  const net = networkDivergence(trace);
  // Guests whose cards received frames while they were not running.
  const waiting = trace.guests.map(() => false);
  for (const s of trace.steps) {
    if (net && net.step <= s.index) return net;
    const own = idealDeliveries(trace, s.index, s.guest);
    const from = waiting[s.guest] ? frontiers[s.guest]!.map(atBoundary) : frontiers[s.guest]!;
    waiting[s.guest] = false;
    const { successors, next } = advanceFrontier(from, s.op, s.view, (m) => withArrivals(m, own, true));
    if (next.length === 0) return notPermitted(s, successors[0]!);
    frontiers[s.guest] = next;
    frontiers.forEach((f, p) => {
      const arrived = p === s.guest ? [] : idealDeliveries(trace, s.index, p);
      if (arrived.length === 0) return;
      frontiers[p] = f.map((m) => withArrivals(m, arrived, false));
      waiting[p] = true;
    });
  }
  return net;
};

export const equivalence: Property = {
  name: 'equivalence',
  description: 'a guest sees only what the bare machine could have shown it (simulation against the reference)',
  // Network scenarios follow the frontier with the ideal switch's arrivals, which the trace's
  // canonical reference run does not model: they take the exhaustive path.
  check: (_design, _scenario, trace) => (trace.ideal ? checkNetworkEquivalence(trace) : checkEquivalence(trace)),
};
