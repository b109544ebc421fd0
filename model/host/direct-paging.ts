/**
 * Direct paging (DESIGN.md §3, the MMU axis `direct`): Xen's paravirtualized MMU, the
 * hypervisor's side. A PV guest's page tables hold machine frame numbers and are walked by the
 * real MMU; the guest never writes them itself. Xen keeps, for every frame, a type and a count of
 * type references (none / writable / L1 / L2, validated, pinned) and changes a page-table entry
 * only through a hypercall that validates it against those types:
 *
 * - an L1 entry may map a frame writable only if the frame's type can be `writable` (it is not a
 *   page table); a writable mapping holds a `writable` type reference;
 * - an L2 entry must point to a frame whose type can be L1 (which validates its entries), or,
 *   read-only, to a validated L2 (a linear page table);
 * - a frame becomes a page table only when no writable reference is left, and its entries are
 *   validated then (and released when its last type reference goes).
 *
 * The rules follow xen/arch/x86/mm.c (xen-project/xen, snapshot c447b7308b) restricted to the
 * model's two-level 32-bit paging, as Xen's pre-PAE x86_32 PV ABI had it: `_get_page_type`,
 * `_put_page_type` / `_put_final_page_type`, `get_page_from_l1e`, `get_page_from_l2e`,
 * `get_l2_linear_pagetable` (with `linear_pt_count`, XSA-240's fix), `promote_l1_table`,
 * `promote_l2_table`, `demote_l1_table`, `demote_l2_table`, `mod_l1_entry`, `mod_l2_entry`,
 * `do_mmu_update`, `__do_update_va_mapping`, `do_mmuext_op` (PIN_L1/L2_TABLE, UNPIN_TABLE,
 * NEW_BASEPTR via `new_guest_cr3`, INVLPG_LOCAL, TLB_FLUSH_LOCAL). Not modelled: the general
 * reference count (`count_info`), preemption and partial validation, grant mappings, I/O memory,
 * L1TF checks, cache attributes (PWT/PCD/PAT are refused as Xen's disallow masks refuse them).
 *
 * Each rule is a replaceable piece (`DirectPagingRules`): a design (a mutant) changes one, and
 * the others call it through `x.rules`, as Xen's functions call each other.
 */
import { PAGE_SIZE } from '../geometry.ts';
import { type PhysicalMemory, readWord, writeWord } from '../memory.ts';
import { PTE } from '../paging.ts';
import { frameOwner, type HostConfig, HV_FRAME, HV_LINEAR } from './layout.ts';

/** A frame's type (page_info.u.inuse.type_info & PGT_type_mask), for two-level paging. */
export type PageType = 'none' | 'writable' | 'l1' | 'l2';

/** Xen's per-frame type state (type_info, and linear_pt_count). */
export interface PageInfo {
  readonly type: PageType;
  /** Type references (PGT_count_mask). */
  readonly count: number;
  /** PGT_validated: the entries were validated for `type` (page tables), or the type is `writable`. */
  readonly validated: boolean;
  /** PGT_pinned: MMUEXT_PIN_Lx_TABLE holds one type reference. */
  readonly pinned: boolean;
  /** linear_pt_count: > 0 linear entries this L2 holds, < 0 uses of it as a linear page table by other L2s. */
  readonly linear: number;
}

/** The state of a frame Xen has never typed. */
export const UNTYPED: PageInfo = Object.freeze({ type: 'none', count: 0, validated: false, pinned: false, linear: 0 });

/** Xen's errors, by errno name; `ok` is success (rc 0). */
export type XenResult = 'ok' | 'EINVAL' | 'EBUSY' | 'EPERM';

