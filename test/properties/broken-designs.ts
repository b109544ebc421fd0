/**
 * Test-only broken designs, each one realistic flaw in a correct preset, written with the public
 * design API as a user would: the preset's axes, with one piece replaced. (Spreading a preset's
 * functions into `composeDesign` would keep them bound to the preset; take its axes instead.)
 */
import {
  commitGuest,
  composeDesign,
  type Design,
  ept,
  guestView,
  passthrough,
  shadow,
  standardHandle,
  step,
} from 'hyperprop';

/**
 * Shadow paging that does not sync on INVLPG: the hypervisor emulates the guest's INVLPG on its
 * view but neither drops the shadow entry nor invalidates the real TLB (the class of KVM's
 * missed-INVLPG shadow bugs; a stale translation survives the guest's invalidation).
 */
export const shadowNoInvlpgSync: Design = composeDesign({
  axes: shadow.axes,
  name: 'shadow-no-invlpg-sync',
  description: 'shadow paging that ignores the guest INVLPG (no shadow drop, no real TLB invalidation)',
  handle: (h, entry) => {
    if (entry.kind === 'exit' && entry.op.kind === 'invlpg') {
      const g = entry.before.current;
      const view = guestView(shadowNoInvlpgSync, entry.before, g);
      return commitGuest(shadowNoInvlpgSync, entry.before, g, step(view, entry.op).machine);
    }
    return standardHandle(() => shadowNoInvlpgSync)(h, entry);
  },
});

/**
 * VPID turned on but every guest given the same tag: no flush on switch (VPID is on), so one
 * guest's cached translations serve the next guest (the class of VPID/ASID reuse bugs).
 */
export const sharedVpid: Design = composeDesign({
  axes: ept.axes,
  name: 'ept-shared-vpid',
  description: 'EPT with VPID on, but every guest tagged VPID 1',
  tag: () => 1,
});

/**
 * Passthrough with the IOMMU bypassed: the assigned device's bus addresses are host-physical
 * addresses, so the guest can aim its DMA anywhere (the class of DMA attacks on VMMs without
 * VT-d, e.g. Wojtczuk, "Subverting the Xen hypervisor", Black Hat 2008).
 */
export const passthroughNoIommu: Design = composeDesign({
  name: 'passthrough-no-iommu',
  description: 'passthrough with DMA remapping off: bus addresses are host addresses',
  axes: { ...passthrough.axes, iommu: false },
});
