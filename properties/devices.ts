/**
 * The device-isolation property (DESIGN.md §4, resource control: "devices reach only their
 * owner's memory, and their interrupts reach only their owner"), as a predicate on one step of
 * a hosted run in which guest `g`'s device completed a DMA.
 *
 * Frames that may change: guest g's own memory, and in g's hypervisor pool the frames the
 * hypervisor itself rewrites when it emulates a completion for g (the paravirtual ring slot; the
 * shadow tables, zapped when the DMA rewrote one of g's page tables). Every other host frame is
 * forbidden: the hypervisor's own pages, g's EPT and IOMMU tables (a device that rewrote its own
 * domain would own the machine), other guests' memory and pools, and unowned host frames. And
 * no other guest's virtual CPU changes (its MSI went to its owner), nor does the hypervisor take
 * an interrupt meant for a guest.
 */
import {
  type Design,
  differingFrames,
  extractRegion,
  guestBase,
  type HostMachine,
  hostFrames,
  hostIo,
  POOL,
  poolBase,
  sameMemory,
} from '../model/index.ts';

const changed = (a: HostMachine, b: HostMachine, frame: number) =>
  !sameMemory(extractRegion(a.memory, frame, 1), extractRegion(b.memory, frame, 1));

/** Why the step broke device isolation, or undefined. */
export const deviceIsolationViolation = (
  _design: Design,
  before: HostMachine,
  after: HostMachine,
  g: number,
): string | undefined => {
  const c = before.config;
  const own = guestBase(c, g);
  const mayChange = (frame: number): boolean => {
    if (frame >= own && frame < own + c.guestGeometry.frames) return true;
    const pool = poolBase(g);
    if (frame < pool || frame >= pool + POOL.SIZE) return false;
    const slot = frame - pool;
    return slot === POOL.VIRTIO_RING || slot === POOL.SHADOW_ROOT || slot >= POOL.FIRST_SHADOW_TABLE;
  };
  // Every installed host frame whose subtree the step replaced (unchanged subtrees are shared).
  const last = hostFrames(c);
  for (const frame of differingFrames(before.memory, after.memory))
    if (frame < last && !mayChange(frame) && changed(before, after, frame)) return `host frame ${frame} changed`;
  for (let x = 0; x < c.guests; x++) {
    if (x === g) continue;
    const b = before.guests[x]!.vcpu;
    const a = after.guests[x]!.vcpu;
    if (JSON.stringify(a.pending) !== JSON.stringify(b.pending)) return `guest ${x}'s pending interrupts changed`;
  }
  if (hostIo(after).hostInterrupts.length !== hostIo(before).hostInterrupts.length)
    return "the hypervisor took a guest device's interrupt";
  return undefined;
};
