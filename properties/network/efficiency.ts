/**
 * Network efficiency: frames copied by software (the hypervisor or Dom0) per frame delivered,
 * measured; and checked as a bound: a design whose data path is the card's hardware (SR-IOV)
 * copies no frame, and a software data path copies a frame at most once out of the sending guest
 * and once into each receiving guest (no step copies more than the transmits it served plus the
 * frames it delivered).
 */
import type { Design } from '../../model/index.ts';
import type { PropertyFailure } from '../property.ts';
import type { Trace } from '../trace.ts';

/** The first step that copied more than the design's data path allows, or undefined. */
export const networkCopiesViolation = (design: Design, trace: Trace): PropertyFailure | undefined => {
  for (const s of trace.steps) {
    const a = s.after.net;
    const b = s.before.net;
    if (!a || !b) return undefined;
    const copies = a.copies - b.copies;
    const hardware = design.network?.dataPath === 'hardware';
    const transmits = (a.nics[s.guest]?.txCount ?? 0) - (b.nics[s.guest]?.txCount ?? 0);
    const allowed = hardware ? 0 : transmits + (a.delivered - b.delivered);
    if (copies > allowed)
      return {
        step: s.index,
        guest: s.guest,
        message: `the network copied ${copies} frame(s) in software where ${hardware ? 'the card’s hardware moves frames (none allowed)' : `${allowed} (one per transmit served and per frame delivered) suffice`}`,
      };
  }
  return undefined;
};

/** Copies by software per frame delivered (to a guest or to the outside world), over runs. */
export const copiesPerFrame = (traces: readonly Trace[]): number => {
  let copies = 0;
  let frames = 0;
  for (const t of traces) {
    const last = t.steps.at(-1)?.after.net;
    if (!last) continue;
    copies += last.copies;
    frames += last.delivered + last.world.length;
  }
  return frames === 0 ? 0 : copies / frames;
};
