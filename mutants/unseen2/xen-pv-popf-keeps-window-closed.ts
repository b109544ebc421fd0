/**
 * FROZEN: nothing under mutants/unseen2/ changes after its first commit.
 *
 * xen-pv, whose POPF hypercall sets the virtual IF without delivering what became deliverable.
 */
import { commitGuest, composeDesign, type Design, emulate, guestView, standardHandle, xenPv } from '../../index.ts';
import { GEOMETRY, guest, type UnseenMutant } from '../unseen/types.ts';

const design: Design = composeDesign({
  ...xenPv,
  name: 'xen-pv-popf-keeps-window-closed',
  description: 'xen-pv, but the hypervisor’s POPF emulation does not check for pending events when it sets IF',
  handle: (h, e) => {
    if (e.kind !== 'call' || e.op.kind !== 'popf') return standardHandle(() => design)(h, e);
    const v = guestView(design, h, h.current);
    const pending = v.cpu.pending;
    const quiet = commitGuest(design, h, h.current, { ...v, cpu: { ...v.cpu, pending: [] } });
    const out = emulate(design, quiet, e.op).host;
    const after = guestView(design, out, out.current);
    return commitGuest(design, out, out.current, { ...after, cpu: { ...after.cpu, pending } });
  },
});

export const xenPvPopfKeepsWindowClosed: UnseenMutant = {
  name: 'xen-pv-popf-keeps-window-closed',
  base: 'xen-pv',
  level: 'machine',
  area: 'interrupts',
  bugClass: 'interrupt window not re-evaluated when an emulated instruction sets IF (a late interrupt)',
  reference:
    'SDM Vol. 2B POPF and Vol. 3A §6.8.1 (an interrupt pending when IF becomes 1 is taken after the instruction); Xen PV’s event-channel upcall check after unmasking (evtchn_upcall_pending); KVM raises KVM_REQ_EVENT when emulation changes IF',
  flaw: 'The POPF hypercall restores EFLAGS with IF = 1 but leaves a pending interrupt pending, so it is delivered only later (after the next instruction that reaches the hypervisor) instead of right after POPF.',
  property: 'equivalence',
  minimal: 2,
  minimalWhy:
    'An interrupt must be pending while IF = 0 (a timer tick) and POPF must set IF (image 0x202): 2. Bare metal delivers at the POPF; the mutant keeps it pending.',
  design,
  witness: {
    geometry: GEOMETRY,
    guests: [guest()],
    ops: [
      { guest: 0, op: { kind: 'timer' } },
      { guest: 0, op: { kind: 'popf', image: 0x202 } },
    ],
  },
};
