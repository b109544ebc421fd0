/**
 * The one page-table walker (DESIGN.md §2), in the manner of KVM's paging_tmpl.h: a walk is
 * parametrised by an entry format and by how it reads a paging-structure entry, so the same
 * code serves guest paging (GVA→GPA), shadow tables (GVA→HPA), EPT (GPA→HPA) and the IOMMU
 * (IOVA→HPA). The walker only reads; the accessed/dirty updates a walk implies are returned
 * for the caller to apply, which keeps it pure and lets callers that translate table addresses
 * (a two-dimensional EPT walk) or cache entries (a TLB) decide how to write them back.
 */

/** One level of a paging format: the linear-address bits that index the table at this level. */
export interface PagingLevel {
  /** Lowest address bit of the index (22 for a 32-bit page directory, 12 for a page table). */
  readonly shift: number;
  /** Width of the index in bits. */
  readonly bits: number;
}

/** How to read entries of one paging format. Rights are a format-specific bit set. */
export interface PagingFormat {
  readonly name: string;
  /** Levels from the root down; the last level maps 4 KiB pages. */
  readonly levels: readonly PagingLevel[];
  /** Size of an entry in bytes (entries live at table + index * entryBytes). */
  readonly entryBytes: number;
  /** Does this entry map anything (x86: P, bit 0)? */
  readonly present: (entry: number) => boolean;
  /** Physical address of the next table or of the page (x86: bits 31:12). */
  readonly frameAddress: (entry: number) => number;
  /** The rights this entry grants; rights along a walk are combined with AND (SDM §4.6). */
  readonly rights: (entry: number) => number;
  /** Rights a walk starts from (all of them). */
  readonly allRights: number;
  /** Accessed bit, or 0 if the format has none. */
  readonly accessedBit: number;
  /** Dirty bit of leaf entries, or 0 if the format has none. */
  readonly dirtyBit: number;
}

/** An access, in the terms every format's permission check needs. */
export interface Access {
  readonly write: boolean;
  /** A user-mode access (CPL 3, explicit); supervisor otherwise (SDM §4.6). */
  readonly user: boolean;
}

/** The paging-structure entry a walk read, and where it lives. */
export interface WalkStep {
  readonly level: number;
  readonly entryAddress: number;
  readonly entry: number;
}

/** A completed translation. */
export interface Translated {
  readonly ok: true;
  /** Physical address of the page (the frame base; add the page offset yourself). */
  readonly frame: number;
  /** AND of the rights of every entry on the path. */
  readonly rights: number;
  readonly path: readonly WalkStep[];
}

/** A walk that stopped: a non-present entry at `level`, or rights that deny the access. */
export interface WalkFault {
  readonly ok: false;
  readonly reason: 'not-present' | 'rights';
  readonly level: number;
  readonly rights: number;
  readonly path: readonly WalkStep[];
  /** For `not-present`: the entry that is not present, and where it lives (for callers that show the walk). */
  readonly absent?: WalkStep;
}

/** A failure of the entry reader itself (an EPT violation while reading a guest table, say). */
export interface ReadFailure<F> {
  readonly ok: false;
  readonly reason: 'read';
  readonly failure: F;
  readonly path: readonly WalkStep[];
}

/** What a page-table walk ends with: a translation, a fault, or the caller's own read failure `F`. */
export type WalkResult<F = never> = Translated | WalkFault | ReadFailure<F>;

/** Reads the entry at a physical address, or fails with a caller-defined failure. */
export type EntryReader<F = never> = (entryAddress: number) => number | { readonly failure: F };

/** Options that change how the walk starts. */
export interface WalkStart {
  /** Entry to use for level 0 instead of reading it (a paging-structure cache hit). */
  readonly cachedTopEntry?: number;
}

/**
 * Walk `format` from the table at `root` for `address`.
 * `permits` decides whether the combined rights allow the access (this is where x86's CR0.WP
 * rule or EPT's R/W/X rule lives); the walker itself is format-neutral.
 */
export const walk = <F = never>(
  format: PagingFormat,
  root: number,
  address: number,
  read: EntryReader<F>,
  permits: (rights: number) => boolean,
  start: WalkStart = {},
): WalkResult<F> => {
  const path: WalkStep[] = [];
  let table = root;
  let rights = format.allRights;
  for (let level = 0; level < format.levels.length; level++) {
    const { shift, bits } = format.levels[level]!;
    const index = (address >>> shift) & ((1 << bits) - 1);
    const entryAddress = (table + index * format.entryBytes) >>> 0;
    let entry: number;
    if (level === 0 && start.cachedTopEntry !== undefined) {
      entry = start.cachedTopEntry;
    } else {
      const got = read(entryAddress);
      if (typeof got !== 'number') return { ok: false, reason: 'read', failure: got.failure, path };
      entry = got;
    }
    if (!format.present(entry))
      return { ok: false, reason: 'not-present', level, rights, path, absent: { level, entryAddress, entry } };
    path.push({ level, entryAddress, entry });
    rights &= format.rights(entry);
    table = format.frameAddress(entry);
  }
  if (!permits(rights)) return { ok: false, reason: 'rights', level: format.levels.length - 1, rights, path };
  return { ok: true, frame: table, rights, path };
};

