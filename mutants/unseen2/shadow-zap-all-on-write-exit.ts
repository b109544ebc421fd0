/**
 * FROZEN: nothing under mutants/unseen2/ changes after its first commit.
 *
 * shadow, which throws its whole shadow away after emulating any guest write.
 */
import { composeDesign, type Design, linear, shadow, shadowZap, standardHandle } from '../../index.ts';
import { GEOMETRY, guest, type UnseenMutant } from '../unseen/types.ts';
import { usedTables } from './common.ts';

const design: Design = composeDesign({
  ...shadow,
  name: 'shadow-zap-all-on-write-exit',
  description: 'shadow, but every emulated guest store zaps all of the guest’s shadow tables',
  handle: (h, e) => {
    const out = standardHandle(() => design)(h, e);
    return e.kind === 'exit' && e.op.kind === 'store' ? shadowZap(design, out, out.current) : out;
  },
});

export const shadowZapAllOnWriteExit: UnseenMutant = {
  name: 'shadow-zap-all-on-write-exit',
  base: 'shadow',
  level: 'machine',
  area: 'efficiency',
  bugClass: 'over-broad invalidation: the whole shadow dropped where one entry (or none) was stale',
  reference:
    'KVM’s shadow MMU zaps only the shadow pages of the guest table written (kvm_mmu_pte_write, reverse maps), and kvm_mmu_zap_all is the slow path it avoids; DESIGN.md §4 efficiency (at most one hidden fault per page and access kind after the last change)',
  flaw: 'After emulating a store that trapped (a hidden fault, a write to a write-protected table), the handler empties every shadow table of the guest instead of the entries the store made stale, so pages whose tables never changed fault again.',
  property: 'efficiency',
  minimal: 2,
  minimalWhy:
    'A first store to a page is a hidden #PF the hypervisor fills (and, here, zaps again); the same store again faults a second time although no table mapping the page changed. One store faults once, as it must: 2.',
  design,
  witness: {
    geometry: GEOMETRY,
    guests: [guest(usedTables)],
    ops: [
      { guest: 0, op: { kind: 'store', va: linear(0, 2), src: 0 } },
      { guest: 0, op: { kind: 'store', va: linear(0, 2), src: 0 } },
    ],
  },
};
