/**
 * MMU virtualization mutants: shadow entries that lose the guest's permissions, shadow tables not
 * kept in sync with the guest's invalidations, an EPT that reaches a hypervisor frame.
 */
import {
  commitGuest,
  composeDesign,
  type Design,
  EPT_BITS,
  ept,
  guestView,
  type HostMachine,
  type HypervisorEntry,
  PAGE_SIZE,
  POOL,
  PTE,
  poolBase,
  shadow,
  standardHandle,
  step,
  writeWord,
} from '../model/index.ts';
import type { Mutant } from './mutant.ts';

/** #PF error code bit 1: the access was a write (SDM Vol. 3A §4.7). */
const PF_WRITE = 1 << 1;

import { guestLeaf, isGuestPageTable, patchShadowEntry } from './support.ts';

/** The standard handler, then `after` on the shadow entry a hidden page fault just filled. */
const afterShadowFill =
  (self: () => Design, after: (d: Design, h: HostMachine, g: number, va: number) => HostMachine) =>
  (h: HostMachine, entry: HypervisorEntry): HostMachine => {
    const out = standardHandle(self)(h, entry);
    if (entry.kind !== 'exit' || entry.exit.reason !== 'exception' || entry.exit.vector !== 14) return out;
    if (entry.exit.address === undefined) return out;
    return after(self(), out, out.current, entry.exit.address);
  };

/**
 * Shadow paging whose fill grants user access whatever the guest's U/S bits say (the class of
 * CVE-2021-38198: KVM's shadow MMU computed a shadow page's access from the wrong guest entry,
 * "leading to a missing guest protection page fault").
 */
export const shadowIgnoresUs: Design = composeDesign({
  name: 'shadow-ignores-us',
  description: "shadow entries are user-accessible whatever the guest's U/S bits",
  axes: shadow.axes,
  handle: afterShadowFill(
    () => shadowIgnoresUs,
    (_d, h, g, va) => patchShadowEntry(h, g, va, (pte) => pte | PTE.US),
  ),
});

/**
 * Shadow paging whose write-fault path maps the page writable whatever the guest's R/W bits say
 * (page tables stay write-protected): the hypervisor takes a write fault it must reflect to the
 * guest for one it must fix up. Same class as above (CVE-2021-38198), for the write permission.
 */
export const shadowIgnoresRw: Design = composeDesign({
  name: 'shadow-ignores-rw',
  description: "after a write fault, shadow entries are writable whatever the guest's R/W bits",
  axes: shadow.axes,
  handle: (h, entry) => {
    const d = shadowIgnoresRw;
    const out = standardHandle(() => d)(h, entry);
    if (entry.kind !== 'exit' || entry.exit.reason !== 'exception' || entry.exit.vector !== 14) return out;
    const va = entry.exit.address;
    if (va === undefined || !((entry.exit.errorCode ?? 0) & PF_WRITE)) return out;
    const g = out.current;
    const leaf = guestLeaf(guestView(d, out, g), va);
    if (!leaf || isGuestPageTable(d, out, g, leaf.frame)) return out;
    return patchShadowEntry(out, g, va, (pte) => pte | PTE.RW);
  },
});

/** Emulate an exiting instruction on the guest's view and write it back, with no MMU sync at all. */
const emulateWithoutSync = (d: Design, entry: Extract<HypervisorEntry, { kind: 'exit' }>): HostMachine => {
  const g = entry.before.current;
  return commitGuest(d, entry.before, g, step(guestView(d, entry.before, g), entry.op).machine);
};

/**
 * Shadow paging that does not sync on INVLPG: the guest's INVLPG is emulated on its view, but
 * neither the shadow entry nor the real TLB entry is dropped (KVM's shadow MMU handles INVLPG in
 * FNAME(invlpg), paging_tmpl.h; its stale-shadow bugs, e.g. "KVM: X86: Synchronize the shadow
 * pagetable before link it", 2021, leave the guest a wrong mapping the SDM does not allow).
 */
export const shadowNoInvlpgSync: Design = composeDesign({
  name: 'shadow-no-invlpg-sync',
  description: "shadow paging that ignores the guest's INVLPG (no shadow drop, no real TLB invalidation)",
  axes: shadow.axes,
  handle: (h, entry) =>
    entry.kind === 'exit' && entry.op.kind === 'invlpg'
      ? emulateWithoutSync(shadowNoInvlpgSync, entry)
      : standardHandle(() => shadowNoInvlpgSync)(h, entry),
});

/**
 * Shadow paging that does not sync on MOV to CR3: the new CR3 is recorded but the shadow tables
 * of the old address space stay in use and the real TLB is not flushed (the same stale-shadow
 * class; SDM Vol. 3A §4.10.4.1: MOV to CR3 invalidates every non-global translation).
 */
export const shadowNoCr3Sync: Design = composeDesign({
  name: 'shadow-no-cr3-sync',
  description: "shadow paging that keeps the old shadow tables across the guest's MOV to CR3",
  axes: shadow.axes,
  handle: (h, entry) =>
    entry.kind === 'exit' && entry.op.kind === 'movToCr3'
      ? emulateWithoutSync(shadowNoCr3Sync, entry)
      : standardHandle(() => shadowNoCr3Sync)(h, entry),
});

/**
 * EPT whose entry for the guest's last frame points at the guest's own EPT table page (an
 * off-by-one in building the guest-physical map): the guest can rewrite its own EPT. The class of
 * XSA-480 / CVE-2026-23554 (EPT entries "can point to memory ranges not owned by the guest").
 */
