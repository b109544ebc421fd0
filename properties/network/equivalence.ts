/**
 * Network equivalence: after every step, each guest's card holds exactly the frames the ideal
 * switch delivered to it (in order, less those it took), and the outside world has received
 * exactly the frames the ideal switch sent it. Checked for every guest at every step, so a frame
 * delivered to a guest that is not running is caught when it arrives.
 */
import { hex, type Machine } from '../../model/index.ts';
import type { PropertyFailure } from '../property.ts';
import type { Trace } from '../trace.ts';
import { arrive, atBoundary } from './ideal.ts';

const frames = (fs: readonly number[]) => `[${fs.map((f) => hex(f, 8)).join(', ')}]`;

/** The first step at which the hosted network differs from the ideal switch, or undefined. */
export const networkDivergence = (trace: Trace): PropertyFailure | undefined => {
  const ideal = trace.ideal;
  if (!ideal) return undefined;
  for (const s of trace.steps) {
    const net = s.after.net;
    const want = ideal[s.index]!;
    if (!net) return undefined;
    for (let p = 0; p < net.nics.length; p++) {
      const got = net.nics[p]?.rx ?? [];
      const exp = want.machines[p]!.nic?.rx ?? [];
      if (got.length !== exp.length || got.some((f, i) => f !== exp[i]))
        return {
          step: s.index,
          guest: p,
          message: `after step ${s.index}, guest ${p}'s card holds ${frames(got)}, but the ideal switch delivered ${frames(exp)}`,
          expected: `receive queue ${frames(exp)}`,
          actual: `receive queue ${frames(got)}`,
        };
    }
    if (net.world.length !== want.world.length || net.world.some((f, i) => f !== want.world[i]))
      return {
        step: s.index,
        guest: s.guest,
        message: `after step ${s.index}, the outside world received ${frames(net.world)}, but the ideal switch sent it ${frames(want.world)}`,
        expected: `world ${frames(want.world)}`,
        actual: `world ${frames(net.world)}`,
      };
  }
  return undefined;
};

/** Frames the ideal switch delivered to guest `g` at step `i`. */
export const idealDeliveries = (trace: Trace, i: number, g: number): readonly number[] =>
  trace.ideal?.[i]?.deliveries.filter((d) => d.guest === g).map((d) => d.frame) ?? [];

/** A bare machine after frames the ideal switch delivered to it (`now`: in its own time slice, see `arrive`). */
export const withArrivals = (m: Machine, frames: readonly number[], now: boolean): Machine =>
  frames.reduce((x, f) => arrive(x, f, now), m);

export { atBoundary };
