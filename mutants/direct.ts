/**
 * Direct-paging mutants: Xen's PV MMU (model/host/direct-paging.ts) with one validation or type
 * count rule broken, each the class of a real Xen security advisory. Each is `xen-pv` with one
 * of Xen's rules replaced (the design's `directPaging` piece).
 */

import fc from 'fast-check';
import { arbScenario, type Scenario } from '../generators/host.ts';
import { arbPteValuePastMemory } from '../generators/reference.ts';
import {
  composeDesign,
  DEFAULT_GEOMETRY,
  type Design,
  type DirectPagingRules,
  frameOwner,
  L1_DISALLOW,
  PTE,
  readWord,
  XEN_RULES,
  type XenMm,
  xenPv,
} from '../model/index.ts';
import type { Mutant } from './mutant.ts';

/** xen-pv with some of Xen's rules replaced. */
const xenPvWith = (name: string, description: string, rules: Partial<DirectPagingRules>): Design =>
  composeDesign({ ...xenPv, name, description, directPaging: { ...XEN_RULES, ...rules } });

/**
 * An L1 entry's writable mapping is accepted without the writable type reference: the check that
 * the frame is no page table (get_page_type(PGT_writable_page) in get_page_from_l1e) is skipped,
 * and so is its put. The class of XSA-148 (CVE-2015-7835: L2 validation bypassed, "writeable
 * mappings ... for pages which Xen is supposed to keep read-only") and XSA-182 (CVE-2016-6258:
 * a fast path that skipped re-validation): the guest maps its own page table writable.
 */
export const xenPvWritablePagetable: Design = xenPvWith(
  'xen-pv-writable-pagetable',
  'xen-pv whose get_page_from_l1e takes no writable type reference: a page table can be mapped writable',
  {
    getPageFromL1e: (x: XenMm, l1e: number) => XEN_RULES.getPageFromL1e(x, l1e & ~PTE.RW),
    putPageFromL1e: (x: XenMm, l1e: number) => XEN_RULES.putPageFromL1e(x, l1e & ~PTE.RW),
  },
);

/**
 * MMUEXT_UNPIN_TABLE clears the pin but keeps its type reference: a directory the guest freed
 * stays a validated L2 (and the tables it names L1s) for ever. The class of XSA-299
 * (CVE-2019-18421, "Issues with restartable PV type change operations": type references held or
 * dropped wrongly across de-validation) and XSA-242 (a page type reference dropped without its cleanup).
 */
export const xenPvUnpinKeepsType: Design = xenPvWith(
  'xen-pv-unpin-keeps-type',
  'xen-pv whose MMUEXT_UNPIN_TABLE clears the pin without dropping its type reference',
  {
    unpinTable: (x: XenMm, mfn: number) => {
      const p = x.pages.get(mfn);
      if (!p?.pinned) return XEN_RULES.unpinTable(x, mfn);
      x.pages.set(mfn, { ...p, pinned: false });
      return 'ok';
    },
  },
);

/**
 * mod_l2_entry's fast path (a directory entry rewritten with the same table and only A/D/U/S
 * changed) falls through to the put of the old entry: it drops the type reference of a table that
 * stays linked, so a live L1 loses its type and can be mapped writable. The type reference dropped
 * without being held: XSA-299's class (c40b33d726 "x86/mm: Don't drop a type ref unless you held
 * a ref to begin with").
 */
export const xenPvL2FastPathDropsType: Design = xenPvWith(
  'xen-pv-l2-fast-path-drops-type',
  "xen-pv whose mod_l2_entry fast path also drops the old entry's reference on the table it keeps",
  {
    modL2Entry: (x: XenMm, pa: number, nl2e: number) => {
      const ol2e = readWord(x.memory, pa);
      const rc = XEN_RULES.modL2Entry(x, pa, nl2e);
      // The fast path kept the reference; the flaw drops it anyway.
      const sameTable = ol2e & PTE.P && nl2e & PTE.P && (ol2e ^ nl2e) >>> 12 === 0;
      if (rc === 'ok' && sameTable) x.rules.putPageFromL2e(x, ol2e, pa >>> 12);
      return rc;
    },
  },
);

