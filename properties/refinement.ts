/**
 * The first equivalence check (a simulation, DESIGN.md §4): run the same guest operations on
 * the hosted machine and on the bare-metal reference, and after every step require the guest's
 * view of the host (the abstraction function) to be one of the states the reference permits.
 * The reference's permitted set is followed as a frontier, so stale-TLB freedom is honoured.
 */
import { sameArchitecturalState } from '../model/compare.ts';
import type { Design } from '../model/host/design.ts';
import type { HostMachine } from '../model/host/machine.ts';
import { type GuestOp, hostStep, hostSwitch } from '../model/host/run.ts';
import { guestView } from '../model/host/toolkit.ts';
import type { Machine } from '../model/state.ts';
import { advanceFrontier } from './frontier.ts';

/** Where a hosted run first left what bare metal permits. */
export interface Divergence {
  /** Index of the operation after which the guest's view was not permitted. */
  readonly step: number;
  readonly guest: number;
  readonly op: GuestOp['op'];
  /** The guest's view of the host after the step. */
  readonly hosted: Machine;
  /** What the reference permitted (architectural states, deduplicated). */
  readonly permitted: readonly Machine[];
}

/** A run compared with the reference: the first divergence if any, the final host, and the nondeterministic steps. */
export interface RefinementResult {
  readonly divergence?: Divergence;
  readonly host: HostMachine;
  /** Steps at which the reference permitted more than one architectural state. */
  readonly nondeterministicSteps: number;
}

/**
 * Run `ops` on the host and on one reference machine per guest (guests' initial machines are
 * the host's initial views), checking each guest's view after every one of its operations.
 */
export const checkRefinement = (design: Design, h0: HostMachine, ops: readonly GuestOp[]): RefinementResult => {
  let h = h0;
  const frontiers: Machine[][] = h0.guests.map((g) => [guestView(design, h0, g.id)]);
  let nondeterministicSteps = 0;
  for (let i = 0; i < ops.length; i++) {
    const { guest, op } = ops[i]!;
    h = hostStep(design, hostSwitch(design, h, guest), op);
    const view = guestView(design, h, guest);
    const { successors, next } = advanceFrontier(frontiers[guest]!, op, view);
    const distinct: Machine[] = [];
    for (const s of successors) if (!distinct.some((d) => sameArchitecturalState(d, s))) distinct.push(s);
    if (distinct.length > 1) nondeterministicSteps++;
    if (next.length === 0)
      return { divergence: { step: i, guest, op, hosted: view, permitted: distinct }, host: h, nondeterministicSteps };
    frontiers[guest] = [...next];
  }
  return { host: h, nondeterministicSteps };
};
