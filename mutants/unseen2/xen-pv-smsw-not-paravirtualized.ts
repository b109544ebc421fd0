/**
 * FROZEN: nothing under mutants/unseen2/ changes after its first commit.
 *
 * xen-pv, whose guest kernel runs SMSW natively instead of asking the hypervisor.
 */
import { composeDesign, type Design, xenPv } from '../../index.ts';
import { GEOMETRY, guest, type UnseenMutant } from '../unseen/types.ts';

const design: Design = composeDesign({
  ...xenPv,
  name: 'xen-pv-smsw-not-paravirtualized',
  description: 'xen-pv, but the PV kernel reads the machine status word with a native SMSW',
  dispatch: (h, op) => (op.kind === 'smsw' ? 'native' : xenPv.dispatch(h, op)),
});

export const xenPvSmswNotParavirtualized: UnseenMutant = {
  name: 'xen-pv-smsw-not-paravirtualized',
  base: 'xen-pv',
  level: 'machine',
  area: 'CPU',
  bugClass: 'sensitive instruction left native in a paravirtual kernel (virtual CR0.TS not seen)',
  reference:
    'Xen PV’s virtual CR0.TS (HYPERVISOR_fpu_taskswitch, the guest’s lazy-FPU state); SDM Vol. 2B SMSW (not privileged, reads CR0[15:0] at any CPL)',
  flaw: 'SMSW runs natively at ring 1 and returns the real CR0’s low word, without the virtual TS bit the guest set: a lazy-FPU kernel then believes its FPU state is loaded.',
  property: 'equivalence',
  minimal: 1,
  minimalWhy:
    'One SMSW by a guest kernel whose CR0.TS = 1 (the boot spec sets it): the value lacks TS. Equivalence compares the register.',
  design,
  witness: { geometry: GEOMETRY, guests: [guest({ ts: true })], ops: [{ guest: 0, op: { kind: 'smsw', dst: 0 } }] },
};