/** Xen's memory-management state of one guest (domain). */
export interface XenGuestMm {
  /** Type state of the frames that ever had one, by machine frame. */
  readonly pages: Readonly<Record<number, PageInfo>>;
  /**
   * The guest's base pointer (curr->arch.guest_table): the machine frame of its L2, which the
   * real CR3 holds while it runs. Undefined: Xen runs the guest on its own empty directory (the
   * model's stand-in for Xen's idle page tables: see pv-kernel.ts, a guest with paging off).
   */
  readonly base?: number;
}

/**
 * The hypervisor's working state during one hypercall: Xen's C code updates page_info and memory
 * in place; so does this record, created for the call and committed after it (nothing escapes).
 */
export interface XenMm {
  readonly rules: DirectPagingRules;
  readonly config: HostConfig;
  /** The calling guest (current->domain). */
  readonly guest: number;
  memory: PhysicalMemory;
  readonly pages: Map<number, PageInfo>;
  base: number | undefined;
  /** A frame changed type with its type count at zero: stale TLB entries must go (the tlbflush_timestamp check of `_get_page_type`). */
  flushTlb: boolean;
  /** Linear pages to invalidate (INVLPG_LOCAL, UVMF_INVLPG). */
  readonly invalidate: number[];
}

/** Xen's functions, each replaceable (a mutant changes one). */
export interface DirectPagingRules {
  /** `_get_page_type`: take a type reference of `type` on `mfn`, validating the frame on a change to a page-table type. */
  readonly getPageType: (x: XenMm, mfn: number, type: PageType) => XenResult;
  /** `_put_page_type`: drop a type reference; a page table whose count reaches zero is devalidated. `ptpg`: the L2 whose entry held it. */
  readonly putPageType: (x: XenMm, mfn: number, ptpg?: number) => void;
  /** `get_page_from_l1e`: may a (present) L1 entry be installed? Takes its references. */
  readonly getPageFromL1e: (x: XenMm, l1e: number) => XenResult;
  /** `put_page_from_l1e`: drop what a (present) L1 entry held. */
  readonly putPageFromL1e: (x: XenMm, l1e: number) => void;
  /** `get_page_from_l2e`: may a (present) entry of the L2 at `l2mfn` be installed? Takes its references. */
  readonly getPageFromL2e: (x: XenMm, l2e: number, l2mfn: number) => XenResult;
  /** `put_page_from_l2e`. */
  readonly putPageFromL2e: (x: XenMm, l2e: number, l2mfn: number) => void;
  /** `get_l2_linear_pagetable`: an L2 entry that maps an L2 (itself or another validated one), read-only. */
  readonly getL2LinearPagetable: (x: XenMm, l2e: number, l2mfn: number) => boolean;
  /** `mod_l1_entry`: replace the L1 entry at machine address `pa`. */
  readonly modL1Entry: (x: XenMm, pa: number, nl1e: number) => XenResult;
  /** `mod_l2_entry`: replace the L2 entry at machine address `pa`. */
  readonly modL2Entry: (x: XenMm, pa: number, nl2e: number) => XenResult;
  /** MMUEXT_PIN_L1_TABLE / MMUEXT_PIN_L2_TABLE. */
  readonly pinTable: (x: XenMm, mfn: number, type: 'l1' | 'l2') => XenResult;
  /** MMUEXT_UNPIN_TABLE. */
  readonly unpinTable: (x: XenMm, mfn: number) => XenResult;
  /** MMUEXT_NEW_BASEPTR (`new_guest_cr3`); undefined: the idle page tables (see `XenGuestMm.base`). */
  readonly newBaseptr: (x: XenMm, mfn: number | undefined) => XenResult;
}

// ---------------------------------------------------------------------------------------------
// Entry formats (x86 32-bit PDE/PTE, SDM Vol. 3A Tables 4-5, 4-6) and Xen's masks.

