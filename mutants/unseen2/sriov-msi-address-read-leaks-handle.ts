/**
 * FROZEN: nothing under mutants/unseen2/ changes after its first commit.
 *
 * sriov, whose virtual MSI capability returns the real function's MSI ADDRESS on a read.
 */
import {
  assignedDevices,
  commitGuest,
  composeDesign,
  type Design,
  guestView,
  MSI_PORT_BASE,
  sriov,
  standardHandle,
} from '../../index.ts';
import { GEOMETRY, guest, type UnseenMutant } from '../unseen/types.ts';

const design: Design = composeDesign({
  ...sriov,
  name: 'sriov-msi-address-read-leaks-handle',
  description:
    'sriov, but a guest read of MSI ADDRESS returns what the hypervisor programmed in the real VF (the remappable handle)',
  handle: (h, e) => {
    const out = standardHandle(() => design)(h, e);
    if (e.kind !== 'exit' || e.op.kind !== 'in' || e.op.port !== MSI_PORT_BASE) return out;
    const real = assignedDevices(out, out.current)[0]?.msiAddress;
    if (real === undefined) return out;
    const v = guestView(design, out, out.current);
    const regs = [real >>> 0, v.cpu.regs[1], v.cpu.regs[2], v.cpu.regs[3]] as const;
    return commitGuest(design, out, out.current, { ...v, cpu: { ...v.cpu, regs } });
  },
});

export const sriovMsiAddressReadLeaksHandle: UnseenMutant = {
  name: 'sriov-msi-address-read-leaks-handle',
  base: 'sriov',
  level: 'machine',
  area: 'devices',
  bugClass: 'a virtualized register whose read returns the physical value (shadow register not kept)',
  reference:
    'PCI Local Bus 3.0 §6.8.1 (the MSI capability’s Message Address is what software last wrote); VFIO virtualizes the MSI capability (vfio_pci_config.c) so a guest reads its own values, not the host’s',
  flaw: 'IN from MSI ADDRESS exits and the hypervisor answers with the real VF’s programming (the remappable handle it chose), not the value the guest wrote or the reset value.',
  property: 'equivalence',
  minimal: 1,
  minimalWhy:
    'One IN from MSI ADDRESS: bare metal returns the register as the guest left it (never written); the mutant returns the handle. 1.',
  design,
  witness: {
    geometry: GEOMETRY,
    guests: [guest({ devices: 1 })],
    ops: [{ guest: 0, op: { kind: 'in', port: MSI_PORT_BASE } }],
  },
};
