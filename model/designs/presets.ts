/**
 * The built-in designs (DESIGN.md §3), written with the public design API only.
 */

import type { Design } from '../host/design.ts';
import { composeDesign } from '../host/toolkit.ts';

/** Hardware-assisted CPU (VT-x), shadow page tables, VPID-tagged TLB, an emulated device. */
export const shadow: Design = composeDesign({
  name: 'shadow',
  description:
    'VT-x guest in non-root mode; shadow page tables (write-protected guest tables, synced on INVLPG/CR3); VPID; emulated device (every access traps)',
  axes: { cpu: 'hardware-assisted', mmu: 'shadow', tlb: 'vpid', io: 'emulated' },
});

/** Hardware-assisted CPU, nested paging (EPT), VPID, a paravirtual device. */
export const ept: Design = composeDesign({
  name: 'ept',
  description:
    'VT-x guest in non-root mode; EPT two-dimensional walks; VPID; paravirtual device (shared ring, notify exits to the back end); network: a learning bridge in the hypervisor over the card in promiscuous mode',
  axes: { cpu: 'hardware-assisted', mmu: 'nested', tlb: 'vpid', io: 'paravirtual', net: 'bridge' },
});

/** Hardware-assisted CPU, EPT, VPID, and a real device per guest behind the IOMMU. */
export const passthrough: Design = composeDesign({
  name: 'passthrough',
  description:
    'VT-x guest in non-root mode; EPT; VPID; an assigned device per guest: DMA through its IOMMU domain (VT-d second-level tables), MSIs through interrupt remapping; network: an SR-IOV virtual function per guest (MAC filter, spoof check, switched by the card)',
  axes: {
    cpu: 'hardware-assisted',
    mmu: 'nested',
    tlb: 'vpid',
    io: 'passthrough',
    iommu: true,
    interruptRemapping: true,
    net: 'sriov',
  },
});

/** As `passthrough`, with an SR-IOV virtual function per guest instead of a whole device. */
export const sriov: Design = composeDesign({
  name: 'sriov',
  description:
    'VT-x guest in non-root mode; EPT; VPID; one SR-IOV physical function kept by the hypervisor, a virtual function per guest with its own IOMMU domain and remapping entry',
  axes: { cpu: 'hardware-assisted', mmu: 'nested', tlb: 'vpid', io: 'sriov', iommu: true, interruptRemapping: true },
});

/** Trap-and-emulate with ring compression and shadow paging: on x86 it cannot be equivalent (Popek–Goldberg). */
export const classic: Design = composeDesign({
  name: 'classic',
  description:
    'trap-and-emulate: guest kernel deprivileged to ring 1, hypervisor owns the IDT; shadow paging; TLB flushed on switch',
  axes: { cpu: 'trap-and-emulate', mmu: 'shadow', tlb: 'flush' },
});

/** Binary translation of guest kernel code, shadow paging, TLB flushed on switch. */
export const bt: Design = composeDesign({
  name: 'bt',
  description:
    'binary translation: sensitive and privileged guest-kernel instructions become hypervisor calls, user code runs natively; shadow paging; flush on switch',
  axes: { cpu: 'binary-translation', mmu: 'shadow', tlb: 'flush' },
});

/**
 * Xen-style paravirtualization: the guest kernel makes hypercalls instead of sensitive
 * instructions, and runs on direct paging (its own page tables, in machine frames, read-only to
 * it and changed only by validated hypercalls: model/host/direct-paging.ts, pv-kernel.ts).
 */
export const xenPv: Design = composeDesign({
  name: 'xen-pv',
  description:
    "paravirtual (Xen PV style): the guest kernel issues hypercalls for every privileged or sensitive operation; ring 1; direct paging (the guest's tables hold machine frames, read-only to it; mmu_update / update_va_mapping / mmuext_op validated against per-frame types); flush on switch; network: the split driver (front ends hand frames to the back end in Dom0, which alone drives the card)",
  axes: { cpu: 'paravirtual', mmu: 'direct', tlb: 'flush', net: 'xen-split' },
});

/** The same paravirtual guest on shadow page tables (Xen's PV guests under shadow mode; xen-pv before direct paging). */
export const xenPvShadow: Design = composeDesign({
  name: 'xen-pv-shadow',
  description:
    "paravirtual (Xen PV style) on shadow paging: hypercalls for every privileged or sensitive operation; ring 1; the hypervisor shadows the guest's own (pseudo-physical) tables; flush on switch; network: the split driver",
  axes: { cpu: 'paravirtual', mmu: 'shadow', tlb: 'flush', net: 'xen-split' },
});

/** Hardware-assisted CPU, EPT, VPID, and a VMDq card: the card sorts frames into per-guest queues by MAC. */
export const vmdq: Design = composeDesign({
  name: 'vmdq',
  description:
    'VT-x guest in non-root mode; EPT; VPID; emulated device; network: VMDq (the card sorts frames by MAC into a queue per guest, the hypervisor copies from the queue)',
  axes: { cpu: 'hardware-assisted', mmu: 'nested', tlb: 'vpid', io: 'emulated', net: 'vmdq' },
});

/** The presets by name. */
export const PRESETS: Readonly<Record<string, Design>> = Object.freeze({
  shadow,
  ept,
  passthrough,
  sriov,
  classic,
  bt,
  'xen-pv': xenPv,
  'xen-pv-shadow': xenPvShadow,
  vmdq,
});