/** Bits 3 (PWT), 4 (PCD), 7 (PAT / PS) and 8 (G): not in base_disallow_mask's guest-accessible set (P, R/W, U/S, A, D, AVAIL). */
const BASE_DISALLOW = 0x198;
/** L1_DISALLOW_MASK: the base mask, less the global bit (allowed on L1 entries). */
export const L1_DISALLOW = BASE_DISALLOW & ~0x100;
/** L2_DISALLOW_MASK. */
export const L2_DISALLOW = BASE_DISALLOW;
/** FASTPATH_FLAG_WHITELIST for two-level entries: flags a guest may change without re-validation (A, D, U/S, G, AVAIL). */
export const FASTPATH_FLAG_WHITELIST = PTE.A | PTE.D | PTE.US | 0x100 | 0xe00;
/** The directory slot of Xen's private mappings in every guest L2 (its page at HV_LINEAR). */
export const XEN_L2_SLOT = HV_LINEAR >>> 22;
/** What Xen writes in that slot when an L2 is validated: the page table that maps its own page. */
export const XEN_L2_ENTRY = ((HV_FRAME.PAGE_TABLE * PAGE_SIZE) | PTE.P | PTE.RW | PTE.A) >>> 0;

const mfnOf = (e: number) => e >>> 12;
/** `lXe_has_changed(x, y, flags)`: do the frames, or any of `flags`, differ? */
const hasChanged = (a: number, b: number, flags: number) => ((a ^ b) & (PTE.FRAME | flags)) !== 0;
const isTable = (t: PageType) => t === 'l1' || t === 'l2';
const ownedBy = (x: XenMm, mfn: number) => {
  const o = frameOwner(x.config, mfn);
  return o.kind === 'guest' && o.guest === x.guest;
};

/** `is_guest_l2_slot`: every directory slot but Xen's own. */
export const isGuestL2Slot = (slot: number): boolean => slot !== XEN_L2_SLOT;

/** A frame's type state. */
export const pageInfo = (x: XenMm, mfn: number): PageInfo => x.pages.get(mfn) ?? UNTYPED;
const setInfo = (x: XenMm, mfn: number, p: PageInfo) => {
  x.pages.set(mfn, p);
};

// ---------------------------------------------------------------------------------------------
// Validation: promote (alloc) and demote (free) a page table's entries.

/** `promote_l1_table`: take every present entry's references; on a failure, drop those taken. */
const promoteL1 = (x: XenMm, mfn: number): XenResult => {
  const got: number[] = [];
  for (let i = 0; i < 1024; i++) {
    const e = readWord(x.memory, mfn * PAGE_SIZE + i * 4);
    if (!(e & PTE.P)) continue;
    const rc = x.rules.getPageFromL1e(x, e);
    if (rc !== 'ok') {
      for (const g of got) x.rules.putPageFromL1e(x, g);
      return rc;
    }
    got.push(e);
  }
  return 'ok';
};

/** `promote_l2_table`: every guest slot's present entry; then Xen's own slot (`init_xen_l2_slots`). */
const promoteL2 = (x: XenMm, mfn: number): XenResult => {
  const got: number[] = [];
  for (let i = 0; i < 1024; i++) {
    if (!isGuestL2Slot(i)) continue;
    const e = readWord(x.memory, mfn * PAGE_SIZE + i * 4);
    if (!(e & PTE.P)) continue;
    const rc = x.rules.getPageFromL2e(x, e, mfn);
    if (rc !== 'ok') {
      for (const g of got) x.rules.putPageFromL2e(x, g, mfn);
      return rc;
    }
    got.push(e);
  }
  x.memory = writeWord(x.memory, mfn * PAGE_SIZE + XEN_L2_SLOT * 4, XEN_L2_ENTRY);
  return 'ok';
};

/** `demote_l1_table` / `demote_l2_table`: drop what every entry held. */
const demote = (x: XenMm, mfn: number, type: 'l1' | 'l2') => {
  for (let i = 0; i < 1024; i++) {
    const e = readWord(x.memory, mfn * PAGE_SIZE + i * 4);
    if (!(e & PTE.P)) continue;
    if (type === 'l1') x.rules.putPageFromL1e(x, e);
    else if (isGuestL2Slot(i)) x.rules.putPageFromL2e(x, e, mfn);
  }
};

