/**
 * The network axis: the back end for a design's choice, and the network's part of every hosted
 * step (the guest's card configuration reaching the design's structures, queued transmits served,
 * frames from the outside world received).
 */
import type { Op } from '../../ops.ts';
import type { Design, NetworkVirtualization } from '../design.ts';
import type { HostMachine } from '../machine.ts';
import type { NetworkBackEnd } from './backend.ts';
import { bridgeBackEnd } from './bridge.ts';
import { splitBackEnd } from './split.ts';
import { sriovBackEnd } from './sriov.ts';
import { guestNic, withGuestNic } from './state.ts';
import { vmdqBackEnd } from './vmdq.ts';

export * from './backend.ts';
export * from './bridge.ts';
export * from './forward.ts';
export * from './split.ts';
export * from './sriov.ts';
export * from './state.ts';
export * from './vmdq.ts';

/** The built-in back end of a network choice. */
export const networkBackEnd = (net: NetworkVirtualization): NetworkBackEnd => {
  switch (net) {
    case 'bridge':
      return bridgeBackEnd();
    case 'vmdq':
      return vmdqBackEnd();
    case 'sriov':
      return sriovBackEnd();
    case 'xen-split':
      return splitBackEnd();
  }
};

/**
 * The network's part of a hosted step of the running guest, from the host `before` it to the
 * host `after` it: a change the guest made to its card's MAC or control register reaches the
 * design's structures; the transmit descriptors it queued are served in order; a frame from the
 * outside world is received.
 */
export const networkStep = (d: Design, before: HostMachine, after: HostMachine, op: Op): HostMachine => {
  const be = d.network;
  if (!be || !after.net) return after;
  const g = after.current;
  let h = after;
  const was = guestNic(before, g);
  const now = guestNic(h, g);
  if (was && now && (was.mac !== now.mac || was.control !== now.control)) h = be.configure(d, h, g);
  const queued = guestNic(h, g)?.txq ?? [];
  if (queued.length > 0) {
    h = withGuestNic(h, g, { ...guestNic(h, g)!, txq: [] });
    for (const address of queued) h = be.transmit(d, h, g, address);
  }
  if (op.kind === 'frameIn') h = be.receive(d, h, op.frame);
  return h;
};
