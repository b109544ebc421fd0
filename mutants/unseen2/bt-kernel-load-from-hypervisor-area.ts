/**
 * FROZEN: nothing under mutants/unseen2/ changes after its first commit.
 *
 * bt, whose translated kernel loads are not truncated below the hypervisor's area.
 */
import { bt, composeDesign, type Design, HV_LINEAR } from '../../index.ts';
import { GEOMETRY, guest, type UnseenMutant } from '../unseen/types.ts';

const design: Design = composeDesign({
  ...bt,
  name: 'bt-kernel-load-from-hypervisor-area',
  description:
    'bt, but translated guest-kernel loads run against full-size segments (no truncation below the hypervisor)',
  dispatch: (h, op) => (op.kind === 'load' ? 'native' : bt.dispatch(h, op)),
});

export const btKernelLoadFromHypervisorArea: UnseenMutant = {
  name: 'bt-kernel-load-from-hypervisor-area',
  base: 'bt',
  level: 'machine',
  area: 'CPU',
  bugClass: 'the hypervisor’s own mappings reachable from deprivileged guest-kernel code',
  reference:
    'Adams and Agesen, “A comparison of software and hardware techniques for x86 virtualization” (ASPLOS 2006): VMware’s BT protects its top-of-address-space region with segment truncation; SDM Vol. 3A §5.3 (limit checking)',
  flaw: 'Guest-kernel loads run natively at real ring 1 with flat segments, so a load from the top 4 MiB reads the hypervisor’s GDT through the mapping it keeps there, where bare metal takes a #PF (the guest maps nothing there).',
  property: 'equivalence',
  minimal: 1,
  minimalWhy:
    'One kernel load from the hypervisor’s linear area (0xffc00008, the GDT’s second descriptor): a value where bare metal faults. 1.',
  design,
  witness: {
    geometry: GEOMETRY,
    guests: [guest()],
    ops: [{ guest: 0, op: { kind: 'load', dst: 0, va: (HV_LINEAR + 8) >>> 0 } }],
  },
};
