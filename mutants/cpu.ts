/**
 * CPU virtualization mutants: a sensitive instruction left to run natively, a guest-owned control
 * bit the hypervisor still relies on, a hypercall that trusts a guest pointer.
 */
import {
  CR0,
  commitGuest,
  composeDesign,
  type Design,
  guestView,
  hostFrames,
  shadow,
  standardHandle,
  step,
  xenPv,
} from '../model/index.ts';
import type { Mutant } from './mutant.ts';

/**
 * VT-x with CR3-store exiting off under shadow paging: MOV from CR3 runs natively and returns the
 * real CR3, the host-physical address of the shadow root, instead of the guest's own CR3. A
 * sensitive instruction left unemulated (Robin & Irvine 2000's class; the leak is Rutkowska's
 * Red Pill, 2004, for SIDT).
 */
export const shadowCr3StoreNotExiting: Design = composeDesign({
  name: 'shadow-cr3-store-not-exiting',
  description: 'shadow paging with the CR3-store-exiting control off: the guest reads the real CR3',
  axes: shadow.axes,
  hardware: (h) => {
    const hw = shadow.hardware(h);
    const base = hw.exits?.instruction;
    return {
      ...hw,
      exits: {
        ...hw.exits,
        instruction: (op, cpu) => !(op.kind === 'movFromCr' && op.cr === 3) && (base?.(op, cpu) ?? false),
      },
    };
  },
});

/**
 * VT-x with CR0.WP left out of the CR0 guest/host mask under shadow paging: the hypervisor still
 * forces WP on (it needs it to write-protect the guest's tables against the guest kernel) and
 * still reports the guest's own WP from its saved copy, but the guest now writes and reads the
 * real bit without an exit. The class of KVM's "Make CR0.WP a guest owned bit" (Linux 6.4, 2023),
 * which had to keep WP intercepted whenever shadow paging is in use.
 */
export const shadowCr0WpGuestOwned: Design = composeDesign({
  name: 'shadow-cr0-wp-guest-owned',
  description: 'shadow paging with CR0.WP missing from the CR0 guest/host mask',
  axes: shadow.axes,
  hardware: (h) => {
    const hw = shadow.hardware(h);
    return { ...hw, exits: { ...hw.exits, cr0Mask: CR0.PG } };
  },
});

/**
 * Xen-style PV whose SGDT hypercall copies the GDTR to the guest's buffer without translating or
 * checking the pointer: the linear address the guest passed is used as a machine address (the
 * class of XSA-212, CVE-2017-7228: memory_exchange() drove hypervisor accesses outside the
 * guest's arrays).
 */
export const xenPvHypercallTrustsPointer: Design = composeDesign({
  name: 'xen-pv-hypercall-trusts-pointer',
  description: 'PV SGDT hypercall writes to the guest-given address as a host-physical address',
  axes: xenPv.axes,
  handle: (h, entry) => {
    if (entry.kind === 'call' && entry.op.kind === 'sgdt') {
      const g = h.current;
      const view = guestView(xenPvHypercallTrustsPointer, h, g);
      // copy_to_guest without the guest's page tables: paging off, over host memory.
      const machineView = {
        ...view,
        geometry: { ...view.geometry, frames: hostFrames(h.config) },
        memory: h.memory,
        cpu: { ...view.cpu, cr0: (view.cpu.cr0 & ~CR0.PG) >>> 0 },
      };
      const written = step(machineView, entry.op).machine.memory;
      const h1 = { ...h, memory: written };
      return commitGuest(xenPvHypercallTrustsPointer, h1, g, guestView(xenPvHypercallTrustsPointer, h1, g));
    }
    return standardHandle(() => xenPvHypercallTrustsPointer)(h, entry);
  },
});

export const CPU_MUTANTS: readonly Mutant[] = [
  {
    name: shadowCr3StoreNotExiting.name,
    base: 'shadow',
    area: 'cpu',
    bugClass: 'a sensitive instruction (MOV from CR3) left to run natively: the guest reads the shadow root',
    reference: 'Robin & Irvine, USENIX Security 2000 (sensitive unprivileged instructions); Rutkowska, Red Pill (2004)',
    property: 'equivalence',
    minimalLength: 1,
    minimalWhy:
      'MOV EAX, CR3 alone: bare metal returns the guest CR3 (the boot directory, GPA 0), the real CPU returns the shadow root (a host frame of the hypervisor pool). No operation can be left out of one.',
    target: { level: 'machine', design: shadowCr3StoreNotExiting },
  },
  {
    name: shadowCr0WpGuestOwned.name,
    base: 'shadow',
    area: 'cpu',
    bugClass: 'a control bit (CR0.WP) handed to the guest while the hypervisor still relies on owning it',
    reference:
      'Linux KVM "KVM: VMX: Make CR0.WP a guest owned bit" (v6.4, 2023): WP stays intercepted under shadow paging',
    property: 'equivalence',
    minimalLength: 1,
    minimalWhy:
      'MOV CR0 clearing WP runs natively (WP is not in the mask) and the hypervisor keeps reporting its saved WP = 1; or, booted with WP = 0, MOV EAX, CR0 reads the forced real WP = 1. Either is one operation.',
    target: { level: 'machine', design: shadowCr0WpGuestOwned },
  },
  {
    name: xenPvHypercallTrustsPointer.name,
    base: 'xen-pv',
    area: 'cpu',
    bugClass: 'a hypercall that trusts a guest pointer: SGDT output written to a machine address',
    reference: 'XSA-212 / CVE-2017-7228 (memory_exchange() insufficient pointer check, PV guest breakout)',
    property: 'equivalence',
    minimalLength: 1,
    minimalWhy:
      'One SGDT in guest kernel mode (a hypercall under PV) to any mapped page: bare metal stores the GDTR at the page the guest maps there; the hypervisor stores it at host-physical address = the linear address, so the guest sees its own page unchanged.',
    target: { level: 'machine', design: xenPvHypercallTrustsPointer },
  },
];
