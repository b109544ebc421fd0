/**
 * Equivalence (a simulation check, DESIGN.md §4): after every guest operation, the guest's view
 * of the host is one of the states bare metal permits from the guest's reference states so far
 * (the permitted set is followed as a frontier, so TLB freedom is honoured).
 */
import { formatOp, type Machine, permitted, sameArchitecturalState } from '../model/index.ts';
import { diffMachines, renderDiff } from './diff.ts';
import { atBoundary, idealDeliveries, networkDivergence, withArrivals } from './network/equivalence.ts';
import type { Property } from './property.ts';
import { viewAfter } from './trace.ts';

const FRONTIER_LIMIT = 32;

export const equivalence: Property = {
  name: 'equivalence',
  description: 'a guest sees only what the bare machine could have shown it (simulation against the reference)',
  check: (_design, _scenario, trace) => {
    const frontiers: Machine[][] = trace.guests.map((m) => [m]);
    // The network against the ideal switch (for guests with cards), reported where it first fails.
    const net = networkDivergence(trace);
    // Guests whose cards received frames while they were not running.
    const waiting = trace.guests.map(() => false);
    for (const s of trace.steps) {
      if (net && net.step <= s.index) return net;
      const view = viewAfter(trace, s);
      // Bare metal after the operation (and after the boundary before it, if frames reached the
      // guest meanwhile), with the frames the ideal switch delivered in its own time slice.
      const own = idealDeliveries(trace, s.index, s.guest);
      const from = waiting[s.guest] ? frontiers[s.guest]!.map(atBoundary) : frontiers[s.guest]!;
      waiting[s.guest] = false;
      const successors = from.flatMap((m) => permitted(m, s.op).map((x) => withArrivals(x.machine, own, true)));
      const matching = successors.filter((m) => sameArchitecturalState(m, view));
      if (matching.length === 0) {
        const diff = diffMachines(successors[0]!, view);
        return {
          step: s.index,
          guest: s.guest,
          message: `after ${formatOp(s.op)}, guest ${s.guest} sees a state bare metal does not permit: ${renderDiff(diff, 'bare metal', 'design')}`,
          expected: diff.map((d) => `${d.field} ${d.a}`).join(', '),
          actual: diff.map((d) => `${d.field} ${d.b}`).join(', '),
        };
      }
      const next: Machine[] = [];
      // Matching states differ only in their TLBs (the architectural part matched): keep one per TLB content.
      const seen = new Set<string>();
      for (const m of matching) {
        const key = JSON.stringify(m.tlb);
        if (next.length < FRONTIER_LIMIT && !seen.has(key)) {
          seen.add(key);
          next.push(m);
        }
      }
      frontiers[s.guest] = next;
      frontiers.forEach((f, p) => {
        const arrived = p === s.guest ? [] : idealDeliveries(trace, s.index, p);
        if (arrived.length === 0) return;
        frontiers[p] = f.map((m) => withArrivals(m, arrived, false));
        waiting[p] = true;
      });
    }
    return net;
  },
};
