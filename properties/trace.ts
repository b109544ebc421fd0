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
  sameArchitecturalState,
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
  /** The guest's view of the host after the operation (the abstraction function). */
  readonly view: Machine;
  /**
   * The guest's canonical reference run after the operation: `step` (bare metal with no cached
   * translations) applied to each of its operations so far, from its initial machine.
   */
  readonly reference: Machine;
  /** Does `view` agree with `reference` on everything software can read? */
  readonly canonical: boolean;
}

/** A run of a design recorded step by step: the design, the initial host, the guests, each step and the reference network. */
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

/** The host a scenario starts from. */
export const scenarioHost = (design: Design, guests: readonly Machine[]): HostMachine =>
  createHost(design, guests, { tlbCapacity: PROPERTY_TLB_CAPACITY });

/**
 * Run `ops[from..]` on the host `h` (the host after `ops[0..from-1]`), switching guests as they
 * interleave; `visit` sees each step and stops the run by returning true.
 */
export const runHost = (
  design: Design,
  h: HostMachine,
  ops: Scenario['ops'],
  visit: (index: number, before: HostMachine, after: HostMachine, ran: HowRan) => boolean | undefined,
  from = 0,
): void => {
  let host = h;
  for (let index = from; index < ops.length; index++) {
    const { guest, op } = ops[index]!;
    const before = hostSwitch(design, host, guest);
    const r = hostStepTraced(design, before, op);
    if (visit(index, before, r.host, r.ran)) return;
    host = r.host;
  }
};

/** Run a scenario on a design. */
export const runScenario = (design: Design, s: Scenario): Trace => {
  const guests = scenarioGuests(s);
  const initial = scenarioHost(design, guests);
  const refs = guests.slice();
  const steps: TraceStep[] = [];
  runHost(design, initial, s.ops, (index, before, after, ran) => {
    const { guest, op } = s.ops[index]!;
    const view = guestView(design, after, guest);
    const r = step(refs[guest]!, op);
    const canonical = sameArchitecturalState(r.machine, view);
    // Where they agree, the reference takes the view's memory (the same words): the next
    // comparison then finds the two memories sharing every subtree but the step's writes.
    const reference = canonical ? { ...r.machine, memory: view.memory } : r.machine;
    refs[guest] = reference;
    steps.push({
      index,
      guest,
      op,
      before,
      after,
      ran,
      view,
      reference,
      canonical,
    });
    return false;
  });
  return {
    design,
    initial,
    guests,
    steps,
    ...(guests.some((m) => m.nic)
      ? {
          ideal: idealRun(
            guests,
            s.ops,
            steps.map((t) => t.view),
          ),
        }
      : {}),
  };
};

/** A guest's view after a step (the abstraction function). */
export const viewAfter = (t: Trace, s: TraceStep, g = s.guest): Machine =>
  g === s.guest ? s.view : guestView(t.design, s.after, g);