export const eptMapsHypervisorFrame: Design = composeDesign({
  name: 'ept-maps-hypervisor-frame',
  description: "the EPT maps the guest's last frame onto its own EPT table page",
  axes: ept.axes,
  init: (h0) => {
    const h = ept.init(h0);
    let memory = h.memory;
    const last = h.config.guestGeometry.frames - 1;
    for (const ctx of h.guests) {
      const table = poolBase(ctx.id) + POOL.EPT_TABLE + Math.floor(last / 1024);
      memory = writeWord(
        memory,
        table * PAGE_SIZE + (last % 1024) * 4,
        (table * PAGE_SIZE) | EPT_BITS.R | EPT_BITS.W | EPT_BITS.X,
      );
    }
    return { ...h, memory };
  },
});

export const MMU_MUTANTS: readonly Mutant[] = [
  {
    name: shadowIgnoresUs.name,
    base: 'shadow',
    area: 'shadow',
    bugClass: "a shadow entry that ignores the guest's U/S bit",
    reference: 'CVE-2021-38198 (KVM shadow MMU: wrong inherited access, missing guest protection #PF)',
    property: 'equivalence',
    minimalLength: 2,
    minimalWhy:
      "(1) A successful access to a supervisor-only page P takes a hidden fault since the shadow starts empty; the hypervisor emulates the operation, which sets the guest's accessed bits, and fills the faulting page's shadow entry, here user-accessible: at CPL 0 an IRET to ring 3 first pushes its frame on the supervisor-only kernel stack page (so the fill is that page's, and the guest is at CPL 3 after it); (2) at CPL 3 a load of the kernel stack page runs natively and succeeds where bare metal raises #PF. (Booted at CPL 3, LAR's implicit read of the GDT fills the system page the same way.) One operation cannot both fill the entry and then use it from ring 3.",
    target: { level: 'machine', design: shadowIgnoresUs },
  },
  {
    name: shadowIgnoresRw.name,
    base: 'shadow',
    area: 'shadow',
    bugClass: "a shadow entry that ignores the guest's R/W bit",
    reference: 'CVE-2021-38198 (KVM shadow MMU: wrong inherited access, missing guest protection #PF)',
    property: 'equivalence',
    minimalLength: 2,
    minimalWhy:
      "A fill needs the accessed bits set on the page's path, and a faulting walk sets none (canonical), so for most pages a successful access must come first: three operations. The system page is shorter: (1) at CPL 3, a store to it (supervisor-only) faults; delivering the guest's #PF reads the IDT and GDT on that same page, which sets the accessed bits on its path, so the fill after the write fault succeeds and the mutant maps the page writable though it is not dirty; (2) at CPL 0, where the #PF took the guest, a write to the page (a store, SGDT) runs natively without setting the guest's D bit, which bare metal sets. The fill needs a fault first, so one operation cannot show it.",
    target: { level: 'machine', design: shadowIgnoresRw },
  },
  {
    name: shadowNoInvlpgSync.name,
    base: 'shadow',
    area: 'shadow',
    bugClass: "no shadow sync on the guest's INVLPG: a stale translation outlives the invalidation",
    reference:
      'KVM shadow MMU FNAME(invlpg) (paging_tmpl.h); "KVM: X86: Synchronize the shadow pagetable before link it" (2021)',
    property: 'equivalence',
    minimalLength: 5,
    minimalWhy:
      "(1) an access to page P takes a hidden fault and is emulated (the real TLB stays empty); (2) a second access runs natively and caches P in the real TLB; (3) a store rewrites P's PTE (trapped and emulated; a stale TLB entry is still permitted); (4) INVLPG P, ignored; (5) an access to P: bare metal walks afresh, the real TLB answers from the stale entry.",
    target: { level: 'machine', design: shadowNoInvlpgSync },
  },
  {
    name: shadowNoCr3Sync.name,
    base: 'shadow',
    area: 'shadow',
    bugClass: "no shadow sync on the guest's MOV to CR3: the old address space's shadow stays in use",
    reference:
      'SDM Vol. 3A §4.10.4.1 (MOV to CR3 invalidates); KVM "Synchronize the shadow pagetable before link it" (2021)',
    property: 'equivalence',
    minimalLength: 3,
    minimalWhy:
      '(1) a load of a page P (directory slot 1 or later) fills its shadow entry; (2) MOV CR3 to another frame that maps P elsewhere (the boot page table of slot 0 read as a directory maps slot 1 onto the page directory); (3) the load of P again reads through the old shadow entry, where bare metal walks the new tables. The fill, the switch and the stale use are each needed.',
    target: { level: 'machine', design: shadowNoCr3Sync },
  },
  {
    name: eptMapsHypervisorFrame.name,
    base: 'ept',
    area: 'ept',
    bugClass: 'an EPT entry that maps a hypervisor frame (the guest can rewrite its own EPT)',
    reference: 'XSA-480 / CVE-2026-23554 (EPT entries pointing to memory not owned by the guest)',
    property: 'resource-control',
    minimalLength: 1,
    minimalWhy:
      'The bad entry exists from VM creation; resource control scans every EPT entry after the first step, so any single operation shows it. Zero operations give no step to check.',
    target: { level: 'machine', design: eptMapsHypervisorFrame },
  },
];
