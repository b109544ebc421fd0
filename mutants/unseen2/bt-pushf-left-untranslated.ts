/**
 * FROZEN: nothing under mutants/unseen2/ changes after its first commit.
 *
 * bt, whose translator leaves PUSHF in guest-kernel code as it is.
 */
import { bt, composeDesign, type Design } from '../../index.ts';
import { GEOMETRY, guest, type UnseenMutant } from '../unseen/types.ts';

const design: Design = composeDesign({
  ...bt,
  name: 'bt-pushf-left-untranslated',
  description: 'bt, but PUSHF is not in the translator’s list of sensitive instructions',
  dispatch: (h, op) => (op.kind === 'pushf' ? 'native' : bt.dispatch(h, op)),
});

export const btPushfLeftUntranslated: UnseenMutant = {
  name: 'bt-pushf-left-untranslated',
  base: 'bt',
  level: 'machine',
  area: 'CPU',
  bugClass: 'a sensitive, unprivileged instruction missing from the translator’s table',
  reference:
    'Popek and Goldberg 1974; Robin and Irvine, “Analysis of the Intel Pentium’s ability to support a secure VMM” (USENIX Security 2000): PUSHF exposes IF and IOPL at any CPL; SDM Vol. 2B PUSHF',
  flaw: 'PUSHF in the guest kernel runs natively at real ring 1, so it pushes the real EFLAGS (IF = 1, the hypervisor’s IOPL) instead of the guest’s virtual IF.',
  property: 'equivalence',
  minimal: 2,
  minimalWhy:
    'The first PUSHF’s push is a hidden #PF on the kernel stack page (the shadow starts empty), and the hypervisor emulates it correctly; the second runs natively and pushes IF = 1 where the guest’s IF is 0: 2. Equivalence compares the register and the stack word.',
  design,
  witness: {
    geometry: GEOMETRY,
    guests: [guest()],
    ops: [
      { guest: 0, op: { kind: 'pushf', dst: 0 } },
      { guest: 0, op: { kind: 'pushf', dst: 0 } },
    ],
  },
};
