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
  PAGE_SIZE,
  readWord,
  shadow,
  standardHandle,
  step,
  writeWord,
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

/**
 * Xen-style PV whose SGDT hypercall copies its result out through the next domain's memory (a
 * stale or off-by-one domain pointer in copy_to_guest): the caller's buffer stays as it was and
 * another guest's frame at that guest-physical address is overwritten. The hypervisor is the
 * confused deputy (Hardy 1988): its own code does the store, on a guest's behalf.
 */
export const xenPvCopiesToWrongDomain: Design = composeDesign({
  ...xenPv,
  name: 'xen-pv-copies-to-wrong-domain',
  description: "the SGDT hypercall's copy-out lands in the next domain's memory",
  handle: (h, entry) => {
    const self = xenPvCopiesToWrongDomain;
    if (entry.kind !== 'call' || entry.op.kind !== 'sgdt' || h.guests.length < 2)
      return standardHandle(() => self)(h, entry);
    const victim = (h.current + 1) % h.guests.length;
    const own = guestView(self, h, h.current);
    const other = guestView(self, h, victim);
    // The caller's CPU state and page tables, the other domain's memory.
    const r = step({ ...own, memory: other.memory }, entry.op);
    return commitGuest(self, h, victim, { ...other, memory: r.machine.memory });
  },
});

/** Guest-physical address of the per-guest record (a steal-time or clock page) the hypervisor updates on exits. */
const RECORD_GPA = 7 * PAGE_SIZE;

/**
 * VT-x with shadow paging whose HLT-exit handler updates a per-guest record (a steal-time or clock
 * page) through a cached mapping of the wrong guest: the next guest's word at that address changes.
 */
export const shadowExitWritesWrongGuest: Design = composeDesign({
  ...shadow,
  name: 'shadow-exit-writes-wrong-guest',
  description: "the HLT exit handler updates the guest's record in the next guest's memory",
  handle: (h, entry) => {
    const self = shadowExitWritesWrongGuest;
    const out = standardHandle(() => self)(h, entry);
    if (entry.kind !== 'exit' || entry.op.kind !== 'hlt' || h.guests.length < 2) return out;
    const victim = (h.current + 1) % h.guests.length;
    const v = guestView(self, out, victim);
    const memory = writeWord(v.memory, RECORD_GPA, (readWord(v.memory, RECORD_GPA) + 1) >>> 0);
    return commitGuest(self, out, victim, { ...v, memory });
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
  {
    name: xenPvCopiesToWrongDomain.name,
    base: 'xen-pv',
    area: 'cpu',
    bugClass: "a confused deputy: a hypercall's copy-out written into another domain's memory",
    reference:
      'N. Hardy, "The Confused Deputy" (1988); Popek & Goldberg 1974, resource control: what a guest can make happen, whoever does the store',
    property: 'resource-control',
    minimalLength: 1,
    minimalWhy:
      "With two guests, one SGDT in guest 0's kernel (a hypercall under PV) to a mapped page: the hypervisor's copy-out changes guest 1's frame during guest 0's step. Guest 1 need not run; one operation cannot be left out.",
    target: { level: 'machine', design: xenPvCopiesToWrongDomain },
  },
  {
    name: shadowExitWritesWrongGuest.name,
    base: 'shadow',
    area: 'cpu',
    bugClass: "a confused deputy: an exit handler updates a per-guest record in another guest's memory",
    reference:
      'N. Hardy, "The Confused Deputy" (1988); host writes to guest-registered pages on exits (KVM steal time and kvmclock through its gfn_to_pfn cache)',
    property: 'resource-control',
    minimalLength: 1,
    minimalWhy:
      "With two guests, one HLT in guest 0 exits (VT-x HLT exiting), and the handler changes guest 1's frame 7 during guest 0's step. Guest 1 need not run.",
    target: { level: 'machine', design: shadowExitWritesWrongGuest },
  },
];