// ---------------------------------------------------------------------------------------------
// The standard rules.

const getPageType = (x: XenMm, mfn: number, type: PageType): XenResult => {
  const p = pageInfo(x, mfn);
  if (p.count > 0) {
    // A new reference of the wrong type is what the type system exists to refuse.
    if (p.type !== type) return 'EINVAL';
    setInfo(x, mfn, { ...p, count: p.count + 1 });
    return 'ok';
  }
  // Typeref 0 -> 1: a type change is allowed; it needs re-validation, and stale TLB entries (a
  // writable mapping of a frame about to become a page table) must be flushed first.
  const changed = p.type !== type;
  if (changed && p.type !== 'none') x.flushTlb = true;
  const validated = changed ? false : p.validated;
  if (!isTable(type)) {
    setInfo(x, mfn, { ...p, type, count: 1, validated: true });
    return 'ok';
  }
  if (validated) {
    setInfo(x, mfn, { ...p, count: 1 });
    return 'ok';
  }
  // Validate with the type taken (count 1, not yet validated: a self-reference sees the new type).
  setInfo(x, mfn, { ...p, type, count: 1, validated: false, linear: 0 });
  const rc = type === 'l1' ? promoteL1(x, mfn) : promoteL2(x, mfn);
  if (rc !== 'ok') {
    setInfo(x, mfn, { ...pageInfo(x, mfn), type: 'none', count: 0, validated: false });
    return rc;
  }
  setInfo(x, mfn, { ...pageInfo(x, mfn), validated: true });
  return 'ok';
};

const putPageType = (x: XenMm, mfn: number, ptpg?: number): void => {
  const p = pageInfo(x, mfn);
  // Xen BUG()s on a put without a reference; the model keeps the count at zero.
  if (p.count === 0) return;
  const linearUse = ptpg !== undefined && isTable(p.type) && pageInfo(x, ptpg).type === p.type;
  if (linearUse) {
    // dec_linear_uses(page), dec_linear_entries(ptpg).
    setInfo(x, mfn, { ...pageInfo(x, mfn), linear: pageInfo(x, mfn).linear + 1 });
    setInfo(x, ptpg, { ...pageInfo(x, ptpg), linear: pageInfo(x, ptpg).linear - 1 });
  }
  const q = pageInfo(x, mfn);
  if (q.count === 1 && isTable(q.type) && q.validated) {
    // Page-table pages must be unvalidated when their count reaches zero (_put_final_page_type).
    setInfo(x, mfn, { ...q, validated: false });
    demote(x, mfn, q.type as 'l1' | 'l2');
    setInfo(x, mfn, { ...pageInfo(x, mfn), count: 0 });
    return;
  }
  setInfo(x, mfn, { ...q, count: q.count - 1 });
};

const getPageFromL1e = (x: XenMm, l1e: number): XenResult => {
  if (l1e & L1_DISALLOW) return 'EINVAL';
  const mfn = mfnOf(l1e);
  const o = frameOwner(x.config, mfn);
  // Not RAM of any domain: I/O memory, which an unprivileged domain may not map (iomem_access_permitted).
  if (o.kind === 'host') return 'EPERM';
  // Another domain's page, or Xen's own: could_not_pin.
  if (!(o.kind === 'guest' && o.guest === x.guest)) return 'EBUSY';
  if (l1e & PTE.RW && x.rules.getPageType(x, mfn, 'writable') !== 'ok') return 'EBUSY';
  return 'ok';
};

const putPageFromL1e = (x: XenMm, l1e: number): void => {
  const mfn = mfnOf(l1e);
  if (l1e & PTE.RW && ownedBy(x, mfn)) x.rules.putPageType(x, mfn);
};

