/** Helpers for the network tests: guests with cards, a driver's transmit, and what each side received. */

import type { Scenario, ScenarioOp } from '../../generators/host.ts';
import { plainGuestSpec } from '../../generators/reference.ts';
import {
  bootFrames,
  DEFAULT_GEOMETRY,
  type Design,
  EFLAGS,
  type HostMachine,
  linear,
  NIC_PORT_BASE,
  NIC_REG,
  type Op,
  PAGE_SIZE,
} from '../../model/index.ts';
import { idealRun } from '../../properties/network/ideal.ts';
import { runScenario, scenarioGuests, type Trace } from '../../properties/trace.ts';

export const G = DEFAULT_GEOMETRY;
/** Guest g's MAC in these tests (as the generators assign it). */
export const MAC = [0x10, 0x11, 0x12] as const;

/** A frame buffer: window page (1,2) word 0, and its guest-physical address in the boot layout. */
export const BUFFER_VA = linear(1, 2, 0);
export const BUFFER_GPA = bootFrames(G).data(1, 2) * PAGE_SIZE;

/** What a driver does to send `frame`: write it to the buffer, point a descriptor at it. */
export const send = (guest: number, frame: number): ScenarioOp[] =>
  (
    [
      { kind: 'movImm', dst: 3, imm: frame },
      { kind: 'store', va: BUFFER_VA, src: 3 },
      { kind: 'movImm', dst: 0, imm: BUFFER_GPA },
      { kind: 'out', port: NIC_PORT_BASE + NIC_REG.TX },
    ] as Op[]
  ).map((op) => ({ guest, op }));

/** A register write to guest `guest`'s card. */
export const writeReg = (guest: number, reg: number, value: number): ScenarioOp[] => [
  { guest, op: { kind: 'movImm', dst: 0, imm: value } },
  { guest, op: { kind: 'out', port: NIC_PORT_BASE + reg } },
];

/** The outside world sends `frame` (in guest `slot`'s time slice). */
export const fromWorld = (frame: number, slot = 0): ScenarioOp[] => [{ guest: slot, op: { kind: 'frameIn', frame } }];

/** Three kernel guests with cards 0x10, 0x11, 0x12 (`ifOn`: which start with IF = 1). */
export const scenario = (ops: readonly ScenarioOp[], ifOn: readonly number[] = []): Scenario => ({
  geometry: G,
  guests: MAC.map((mac, g) => ({ ...plainGuestSpec(G, 0), nic: mac, eflags: ifOn.includes(g) ? EFLAGS.IF : 0 })),
  ops,
});

/** A run of a design, with what each card holds and what the world got, at the end. */
export const outcome = (design: Design, s: Scenario) => {
  const trace: Trace = runScenario(design, s);
  const h: HostMachine = trace.steps.at(-1)!.after;
  return { trace, host: h, rx: h.net!.nics.map((n) => n?.rx), world: h.net!.world };
};

/** The same, for the reference network (the ideal switch over bare machines). */
export const idealOutcome = (s: Scenario) => {
  const last = idealRun(scenarioGuests(s), s.ops).at(-1)!;
  return { rx: last.machines.map((m) => m.nic!.rx), world: last.world, machines: last.machines };
};
