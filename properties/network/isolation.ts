/**
 * Isolation with declared channels: a guest's observations may depend on other guests only
 * through the frames the ideal switch delivers to it (addressed to it, or broadcast), and on the
 * outside world. So in the run where the other guests do nothing, those frames still arrive at
 * the same steps: each other guest's operation that made the ideal switch deliver a frame to `g`
 * becomes the outside world sending that frame, and frames from the outside world stay.
 */
import type { ScenarioOp } from '../../generators/host.ts';
import type { Trace } from '../trace.ts';
import { idealDeliveries } from './equivalence.ts';

/** The operations of `g`'s run alone (`alone`: the others replaced by no-ops), with the declared channels kept. */
export const withDeclaredChannels = (trace: Trace, g: number, alone: readonly ScenarioOp[]): ScenarioOp[] =>
  alone.map((o, i) => {
    const original = trace.steps[i]!;
    if (original.guest === g) return o;
    if (original.op.kind === 'frameIn') return { guest: original.guest, op: original.op };
    const [f] = idealDeliveries(trace, i, g);
    return f === undefined ? o : { guest: original.guest, op: { kind: 'frameIn', frame: f } };
  });
