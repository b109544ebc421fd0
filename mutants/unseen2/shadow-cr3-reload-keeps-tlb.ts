/**
 * FROZEN: nothing under mutants/unseen2/ changes after its first commit.
 *
 * shadow, whose MOV to CR3 exit handler rebuilds the shadow but leaves the real TLB as it was.
 */
import { composeDesign, type Design, linear, shadow, standardHandle } from '../../index.ts';
import { GEOMETRY, guest, type UnseenMutant } from '../unseen/types.ts';
import { usedTables } from './common.ts';

const design: Design = composeDesign({
  ...shadow,
  name: 'shadow-cr3-reload-keeps-tlb',
  description: 'shadow, but an emulated MOV to CR3 keeps the real TLB entries of the guest’s VPID',
  handle: (h, e) => {
    const out = standardHandle(() => design)(h, e);
    return e.kind === 'exit' && e.op.kind === 'movToCr3' ? { ...out, tlb: h.tlb } : out;
  },
});

export const shadowCr3ReloadKeepsTlb: UnseenMutant = {
  name: 'shadow-cr3-reload-keeps-tlb',
  base: 'shadow',
  level: 'machine',
  area: 'TLB',
  bugClass: 'missing TLB flush on an emulated CR3 load (VPID-tagged entries survive)',
  reference:
    'SDM Vol. 3A §4.10.4.1 (MOV to CR3 invalidates every non-global TLB entry) and Vol. 3C §28.3.3.3 (with VPIDs a VM entry flushes nothing: the hypervisor must INVVPID); KVM’s kvm_mmu_new_pgd / KVM_REQ_TLB_FLUSH_CURRENT on CR3 load',
  flaw: 'The hypervisor emulates the guest’s MOV to CR3 and zaps its shadow tables, but forgets the INVVPID: translations of the old address space stay in the VPID-tagged TLB and the guest keeps using them.',
  property: 'equivalence',
  minimal: 4,
  minimalWhy:
    'The real TLB must hold the page first: a first access faults (hidden #PF, emulated, shadow filled), only a second runs natively and fills the TLB (2). A MOV to CR3 naming another directory then changes the translation and must flush (1): CR3 = 0x2000, the page table of slot 1 read as a directory, whose entry 0 (page (1,0)’s PTE) points at a zeroed data frame, so page (0,2) is not present there. A last load (1): bare metal takes a #PF, the mutant reads the old frame through the stale entry. 4.',
  design,
  witness: {
    geometry: GEOMETRY,
    guests: [guest(usedTables)],
    ops: [
      { guest: 0, op: { kind: 'load', dst: 1, va: linear(0, 2) } },
      { guest: 0, op: { kind: 'load', dst: 1, va: linear(0, 2) } },
      { guest: 0, op: { kind: 'movToCr3', value: 0x2000 } },
      { guest: 0, op: { kind: 'load', dst: 1, va: linear(0, 2) } },
    ],
  },
};
