/**
 * The reference's permitted states followed as a frontier (DESIGN.md §4, equivalence): the set of
 * bare-metal states a guest may be in after its operations so far. Every permitted successor that
 * agrees with what the guest saw stays; the others go. The states of a frontier agree on everything
 * software can read and differ only in their TLBs, which is where the architecture's freedom
 * (stale translations) lives.
 */
import { type Machine, type Op, type Outcome, permitted, sameArchitecturalState } from '../model/index.ts';

/** States kept per frontier at most (one per TLB content, in the order found). */
export const FRONTIER_LIMIT = 32;

/** One step of a frontier. */
export interface FrontierStep {
  /** Every permitted successor of every state, in frontier order then choice order (canonical first). */
  readonly successors: readonly Machine[];
  /** The outcome of each successor (parallel to `successors`): what a trace shows of each behaviour. */
  readonly outcomes: readonly Outcome[];
  /** The successors architecturally equal to `view`, one per TLB content; empty: `view` is not permitted. */
  readonly next: readonly Machine[];
}

/**
 * Advance `frontier` by `op`, keeping the successors that agree with the guest's `view`; `after`
 * adds what happened to each successor outside the guest's instruction (frames that arrived).
 */
export const advanceFrontier = (
  frontier: readonly Machine[],
  op: Op,
  view: Machine,
  after: (m: Machine) => Machine = (m) => m,
): FrontierStep => {
  const all = frontier.flatMap((m) => permitted(m, op));
  const successors = all.map((s) => after(s.machine));
  const next: Machine[] = [];
  // Matching states differ only in their TLBs (the architectural part matched): keep one per TLB content.
  const seen = new Set<string>();
  for (const m of successors) {
    if (next.length >= FRONTIER_LIMIT || !sameArchitecturalState(m, view)) continue;
    const key = JSON.stringify(m.tlb);
    if (seen.has(key)) continue;
    seen.add(key);
    next.push(m);
  }
  return { successors, outcomes: all.map((s) => s.outcome), next };
};