const getL2LinearPagetable = (x: XenMm, l2e: number, l2mfn: number): boolean => {
  // The mapping entry must be read-only, or the guest may get write access to its own PTEs.
  if (l2e & PTE.RW) return false;
  const mfn = mfnOf(l2e);
  // Root tables may map themselves, without references (so that validation can complete).
  if (mfn === l2mfn) return true;
  if (!ownedBy(x, mfn)) return false;
  const pt = pageInfo(x, l2mfn);
  const page = pageInfo(x, mfn);
  // An L2 with linear entries may not be used as a linear page table, and one used so may not
  // have linear entries: no chains (inc_linear_entries, inc_linear_uses; XSA-240's fix).
  if (pt.linear < 0 || page.linear > 0) return false;
  if (page.type !== 'l2' || !page.validated || page.count === 0) return false;
  setInfo(x, l2mfn, { ...pt, linear: pt.linear + 1 });
  setInfo(x, mfn, { ...pageInfo(x, mfn), linear: page.linear - 1, count: page.count + 1 });
  return true;
};

const getPageFromL2e = (x: XenMm, l2e: number, l2mfn: number): XenResult => {
  if (l2e & L2_DISALLOW) return 'EINVAL';
  const mfn = mfnOf(l2e);
  if (!ownedBy(x, mfn)) return 'EINVAL';
  const rc = x.rules.getPageType(x, mfn, 'l1');
  if (rc === 'EINVAL' && x.rules.getL2LinearPagetable(x, l2e, l2mfn)) return 'ok';
  return rc;
};

const putPageFromL2e = (x: XenMm, l2e: number, l2mfn: number): void => {
  const mfn = mfnOf(l2e);
  if (mfn === l2mfn || !ownedBy(x, mfn)) return;
  x.rules.putPageType(x, mfn, l2mfn);
};

const modL1Entry = (x: XenMm, pa: number, nl1e: number): XenResult => {
  const ol1e = readWord(x.memory, pa);
  if (nl1e & PTE.P) {
    if (nl1e & L1_DISALLOW) return 'EINVAL';
    // Fast path for sufficiently-similar mappings: same frame, only whitelisted flags changed.
    if (!hasChanged(ol1e, nl1e, ~FASTPATH_FLAG_WHITELIST & 0xfff)) {
      x.memory = writeWord(x.memory, pa, nl1e);
      return 'ok';
    }
    const rc = x.rules.getPageFromL1e(x, nl1e);
    if (rc !== 'ok') return rc;
  }
  x.memory = writeWord(x.memory, pa, nl1e);
  if (ol1e & PTE.P) x.rules.putPageFromL1e(x, ol1e);
  return 'ok';
};

const modL2Entry = (x: XenMm, pa: number, nl2e: number): XenResult => {
  if (!isGuestL2Slot((pa & 0xfff) >>> 2)) return 'EPERM';
  const l2mfn = pa >>> 12;
  const ol2e = readWord(x.memory, pa);
  if (nl2e & PTE.P) {
    if (nl2e & L2_DISALLOW) return 'EINVAL';
    // With linear page tables allowed, R/W is not on the PDE fast path (FASTPATH_PDE_FLAG_WHITELIST).
    if (!hasChanged(ol2e, nl2e, ~FASTPATH_FLAG_WHITELIST & 0xfff)) {
      x.memory = writeWord(x.memory, pa, nl2e);
      return 'ok';
    }
    const rc = x.rules.getPageFromL2e(x, nl2e, l2mfn);
    if (rc !== 'ok') return rc;
  }
  x.memory = writeWord(x.memory, pa, nl2e);
  if (ol2e & PTE.P) x.rules.putPageFromL2e(x, ol2e, l2mfn);
  return 'ok';
};

