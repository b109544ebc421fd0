/**
 * Xen's split network driver: a DomU's front end (netfront) hands each frame to Dom0's back end
 * (netback) through a ring and a grant of the page that holds it; the back end copies the frame
 * out with a grant copy, which Xen allows only for a page the front end granted (its own memory),
 * and hands it to Dom0's bridge; Dom0 alone drives the physical card. Every DomU access to its
 * card is a request to the back end (the front end's card model is Dom0's), so DomUs never reach
 * the card. The bridge is bridge.ts's, run by Dom0.
 */
import { PAGE_SIZE } from '../../geometry.ts';
import { readWord } from '../../memory.ts';
import { guestBase, hostFrames } from '../layout.ts';
import type { HostMachine } from '../machine.ts';
import type { NetworkBackEnd } from './backend.ts';
import { bridgeBackEnd } from './bridge.ts';
import { guestWord } from './state.ts';

/** Options of Xen's split driver back end (each default is the correct behaviour; the other is a mutant's flaw). */
export interface SplitOptions {
  /**
   * Check that the page a request names is one the front end granted (default true). Without the
   * check the back end copies from the machine page at the request's offset from the front end's
   * memory, whoever owns it (the mutant's flaw).
   */
  readonly grantCheck?: boolean;
}

/** The back end's copy of the frame at `gpa` out of front end `g`'s memory. */
const grantCopy =
  (checked: boolean) =>
  (h: HostMachine, g: number, gpa: number): number | undefined => {
    if (checked) return guestWord(h, g, gpa);
    const hpa = guestBase(h.config, g) * PAGE_SIZE + gpa;
    return hpa < hostFrames(h.config) * PAGE_SIZE ? readWord(h.memory, hpa) : undefined;
  };

/** A split-driver back end in Dom0. */
export const splitBackEnd = (o: SplitOptions = {}): NetworkBackEnd =>
  bridgeBackEnd({ owner: 'dom0', fetch: grantCopy(o.grantCheck ?? true) });
