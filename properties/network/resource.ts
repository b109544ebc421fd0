/**
 * Network resource control: every frame that leaves a guest's port onto the network carries the
 * guest's own (assigned) MAC; and only the physical card's owner (the hypervisor, or Dom0 for
 * the split driver) changes the card's configuration: no step a guest ran on its own, without
 * the hypervisor, changes it (a virtual function's own registers are the guest's; the switch
 * entries, queues and per-function settings the owner programs are not).
 */
import { frameSrc, hex } from '../../model/index.ts';
import type { TraceStep } from '../trace.ts';

/** Why a step broke network resource control, or undefined. */
export const networkResourceViolation = (s: TraceStep): string | undefined => {
  const before = s.before.net;
  const net = s.after.net;
  if (!net || !before) return undefined;
  for (const { from, frame } of net.left.slice(before.left.length))
    if (frameSrc(frame) !== net.assigned[from])
      return `a frame (${hex(frame, 8)}) left guest ${from}'s port with source MAC ${hex(frameSrc(frame), 2)}, not its own ${hex(net.assigned[from]!, 2)}`;
  if (s.ran.kind === 'native' && JSON.stringify(net.card) !== JSON.stringify(before.card))
    return `guest ${s.guest}'s own operation changed the physical card's configuration, which only its owner (${net.owner}) may program`;
  return undefined;
};