const pinTable = (x: XenMm, mfn: number, type: 'l1' | 'l2'): XenResult => {
  if (!ownedBy(x, mfn)) return 'EINVAL';
  const rc = x.rules.getPageType(x, mfn, type);
  if (rc !== 'ok') return rc;
  if (pageInfo(x, mfn).pinned) {
    x.rules.putPageType(x, mfn);
    return 'EINVAL';
  }
  setInfo(x, mfn, { ...pageInfo(x, mfn), pinned: true });
  return 'ok';
};

const unpinTable = (x: XenMm, mfn: number): XenResult => {
  if (!ownedBy(x, mfn)) return 'EINVAL';
  if (!pageInfo(x, mfn).pinned) return 'EINVAL';
  setInfo(x, mfn, { ...pageInfo(x, mfn), pinned: false });
  x.rules.putPageType(x, mfn);
  return 'ok';
};

const newBaseptr = (x: XenMm, mfn: number | undefined): XenResult => {
  const old = x.base;
  // Reloading the current base only flushes (write_ptbase).
  if (mfn === old) {
    x.flushTlb = true;
    return 'ok';
  }
  if (mfn !== undefined) {
    if (!ownedBy(x, mfn)) return 'EINVAL';
    const rc = x.rules.getPageType(x, mfn, 'l2');
    if (rc !== 'ok') return rc;
  }
  x.base = mfn;
  x.flushTlb = true;
  if (old !== undefined) x.rules.putPageType(x, old);
  return 'ok';
};

/** Xen's rules, as xen/arch/x86/mm.c states them (see the file's head). */
export const XEN_RULES: DirectPagingRules = Object.freeze({
  getPageType,
  putPageType,
  getPageFromL1e,
  putPageFromL1e,
  getPageFromL2e,
  putPageFromL2e,
  getL2LinearPagetable,
  modL1Entry,
  modL2Entry,
  pinTable,
  unpinTable,
  newBaseptr,
});

// ---------------------------------------------------------------------------------------------
// The hypercalls.

/** One request of an `mmu_update` batch. */
export interface MmuRequest {
  readonly ptr: number;
  readonly val: number;
}

/** A hypercall of Xen's PV MMU interface, as the guest issues it. */
export type Hypercall =
  /**
   * `mmu_update` (MMU_NORMAL_PT_UPDATE), a batch of requests run in order up to the first failure:
   * each writes `val` at machine address `ptr`, validated as an entry of the page table there, or
   * as a plain write when the frame can be typed writable (it is no page table).
   */
  | { readonly kind: 'mmu_update'; readonly requests: readonly MmuRequest[] }
  /** `update_va_mapping`: write `val` to the L1 entry that maps linear `va` in the current tables. */
  | { readonly kind: 'update_va_mapping'; readonly va: number; readonly val: number; readonly flags: 'none' | 'invlpg' }
  /** `mmuext_op`. */
  | {
      readonly kind: 'mmuext_op';
      readonly cmd: 'PIN_L1_TABLE' | 'PIN_L2_TABLE' | 'UNPIN_TABLE' | 'NEW_BASEPTR';
      /** Machine frame; for NEW_BASEPTR, undefined installs the idle page tables. */
      readonly mfn: number | undefined;
    }
  | { readonly kind: 'mmuext_op'; readonly cmd: 'INVLPG_LOCAL'; readonly va: number }
  | { readonly kind: 'mmuext_op'; readonly cmd: 'TLB_FLUSH_LOCAL' };

/**
 * `do_mmu_update`, one request: the frame must be the caller's; a validated page table (page_lock)
 * takes the update through `mod_l1_entry` / `mod_l2_entry`; any other frame is written as a
 * writable page if it can take the writable type.
 */