/**
 * Where the last-level entry for `address` lives: the walk's own indexing down to the leaf table,
 * present or not, so that a hypervisor can rewrite one mapping (EPT, IOMMU) in tables it built.
 * Undefined when an upper level is not present (there is no leaf table to write into).
 */
export const leafEntryAddress = (
  format: PagingFormat,
  root: number,
  address: number,
  read: (entryAddress: number) => number,
): number | undefined => {
  let table = root;
  const last = format.levels.length - 1;
  for (let level = 0; level <= last; level++) {
    const { shift, bits } = format.levels[level]!;
    const entryAddress = (table + ((address >>> shift) & ((1 << bits) - 1)) * format.entryBytes) >>> 0;
    if (level === last) return entryAddress;
    const entry = read(entryAddress);
    if (!format.present(entry)) return undefined;
    table = format.frameAddress(entry);
  }
  return undefined;
};

/**
 * The accessed/dirty writes a walk implies: accessed on every entry of `path` (taking only the
 * first `accessed` entries when a faulting walk sets fewer), dirty on the leaf for a write.
 */
export const accessedDirtyUpdates = (
  format: PagingFormat,
  path: readonly WalkStep[],
  opts: { readonly dirty: boolean; readonly accessed?: number },
): readonly { readonly entryAddress: number; readonly value: number }[] => {
  const n = opts.accessed ?? path.length;
  const out: { entryAddress: number; value: number }[] = [];
  path.forEach((s, i) => {
    if (i >= n) return;
    let v = s.entry | format.accessedBit;
    if (opts.dirty && i === format.levels.length - 1) v |= format.dirtyBit;
    v >>>= 0;
    if (v !== s.entry >>> 0) out.push({ entryAddress: s.entryAddress, value: v });
  });
  return out;
};

// ---------------------------------------------------------------------------------------------
// x86 32-bit paging (CR4.PAE = 0, CR4.PSE = 0): SDM Vol. 3A §4.3, §4.6, §4.7.

/** PDE/PTE bits (SDM Vol. 3A Tables 4-5, 4-6). */
export const PTE = {
  P: 1 << 0,
  RW: 1 << 1,
  US: 1 << 2,
  PWT: 1 << 3,
  PCD: 1 << 4,
  A: 1 << 5,
  D: 1 << 6,
  FRAME: 0xffff_f000,
} as const;

/** Rights of x86 32-bit paging: the R/W and U/S bits, in their own positions. */
export const RIGHT_WRITE = PTE.RW;
/** The U/S right of x86 32-bit paging (SDM Vol. 3A §4.6). */
export const RIGHT_USER = PTE.US;

/**
 * x86 32-bit two-level paging. With CR4.PSE = 0, PDE bit 7 (PS) is ignored: every PDE
 * references a page table (SDM §4.3, Table 4-5 note).
 */
export const X86_32: PagingFormat = Object.freeze({
  name: 'x86-32',
  levels: Object.freeze([Object.freeze({ shift: 22, bits: 10 }), Object.freeze({ shift: 12, bits: 10 })]),
  entryBytes: 4,
  present: (e: number) => (e & PTE.P) !== 0,
  frameAddress: (e: number) => (e & PTE.FRAME) >>> 0,
  rights: (e: number) => e & (PTE.RW | PTE.US),
  allRights: PTE.RW | PTE.US,
  accessedBit: PTE.A,
  dirtyBit: PTE.D,
});

/**
 * SDM §4.6 access rights for 32-bit paging without SMEP/SMAP:
 * - user-mode accesses need U/S = 1 at every level; user writes also need R/W = 1 at every level;
 * - supervisor reads are always allowed; supervisor writes need R/W = 1 at every level when CR0.WP = 1.
 */
export const x86Permits = (rights: number, access: Access, wp: boolean): boolean => {
  if (access.user && !(rights & RIGHT_USER)) return false;
  if (access.write && !(rights & RIGHT_WRITE) && (access.user || wp)) return false;
  return true;
};

/** #PF error-code bits (SDM Vol. 3A §4.7, Figure 4-12). */
export const PF_ERR = { P: 1 << 0, WR: 1 << 1, US: 1 << 2, RSVD: 1 << 3, ID: 1 << 4 } as const;

/**
 * The #PF error code: P = 0 for a non-present entry and 1 for a rights violation, W/R = 1 for a
 * write, U/S = 1 for a user-mode access (SDM §4.7). No reserved bits exist in 32-bit paging with
 * PSE off, and I/D needs NX or SMEP, so bits 3 and 4 are always 0 here.
 */
export const pfErrorCode = (reason: 'not-present' | 'rights', access: Access): number =>
  (reason === 'rights' ? PF_ERR.P : 0) | (access.write ? PF_ERR.WR : 0) | (access.user ? PF_ERR.US : 0);
