/**
 * Equivalence (a simulation check, DESIGN.md §4): after every guest operation, the guest's view
 * of the host is one of the states bare metal permits from the guest's reference states so far
 * (the permitted set is followed as a frontier, so TLB freedom is honoured).
 */
import { formatOp, type Machine, permitted, sameArchitecturalState } from '../model/index.ts';
import { diffMachines, renderDiff } from './diff.ts';
import type { Property } from './property.ts';
import { viewAfter } from './trace.ts';

const FRONTIER_LIMIT = 32;

export const equivalence: Property = {
  name: 'equivalence',
  description: 'a guest sees only what the bare machine could have shown it (simulation against the reference)',
  check: (_design, _scenario, trace) => {
    const frontiers: Machine[][] = trace.guests.map((m) => [m]);
    for (const s of trace.steps) {
      const view = viewAfter(trace, s);
      const successors = frontiers[s.guest]!.flatMap((m) => permitted(m, s.op).map((x) => x.machine));
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
    }
    return undefined;
  },
};
