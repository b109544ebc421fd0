/**
 * FROZEN: nothing under mutants/unseen2/ changes after its first commit.
 *
 * bt, whose translated STI delivers pending interrupts at once, ignoring STI's interrupt shadow.
 */
import { bt, commitGuest, composeDesign, type Design, guestView, injectPending, standardHandle } from '../../index.ts';
import { GEOMETRY, guest, type UnseenMutant } from '../unseen/types.ts';

const design: Design = composeDesign({
  ...bt,
  name: 'bt-sti-opens-window-at-once',
  description: 'bt, but the hypervisor’s STI callout injects what is pending right after STI',
  handle: (h, e) => {
    const out = standardHandle(() => design)(h, e);
    if (e.kind !== 'call' || e.op.kind !== 'sti') return out;
    const v = guestView(design, out, out.current);
    return injectPending(design, commitGuest(design, out, out.current, { ...v, cpu: { ...v.cpu, stiShadow: false } }));
  },
});

export const btStiOpensWindowAtOnce: UnseenMutant = {
  name: 'bt-sti-opens-window-at-once',
  base: 'bt',
  level: 'machine',
  area: 'interrupts',
  bugClass: 'interrupt window opened one instruction early (STI shadow ignored by the emulated STI)',
  reference:
    'SDM Vol. 2B STI (“interrupts … are not recognized until after the instruction following STI”) and Vol. 3A §6.8.3; KVM tracks this as KVM_X86_SHADOW_INT_STI after emulating STI',
  flaw: 'After translating STI the hypervisor checks for pending interrupts and injects one immediately, so an interrupt that became pending while IF = 0 arrives before the instruction after STI instead of after it.',
  property: 'equivalence',
  minimal: 2,
  minimalWhy:
    'An interrupt must be pending while IF = 0 (a timer tick), then STI: the mutant delivers it at the STI, bare metal not yet (its shadow covers the next instruction). Without the tick there is nothing to deliver: 2.',
  design,
  witness: {
    geometry: GEOMETRY,
    guests: [guest()],
    ops: [
      { guest: 0, op: { kind: 'timer' } },
      { guest: 0, op: { kind: 'sti' } },
    ],
  },
};