/**
 * get_page_from_l2e validates a directory entry by the L1 rules, as if it mapped a page: the
 * frame it names need not be an L1 page table (it only takes a writable reference if the entry
 * is writable) and its entries are never validated. A frame the guest maps writable becomes one of
 * its page tables. The class of XSA-240 (CVE-2017-15595, linear page-table rules: an L2 entry whose
 * target's type is not the one its level requires).
 */
export const xenPvL2EntryAsL1: Design = xenPvWith(
  'xen-pv-l2-entry-as-l1',
  'xen-pv whose get_page_from_l2e validates a directory entry with the L1 rules (a page mapping)',
  {
    getPageFromL2e: (x: XenMm, l2e: number) => x.rules.getPageFromL1e(x, l2e),
    putPageFromL2e: (x: XenMm, l2e: number, l2mfn: number) => {
      if (l2e >>> 12 !== l2mfn) x.rules.putPageFromL1e(x, l2e);
    },
  },
);

/**
 * get_page_from_l1e checks that the frame is a guest's, not that it is the caller's: an L1 entry
 * may name another guest's machine frame. The owner check of get_page_from_l1e (real_pg_owner !=
 * pg_owner -> could_not_pin) passed for any domain: a PV guest maps memory it does not own (the
 * class of XSA-148's mappings that escape Xen's checks).
 */
export const xenPvForeignFrame: Design = xenPvWith(
  'xen-pv-foreign-frame',
  "xen-pv whose get_page_from_l1e accepts another guest's machine frame",
  {
    getPageFromL1e: (x: XenMm, l1e: number) => {
      if (l1e & L1_DISALLOW) return 'EINVAL';
      const o = frameOwner(x.config, l1e >>> 12);
      // Any guest's frame will do; Xen's own frames and I/O memory are still refused.
      if (o.kind === 'host') return 'EPERM';
      if (o.kind !== 'guest') return 'EBUSY';
      if (l1e & PTE.RW && x.rules.getPageType(x, l1e >>> 12, 'writable') !== 'ok') return 'EBUSY';
      return 'ok';
    },
  },
);

/**
 * The default scenarios, with some register values (a guest's boot registers, MOV immediates)
 * replaced by PTE-looking values that name a frame just past the guest's memory, where the host
 * keeps the next guest's: the default generator's PTE-looking values name installed frames only,
 * so it never asks for another guest's frame.
 */
const scenariosNearOtherGuests = (): fc.Arbitrary<Scenario> => {
  const g = DEFAULT_GEOMETRY;
  return fc
    .tuple(
      arbScenario({ minGuests: 2 }),
      fc.array(fc.tuple(fc.nat(), arbPteValuePastMemory(g)), { minLength: 1, maxLength: 3 }),
    )
    .map(([s, values]) => {
      const slots = s.guests.length * 4 + s.ops.length;
      const at = new Map(values.map(([i, v]) => [i % slots, v] as const));
      return {
        ...s,
        guests: s.guests.map((spec, k) => ({
          ...spec,
          regs: spec.regs.map((r, j) => at.get(k * 4 + j) ?? r) as unknown as typeof spec.regs,
        })),
        ops: s.ops.map((o, i) => {
          const v = at.get(s.guests.length * 4 + i);
          return v !== undefined && o.op.kind === 'movImm' ? { ...o, op: { ...o.op, imm: v } } : o;
        }),
      };
    });
};

