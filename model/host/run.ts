/**
 * Running guests on a hosted machine: the real CPU executes guest operations with the reference
 * ISA semantics on the real state and hardware a design configures; whatever the hardware sends
 * to the hypervisor goes to the design's handler. Nothing here knows any particular design.
 */
import { REAL_CPU } from '../choice.ts';
import { type ExitInfo, stepWith } from '../isa.ts';
import { EMPTY_MEMORY, replaceRegion } from '../memory.ts';
import type { Op } from '../ops.ts';
import type { Machine } from '../state.ts';
import type { Design } from './design.ts';
import { assignedEngines, withAssignedEngines } from './io.ts';
import { guestBase, type HostConfig, hostConfigProblem, hostFrames, regionFrames } from './layout.ts';
import { bareHost, bump, type HostMachine } from './machine.ts';
import { networkStep } from './net/index.ts';
import { passedThroughNic, withGuestNic } from './net/state.ts';
import { tlbStoreView, tlbView } from './tlb.ts';

/**
 * A host running `guests` (each a machine in reference form: its initial state as if on bare
 * metal), prepared by `design`. Guest 0 runs first.
 */
export const createHost = (design: Design, guests: readonly Machine[], config?: Partial<HostConfig>): HostMachine => {
  const c: HostConfig = {
    guests: guests.length,
    guestGeometry: guests[0]!.geometry,
    tlbCapacity: config?.tlbCapacity ?? 64,
  };
  const problem = hostConfigProblem(c);
  if (problem) throw new RangeError(problem);
  let memory = EMPTY_MEMORY;
  guests.forEach((m, g) => {
    memory = replaceRegion(memory, guestBase(c, g), regionFrames(c), m.memory);
  });
  return design.init(bareHost(c, guests, memory));
};

/** The real machine, as the ISA sees it while the current guest runs. */
export const realMachine = (design: Design, h: HostMachine): Machine => {
  // The real devices assigned to the running guest are the ones its I/O instructions can reach.
  const devices = assignedEngines(h, h.current);
  // So is its network virtual function, if its card is one.
  const nic = passedThroughNic(h, h.current);
  return {
    geometry: { ...h.config.guestGeometry, frames: hostFrames(h.config) },
    cpu: h.cpu,
    memory: h.memory,
    tlb: tlbView(h.tlb, design.tag(h, h.current)),
    ...(devices === undefined ? {} : { devices }),
    ...(nic === undefined ? {} : { nic }),
  };
};

/** How one guest operation ran. */
export type HowRan =
  /**
   * Natively; `real` is the host as the real CPU left it, before the design's `afterNative`
   * (so that what the guest's own code did can be told from what the hypervisor did after it).
   */
  | { readonly kind: 'native'; readonly real: HostMachine }
  | { readonly kind: 'call' }
  | {
      readonly kind: 'trap';
      readonly exit: ExitInfo;
      readonly phase: 'instruction' | 'boundary';
      /** The host as the hardware left it at the exit, before the hypervisor's handler (a device's DMA may have landed). */
      readonly real?: HostMachine;
    };

/** One operation of the running guest, and how it ran: natively on the real CPU, or through the hypervisor. */
export const hostStepTraced = (
  design: Design,
  h: HostMachine,
  op: Op,
): { readonly host: HostMachine; readonly ran: HowRan } => {
  const r = hostStepCore(design, h, op);
  // The network acts on what the step did (model/host/net/): nothing for a design without one.
  return design.network ? { ...r, host: networkStep(design, h, r.host, op) } : r;
};

const hostStepCore = (design: Design, h: HostMachine, op: Op): { readonly host: HostMachine; readonly ran: HowRan } => {
  const counted = (x: HostMachine, c: Partial<HostMachine['counters']>): HostMachine => ({
    ...x,
    counters: { ...x.counters, ...c, ops: h.counters.ops + 1 },
  });
  if (design.dispatch(h, op) === 'hypervisor') {
    const out = design.handle(h, { kind: 'call', op });
    return { host: counted(out, { calls: bump(h.counters.calls, op.kind) }), ran: { kind: 'call' } };
  }
  const tag = design.tag(h, h.current);
  const r = stepWith(realMachine(design, h), op, REAL_CPU, design.hardware(h));
  const after: HostMachine = withGuestNic(
    withAssignedEngines(
      {
        ...h,
        cpu: r.machine.cpu,
        memory: r.machine.memory,
        tlb: tlbStoreView(h.tlb, tag, r.machine.tlb),
      },
      h.current,
      r.machine.devices,
    ),
    h.current,
    passedThroughNic(h, h.current) ? r.machine.nic : undefined,
  );
  if (r.outcome.status === 'exit' && r.outcome.exit) {
    const exit = r.outcome.exit;
    const phase = r.outcome.exitPhase ?? 'instruction';
    const out = design.handle(after, { kind: 'exit', op, exit, phase, before: h });
    const reason =
      exit.reason === 'exception'
        ? `exception ${exit.vector}`
        : exit.reason === 'instruction'
          ? `instruction ${exit.op.kind}`
          : exit.reason;
    return {
      host: counted(out, {
        traps: bump(h.counters.traps, op.kind),
        reasons: bump(h.counters.reasons, reason) as Record<string, number>,
      }),
      ran: { kind: 'trap', exit, phase, real: after },
    };
  }
  return {
    host: counted(design.afterNative(after, op), { native: h.counters.native + 1 }),
    ran: { kind: 'native', real: after },
  };
};

/** One operation of the running guest: natively on the real CPU, or through the hypervisor. */
export const hostStep = (design: Design, h: HostMachine, op: Op): HostMachine => hostStepTraced(design, h, op).host;

/** The scheduler: switch the real CPU to guest `to`. */
export const hostSwitch = (design: Design, h: HostMachine, to: number): HostMachine => {
  if (to === h.current) return h;
  const out = design.switchTo(h, to);
  return { ...out, counters: { ...out.counters, switches: h.counters.switches + 1 } };
};

/** An operation of one guest in an interleaved run. */
export interface GuestOp {
  readonly guest: number;
  readonly op: Op;
}

/** Run guest operations in order, switching guests as they interleave. */
export const runHosted = (design: Design, h0: HostMachine, ops: readonly GuestOp[]): HostMachine =>
  ops.reduce((h, { guest, op }) => hostStep(design, hostSwitch(design, h, guest), op), h0);
