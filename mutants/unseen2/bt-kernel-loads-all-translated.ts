/**
 * FROZEN: nothing under mutants/unseen2/ changes after its first commit.
 *
 * bt, whose translator sends every guest-kernel load through a hypervisor callout.
 */
import { bt, composeDesign, type Design, linear } from '../../index.ts';
import { GEOMETRY, guest, type UnseenMutant } from '../unseen/types.ts';

const design: Design = composeDesign({
  ...bt,
  name: 'bt-kernel-loads-all-translated',
  description:
    'bt, but every kernel-mode load is translated into a callout, not only those the segment truncation catches',
  dispatch: (h, op) => (op.kind === 'load' ? 'hypervisor' : bt.dispatch(h, op)),
});

export const btKernelLoadsAllTranslated: UnseenMutant = {
  name: 'bt-kernel-loads-all-translated',
  base: 'bt',
  level: 'machine',
  area: 'efficiency',
  bugClass: 'an innocuous instruction class translated into a callout',
  reference:
    'Adams and Agesen (ASPLOS 2006): a translator emits innocuous instructions identically (IDENT) and only sensitive ones as callouts; Popek–Goldberg efficiency',
  flaw: 'Every load the guest kernel executes becomes a callout to the hypervisor and is emulated: right results, a hypervisor entry for an innocuous instruction.',
  property: 'efficiency',
  minimal: 1,
  minimalWhy: 'One kernel load: it reaches the hypervisor. 1.',
  design,
  witness: {
    geometry: GEOMETRY,
    guests: [guest()],
    ops: [{ guest: 0, op: { kind: 'load', dst: 0, va: linear(0, 2) } }],
  },
};