export const DIRECT_PAGING_MUTANTS: readonly Mutant[] = [
  {
    name: xenPvWritablePagetable.name,
    base: 'xen-pv',
    area: 'direct-paging',
    bugClass: 'a writable mapping of a page-table frame accepted (no writable type reference taken)',
    reference:
      'XSA-148 / CVE-2015-7835 (PV L2 validation bypassed: writable mappings of pages Xen keeps read-only); XSA-182 / CVE-2016-6258 (PV page-table fast path skipped re-validation)',
    property: 'resource-control',
    minimalLength: 1,
    minimalWhy:
      "One guest-kernel store to a word of page table 0 through window page (0,0), the table's own page: the kernel's set_pte is a hypercall, and its emulation sets the accessed and dirty bits of the PTE of (0,0), which maps page table 0 writable in the guest's own view. The kernel asks Xen for exactly that entry; Xen must refuse it (page table 0 is a validated L1), the mutant installs it, and the next check finds the guest able to write a table the MMU walks. No step is needed before: the boot tables are live.",
    target: { level: 'machine', design: xenPvWritablePagetable },
  },
  {
    name: xenPvUnpinKeepsType.name,
    base: 'xen-pv',
    area: 'direct-paging',
    bugClass: 'a type reference not dropped on unpin: a freed directory stays a page table',
    reference:
      'XSA-299 / CVE-2019-18421 (restartable PV type change operations: type references kept or dropped wrongly); XSA-242 (a page type reference dropped without its cleanup, leaking the page)',
    property: 'equivalence',
    minimalLength: 1,
    minimalWhy:
      'One MOV CR3 in guest kernel mode to any other frame: the kernel pins the new directory, switches, and unpins the boot directory, which keeps its type (and its tables theirs), so the kernel cannot write them back to pseudo-physical form (Xen refuses a writable access to a page table) and the guest reads machine frame numbers in what bare metal shows as its old page directory. Zero operations change nothing.',
    target: { level: 'machine', design: xenPvUnpinKeepsType },
  },
  {
    name: xenPvL2FastPathDropsType.name,
    base: 'xen-pv',
    area: 'direct-paging',
    bugClass: 'a type reference dropped early: a live page table loses its type and is written as plain memory',
    reference:
      'XSA-299 / CVE-2019-18421 (Xen commit c40b33d726 "x86/mm: Don\'t drop a type ref unless you held a ref to begin with")',
    property: 'resource-control',
    minimalLength: 1,
    minimalWhy:
      "One guest-kernel store through directory slot 0 (whose boot PDE has no accessed bit), to page table 0's own page: its emulation sets the PDE's accessed bit, which the kernel installs by mmu_update; the fast path keeps the table but the mutant drops its type, so page table 0 is no validated L1 any more, Xen takes the next update of its PTE of (0,0) (writable in the guest's view) as a plain write, and page table 0 maps itself writable. A store elsewhere in slot 0 drops the type too but maps no table writable, so one operation is needed and suffices.",
    target: { level: 'machine', design: xenPvL2FastPathDropsType },
  },
  {
    name: xenPvL2EntryAsL1.name,
    base: 'xen-pv',
    area: 'direct-paging',
    bugClass: 'a directory entry validated by the L1 rules: a frame mapped writable becomes a page table',
    reference:
      'XSA-240 / CVE-2017-15595 (PV linear page tables: an L2 entry whose target does not have the type its level needs)',
    property: 'resource-control',
    minimalLength: 1,
    minimalWhy:
      "At boot the directory is validated with the mutant rule, so the page tables only hold writable references: one guest-kernel store to a page table through window page (0,0) (or to the directory through (0,1)) makes the kernel install the accessed and dirty bits of that page's PTE, writable in the guest's view; Xen, seeing no L1 table there, writes it as plain memory, and the guest can write a table the MMU walks. Zero operations leave every table read-only.",
    target: { level: 'machine', design: xenPvL2EntryAsL1 },
  },
  {
    name: xenPvForeignFrame.name,
    base: 'xen-pv',
    area: 'direct-paging',
    bugClass: "another guest's machine frame accepted in an L1 entry",
    reference:
      "Xen get_page_from_l1e's owner check (real_pg_owner != pg_owner: could_not_pin); the class of XSA-148 / CVE-2015-7835 (a PV guest's page tables reaching memory Xen must keep from it)",
    property: 'resource-control',
    minimalLength: 1,
    minimalWhy:
      "Two guests, and one guest-kernel store by guest 0 of a PTE naming a frame just past its memory (pseudo-physical frame 32 of 32) into page table 0: the kernel's P2M is one extent, so it asks Xen for machine frame base + 32, guest 1's frame 0; Xen must refuse (another domain's page), the mutant installs it. Guest 1 need not run; guest 0 needs the one store.",
    target: { level: 'machine', design: xenPvForeignFrame, scenarios: scenariosNearOtherGuests },
  },
];
