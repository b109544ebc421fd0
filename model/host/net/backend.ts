/**
 * What a network design is: the structure behind the guests' cards. Each built-in design is one
 * module (bridge.ts, vmdq.ts, sriov.ts, split.ts) built only from this interface, so a user's
 * design (or a mutant) can replace one piece, as with every other design piece.
 */
import type { Design } from '../design.ts';
import type { HostMachine } from '../machine.ts';
import type { CardOwner } from './state.ts';

/** How a design moves frames between guest network cards and the physical card. */
export interface NetworkBackEnd {
  /** Who drives the physical card: the hypervisor, or Dom0 (Xen's split driver). */
  readonly owner: CardOwner;
  /**
   * Where frames are moved: by software (every frame copied by the hypervisor or Dom0) or by the
   * card's hardware (DMA into and out of guests' memory, no software on the data path).
   */
  readonly dataPath: 'software' | 'hardware';
  /** Where guests' cards are: models in the hypervisor (every access traps) or virtual functions (passed through). */
  readonly placement: 'model' | 'vf';
  /** Program the physical card for the design, on a host whose guests' cards are in `h.net`. */
  readonly init: (d: Design, h: HostMachine) => HostMachine;
  /** Guest `g`'s card queued a transmit descriptor for the frame at guest-physical `address`: fetch it and forward it. */
  readonly transmit: (d: Design, h: HostMachine, g: number, address: number) => HostMachine;
  /** The outside world put `frame` on the physical card's wire. */
  readonly receive: (d: Design, h: HostMachine, frame: number) => HostMachine;
  /** Guest `g` changed its card's MAC or control register. */
  readonly configure: (d: Design, h: HostMachine, g: number) => HostMachine;
}
