/**
 * Resource control (DESIGN.md §4): invariants of the hosted machine after every step. The
 * hypervisor keeps every real resource: no guest-reachable translation (real TLB entry, shadow
 * entry, EPT entry) reaches a frame the guest does not own; a guest's own code never changes
 * hypervisor frames or another guest's; the guest never runs at real ring 0 in root mode; real
 * interrupts cannot be kept from the hypervisor, and the timer always reaches it; a device's DMA
 * reaches only its owner's memory and its interrupt only its owner (properties/devices.ts).
 *
 * Incremental: the hypervisor's tables are scanned only when their frames changed in the step
 * (an O(1) test of shared structure), and ownership of memory is checked by region identity,
 * never by scanning memory.
 *
 * One allowance, stated: under ring compression the real CPU itself reads the hypervisor's
 * descriptor tables while the guest runs, so that page is mapped supervisor and read-only in
 * the guest's address space (real monitors also fence it with segment limits, which this model
 * does not have). Any other reach outside the guest's frames is a violation.
 */
import {
  type Design,
  EFLAGS,
  frameOwner,
  frameWords,
  guestBase,
  type HostMachine,
  HV_BLOCK,
  HV_FRAME,
  hex,
  POOL,
  PTE,
  poolBase,
  regionFrames,
  sameRegionNode,
} from '../model/index.ts';
import { deviceIsolationViolation } from './devices.ts';
import type { Property, PropertyFailure } from './property.ts';
import type { TraceStep } from './trace.ts';

const ringCompressed = (d: Design) => d.axes.cpu !== 'hardware-assisted';

/** May guest `g` reach host frame `frame` with these rights (RW/US bits)? */
const mayReach = (d: Design, h: HostMachine, g: number, frame: number, rights: number): boolean => {
  const o = frameOwner(h.config, frame);
  if (o.kind === 'guest' && o.guest === g) return true;
  return ringCompressed(d) && frame === HV_FRAME.SYSTEM && !(rights & PTE.RW) && !(rights & PTE.US);
};

const describeOwner = (h: HostMachine, frame: number) => {
  const o = frameOwner(h.config, frame);
  return o.kind === 'guest'
    ? `guest ${o.guest}'s frame`
    : o.kind === 'hypervisor'
      ? 'a hypervisor frame'
      : 'an unowned host frame';
};

/** Present leaf entries of two-level tables at `root` (host frame): [linear page, entry]. */
const leaves = (h: HostMachine, rootFrame: number): [number, number][] => {
  const out: [number, number][] = [];
  for (const [dir, pde] of frameWords(h.memory, rootFrame)) {
    if (!(pde & 7)) continue;
    for (const [t, pte] of frameWords(h.memory, pde >>> 12)) if (pte & 7) out.push([(dir << 10) | t, pte]);
  }
  return out;
};

const poolChanged = (a: HostMachine, b: HostMachine, g: number) =>
  !sameRegionNode(a.memory, b.memory, poolBase(g), 32) || !sameRegionNode(a.memory, b.memory, poolBase(g) + 32, 32);

const checkStep = (d: Design, s: TraceStep): PropertyFailure | undefined => {
  const h = s.after;
  const g = h.current;
  const fail = (message: string): PropertyFailure => ({ step: s.index, guest: s.guest, message });
  if (ringCompressed(d) && h.cpu.cpl === 0) return fail('the guest runs at real ring 0 in root mode');
  if (ringCompressed(d) && !(h.cpu.eflags & EFLAGS.IF))
    return fail('real EFLAGS.IF is clear while the guest runs: the hypervisor can be kept from its interrupts');
  if (!ringCompressed(d) && !d.hardware(h).exits?.externalInterrupt)
    return fail('external interrupts do not exit: the guest can keep the timer from the hypervisor');
  if (s.op.kind === 'timer' && s.ran.kind !== 'trap') return fail('the timer interrupt did not reach the hypervisor');

  // Real TLB entries usable by the running guest.
  const tag = d.tag(h, g);
  for (const e of h.tlb.entries)
    if (e.tag === tag && !mayReach(d, h, g, e.frame >>> 12, e.rights))
      return fail(
        `the real TLB lets guest ${g} reach host frame ${hex(e.frame >>> 12, 5)} (${describeOwner(h, e.frame >>> 12)}) at linear ${hex(e.page << 12)}`,
      );

  // Shadow and EPT entries of every guest whose tables changed.
  for (const ctx of h.guests) {
    if (!poolChanged(s.before, h, ctx.id) && s.index > 0) continue;
    const root = d.axes.mmu === 'nested' ? ctx.eptRoot : ctx.shadow.root;
    for (const [page, e] of leaves(h, root)) {
      const frame = e >>> 12;
      const rights = d.axes.mmu === 'nested' ? (e & 2 ? PTE.RW : 0) | PTE.US : e & (PTE.RW | PTE.US);
      if (!mayReach(d, h, ctx.id, frame, rights))
        return fail(
          `${d.axes.mmu === 'nested' ? 'an EPT' : 'a shadow'} entry of guest ${ctx.id} maps ${hex(page << 12)} to host frame ${hex(frame, 5)} (${describeOwner(h, frame)})`,
        );
    }
  }

  // A device's transfer reaches only its owner's memory and its interrupt only its owner.
  if (s.op.kind === 'dmaComplete') {
    const v = deviceIsolationViolation(d, s.before, h, g);
    if (v) return fail(`guest ${g}'s device: ${v}`);
  }

  // A guest's own code changes only its own frames (and the ring page it shares with a paravirtual back end).
  if (s.ran.kind === 'native') {
    const c = h.config;
    const ring = poolBase(g) + POOL.VIRTIO_RING;
    for (let base = 0; base < HV_BLOCK * (c.guests + 1); base += 32) {
      if (sameRegionNode(s.before.memory, h.memory, base, 32)) continue;
      for (let frame = base; frame < base + 32; frame++)
        if (frame !== ring && !sameRegionNode(s.before.memory, h.memory, frame, 1))
          return fail(`guest ${g}'s own code changed hypervisor memory (host frame ${frame})`);
    }
    for (let other = 0; other < c.guests; other++) {
      if (other === g) continue;
      if (!sameRegionNode(s.before.memory, h.memory, guestBase(c, other), regionFrames(c)))
        return fail(`guest ${g}'s own code changed guest ${other}'s memory`);
    }
  }
  return undefined;
};

export const resourceControl: Property = {
  name: 'resource-control',
  description: 'the hypervisor keeps control of every real resource (memory reach, privilege, interrupts)',
  check: (design, _scenario, trace) => {
    for (const s of trace.steps) {
      const f = checkStep(design, s);
      if (f) return f;
    }
    return undefined;
  },
};
