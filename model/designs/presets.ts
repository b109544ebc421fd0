/**
 * The built-in designs (DESIGN.md §3), written with the public design API only.
 */

import type { Design } from '../host/design.ts';
import { composeDesign } from '../host/toolkit.ts';

/** Hardware-assisted CPU (VT-x), shadow page tables, VPID-tagged TLB. */
export const shadow: Design = composeDesign({
  name: 'shadow',
  description:
    'VT-x guest in non-root mode; shadow page tables (write-protected guest tables, synced on INVLPG/CR3); VPID',
  axes: { cpu: 'hardware-assisted', mmu: 'shadow', tlb: 'vpid' },
});

/** Hardware-assisted CPU, nested paging (EPT), VPID. */
export const ept: Design = composeDesign({
  name: 'ept',
  description: 'VT-x guest in non-root mode; EPT two-dimensional walks; VPID',
  axes: { cpu: 'hardware-assisted', mmu: 'nested', tlb: 'vpid' },
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

/** Xen-style paravirtualization: the guest kernel makes hypercalls instead of sensitive instructions. */
export const xenPv: Design = composeDesign({
  name: 'xen-pv',
  description:
    'paravirtual (Xen PV style): the guest kernel issues hypercalls for every privileged or sensitive operation; ring 1; shadow-style paging; flush on switch',
  axes: { cpu: 'paravirtual', mmu: 'shadow', tlb: 'flush' },
});

/** The presets by name. */
export const PRESETS: Readonly<Record<string, Design>> = Object.freeze({
  shadow,
  ept,
  classic,
  bt,
  'xen-pv': xenPv,
});
