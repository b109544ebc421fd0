/**
 * A hosted run of a scenario, recorded step by step, with the reference run of each guest
 * beside it: what every property reads.
 */

import type { Scenario } from '../generators/host.ts';
import { bootGuest } from '../generators/reference.ts';
import {
  createHost,
  type Design,
  guestView,
  type HostMachine,
  type HowRan,
  hostStepTraced,
  hostSwitch,
  type Machine,
  type Op,
  step,
} from '../model/index.ts';
import { type IdealStep, idealRun } from './network/ideal.ts';

/** One guest operation of a hosted run. */
export interface TraceStep {
  readonly index: number;
  readonly guest: number;
  readonly op: Op;
  /** The host just before the operation (after any guest switch). */
  readonly before: HostMachine;
  readonly after: HostMachine;
  readonly ran: HowRan;
  /** Did bare metal raise an exception for this operation (canonical behaviour)? */
  readonly referenceFaulted: boolean;
}

export interface Trace {
  readonly design: Design;
  readonly initial: HostMachine;
  readonly guests: readonly Machine[];
  readonly steps: readonly TraceStep[];
  /** The reference network step by step (properties/network/ideal.ts), when guests have network cards. */
  readonly ideal?: readonly IdealStep[];
}

/** Real TLB entries in property runs: enough that generated workloads never evict (see README). */
export const PROPERTY_TLB_CAPACITY = 1024;

/** The guests' initial machines of a scenario. */
export const scenarioGuests = (s: Scenario): Machine[] => s.guests.map((spec) => bootGuest(spec, s.geometry));

/** Run a scenario on a design (operations may be replaced, for isolation's second run). */
export const runScenario = (design: Design, s: Scenario, ops: Scenario['ops'] = s.ops): Trace => {
  const guests = scenarioGuests(s);
  const initial = createHost(design, guests, { tlbCapacity: PROPERTY_TLB_CAPACITY });
  let h = initial;
  const refs = guests.slice();
  const steps: TraceStep[] = [];
  ops.forEach(({ guest, op }, index) => {
    const before = hostSwitch(design, h, guest);
    const { host: after, ran } = hostStepTraced(design, before, op);
    const r = step(refs[guest]!, op);
    refs[guest] = r.machine;
    steps.push({
      index,
      guest,
      op,
      before,
      after,
      ran,
      referenceFaulted: r.outcome.status === 'faulted' || r.outcome.status === 'shutdown',
    });
    h = after;
  });
  return { design, initial, guests, steps, ...(guests.some((m) => m.nic) ? { ideal: idealRun(guests, ops) } : {}) };
};

/** A guest's view after a step (the abstraction function). */
export const viewAfter = (t: Trace, s: TraceStep, g = s.guest): Machine => guestView(t.design, s.after, g);