const mmuUpdate = (x: XenMm, ptr: number, val: number): XenResult => {
  const mfn = ptr >>> 12;
  const pa = ptr & ~3;
  if (!ownedBy(x, mfn)) return 'EINVAL';
  const p = pageInfo(x, mfn);
  if (p.count > 0 && p.validated) {
    if (p.type === 'l1') return x.rules.modL1Entry(x, pa, val >>> 0);
    if (p.type === 'l2') return x.rules.modL2Entry(x, pa, val >>> 0);
    x.memory = writeWord(x.memory, pa, val);
    return 'ok';
  }
  if (x.rules.getPageType(x, mfn, 'writable') !== 'ok') return 'EINVAL';
  x.memory = writeWord(x.memory, pa, val);
  x.rules.putPageType(x, mfn);
  return 'ok';
};

/** `__do_update_va_mapping`: find the L1 entry of `va` in the current tables (`map_guest_l1e`). */
const updateVaMapping = (x: XenMm, va: number, val: number, flags: 'none' | 'invlpg'): XenResult => {
  if (x.base === undefined) return 'EINVAL';
  const pde = readWord(x.memory, x.base * PAGE_SIZE + (va >>> 22) * 4);
  if (!(pde & PTE.P)) return 'EINVAL';
  const l1 = mfnOf(pde);
  const p = pageInfo(x, l1);
  if (!ownedBy(x, l1) || p.type !== 'l1' || p.count === 0) return 'EINVAL';
  const rc = x.rules.modL1Entry(x, l1 * PAGE_SIZE + ((va >>> 12) & 0x3ff) * 4, val >>> 0);
  if (rc === 'ok' && flags === 'invlpg') x.invalidate.push(va >>> 12);
  return rc;
};

/** Run one hypercall on Xen's working state. */
export const runHypercall = (x: XenMm, call: Hypercall): XenResult => {
  switch (call.kind) {
    case 'mmu_update':
      for (const r of call.requests) {
        const rc = mmuUpdate(x, r.ptr, r.val);
        if (rc !== 'ok') return rc;
      }
      return 'ok';
    case 'update_va_mapping':
      return updateVaMapping(x, call.va, call.val, call.flags);
    case 'mmuext_op':
      switch (call.cmd) {
        case 'PIN_L1_TABLE':
        case 'PIN_L2_TABLE':
          return call.mfn === undefined
            ? 'EINVAL'
            : x.rules.pinTable(x, call.mfn, call.cmd === 'PIN_L1_TABLE' ? 'l1' : 'l2');
        case 'UNPIN_TABLE':
          return call.mfn === undefined ? 'EINVAL' : x.rules.unpinTable(x, call.mfn);
        case 'NEW_BASEPTR':
          return x.rules.newBaseptr(x, call.mfn);
        case 'INVLPG_LOCAL':
          x.invalidate.push(call.va >>> 12);
          return 'ok';
        case 'TLB_FLUSH_LOCAL':
          x.flushTlb = true;
          return 'ok';
      }
  }
};

/** A hypercall as a person reads it: `mmu_update(ptr=0x00401004, val=0x00409007)`. */
export const formatHypercall = (c: Hypercall): string => {
  const h = (n: number, w = 8) => `0x${(n >>> 0).toString(16).padStart(w, '0')}`;
  switch (c.kind) {
    case 'mmu_update': {
      const [r, ...more] = c.requests;
      if (!r) return 'mmu_update()';
      return `mmu_update(ptr=${h(r.ptr)}, val=${h(r.val)}${more.length > 0 ? `, +${more.length} more` : ''})`;
    }
    case 'update_va_mapping':
      return `update_va_mapping(va=${h(c.va)}, val=${h(c.val)}${c.flags === 'invlpg' ? ', UVMF_INVLPG' : ''})`;
    case 'mmuext_op':
      if (c.cmd === 'INVLPG_LOCAL') return `mmuext_op(INVLPG_LOCAL, va=${h(c.va)})`;
      if (c.cmd === 'TLB_FLUSH_LOCAL') return 'mmuext_op(TLB_FLUSH_LOCAL)';
      return `mmuext_op(${c.cmd}, mfn=${c.mfn === undefined ? 'idle' : h(c.mfn, 5)})`;
  }
};
