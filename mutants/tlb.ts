/** TLB mutants: translations of one guest left usable by another. */
import { bt, composeDesign, type Design, ept } from '../model/index.ts';
import type { Mutant } from './mutant.ts';

/**
 * VPID on, but every guest given the same tag: nothing is flushed on a switch (VPID is on), so
 * one guest's cached translations serve the next (the class of KVM's "nVMX: Always flush vpid02
 * on first use", 2026: a reused VPID still had another VM's TLB entries).
 */
export const eptSharedVpid: Design = composeDesign({
  name: 'ept-shared-vpid',
  description: 'EPT with VPID on, but every guest tagged VPID 1',
  axes: ept.axes,
  tag: () => 1,
});

/**
 * Untagged TLB (no VPID) and no flush on a guest switch: the previous guest's translations stay
 * usable (KVM "nVMX: Flush TLB entries tagged by dest EPTP on L1<->L2 transitions", 2018: guests
 * sharing a tag need a flush on every transition).
 */
export const btNoFlushOnSwitch: Design = composeDesign({
  name: 'bt-no-flush-on-switch',
  description: 'binary translation, untagged TLB, not flushed on a guest switch',
  axes: bt.axes,
  // The standard switch, with the real TLB as it was before it (the switch only ever flushes).
  switchTo: (h, to) => ({ ...bt.switchTo(h, to), tlb: h.tlb }),
});

export const TLB_MUTANTS: readonly Mutant[] = [
  {
    name: eptSharedVpid.name,
    base: 'ept',
    area: 'tlb',
    bugClass: 'VPID tags reused across guests',
    reference: 'Linux KVM "nVMX: Always flush vpid02 on first use" (2026): a reused VPID kept another VM\'s entries',
    property: 'resource-control',
    minimalLength: 2,
    minimalWhy:
      "(1) guest A touches memory, caching a translation to A's frame under the shared tag (EPT: no hidden fault, the first access already runs natively); (2) guest B runs any operation: B can now use A's entry. One operation cannot: the only entries then are the running guest's own.",
    target: { level: 'machine', design: eptSharedVpid },
  },
  {
    name: btNoFlushOnSwitch.name,
    base: 'bt',
    area: 'tlb',
    bugClass: 'no TLB flush on a guest switch without VPID',
    reference: 'Linux KVM "nVMX: Flush TLB entries tagged by dest EPTP on L1<->L2 transitions" (2018)',
    property: 'resource-control',
    minimalLength: 3,
    minimalWhy:
      "Shadow paging starts with empty shadow tables, so guest A's first access to a page P is a hidden fault the hypervisor emulates (the real TLB stays empty): (1) that access fills P's shadow entry; (2) a second access runs natively and caches P -> A's frame in the untagged real TLB; (3) guest B runs any operation with A's entry still usable.",
    target: { level: 'machine', design: btNoFlushOnSwitch },
  },
];
