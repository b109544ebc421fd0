/**
 * FROZEN: nothing under mutants/unseen2/ changes after its first commit.
 *
 * vm-shadow, on a shadow hypervisor whose INVLPG handler drops the shadow entry but not the TLB's.
 */
import { composeDesign, type Design, shadow, standardHandle, syscall } from '../../index.ts';
import type { UnseenMutant } from '../unseen/types.ts';

const machine: Design = composeDesign({
  ...shadow,
  name: 'shadow-invlpg-skips-invvpid',
  description: 'shadow, but an emulated INVLPG does not invalidate the page in the VPID-tagged TLB',
  handle: (h, e) => {
    const out = standardHandle(() => machine)(h, e);
    return e.kind === 'exit' && e.op.kind === 'invlpg' ? { ...out, tlb: h.tlb } : out;
  },
});

const design = syscall.vmDesign({
  name: 'vm-shadow-invlpg-skips-invvpid',
  description: 'a VM per guest on shadow paging whose INVLPG emulation forgets INVVPID',
  machine,
});

export const vmShadowInvlpgSkipsInvvpid: UnseenMutant = {
  name: 'vm-shadow-invlpg-skips-invvpid',
  base: 'vm-shadow',
  level: 'syscall',
  area: 'TLB',
  bugClass: 'missing TLB invalidation on an emulated INVLPG (use after free through a stale translation)',
  reference:
    'SDM Vol. 3A §4.10.4.1 (INVLPG invalidates the page’s TLB entries) and Vol. 3C §28.3.3.3 (with VPIDs the hypervisor must INVVPID for the guest); KVM’s kvm_mmu_invlpg calls flush_tlb_gva for this',
  flaw: 'The hypervisor handles the guest kernel’s INVLPG by dropping its shadow entry only: the real TLB keeps the translation, so after munmap the process still reads the page’s freed frame instead of faulting.',
  property: 'equivalence',
  minimal: 3,
  minimalWhy:
    'The page must be mapped (mmap: its kernel zeroes it through the mapping, which fills the TLB), unmapped (munmap: PTE cleared, INVLPG) and loaded (a SIGSEGV on its own kernel, a value here): 3. Without mmap there is nothing to keep; without munmap nothing is stale.',
  design,
  witness: {
    guests: [
      { quota: 2, abi: 'host' },
      { quota: 2, abi: 'host' },
    ],
    ops: [
      { guest: 0, call: { kind: 'mmap', page: 0 } },
      { guest: 0, call: { kind: 'munmap', page: 0 } },
      { guest: 0, call: { kind: 'load', page: 0, word: 0 } },
    ],
  },
};
