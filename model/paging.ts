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
  /** Lowest address bit of the index (22 for a 32-bit page directory, 12 for a page table, 39 for a PML4). */
  readonly shift: number;
  /** Width of the index in bits. */
  readonly bits: number;
}

/**
 * How to read entries of one paging format. Rights are a format-specific bit set. `E` is how an
 * entry is held: a `number` for 4-byte entries (every 32-bit format), a `bigint` for 8-byte
 * entries (IA-32e paging, whose bits 63:32 a JS number cannot hold exactly); the walker never
 * looks inside an entry itself, only through these functions, so one walker serves both.
 */
export interface PagingFormat<E = number> {
  readonly name: string;
  /** Levels from the root down; the last level maps 4 KiB pages. */
  readonly levels: readonly PagingLevel[];
  /** Size of an entry in bytes (entries live at table + index * entryBytes). */
  readonly entryBytes: number;
  /** Does this entry map anything (x86: P, bit 0)? */
  readonly present: (entry: E) => boolean;
  /** Physical address of the next table or of the page (x86: bits 31:12). */
  readonly frameAddress: (entry: E) => number;
  /** The rights this entry grants; rights along a walk are combined with AND (SDM §4.6). */
  readonly rights: (entry: E) => number;
  /** Rights a walk starts from (all of them). */
  readonly allRights: number;
  /** Accessed bit, or 0 if the format has none (a bit of the entry's low 32 bits). */
  readonly accessedBit: number;
  /** Dirty bit of leaf entries, or 0 if the format has none (a bit of the entry's low 32 bits). */
  readonly dirtyBit: number;
  /**
   * Does this present entry map a page itself above the last level (a large page: PS = 1 in a
   * PDE or PDPTE, SDM Vol. 3A §4.5.4)? The walk then ends there, with a page of 2^shift bytes.
   * Absent: only the last level maps pages.
   */
  readonly mapsPage?: (entry: E, level: number) => boolean;
  /** The entry's low 32 bits, where A and D live; required when `E` is not `number`. */
  readonly lowWord?: (entry: E) => number;
}

/**
 * A paging format with reserved bits (IA-32e paging, EPT with 8-byte entries): a present entry
 * that sets one ends the walk with a `reserved` fault (x86: #PF with RSVD = 1, SDM Vol. 3A §4.7).
 * Walking such a format returns `CheckedWalkResult`, which names that fault.
 */
export interface CheckedPagingFormat<E = number> extends PagingFormat<E> {
  /** Does this present entry at `level` set a bit the format reserves (must be 0)? */
  readonly reservedBits: (entry: E, level: number) => boolean;
}

/** An access, in the terms every format's permission check needs. */
export interface Access {
  readonly write: boolean;
  /** A user-mode access (CPL 3, explicit); supervisor otherwise (SDM §4.6). */
  readonly user: boolean;
  /** An instruction fetch (checked against XD when EFER.NXE = 1; reported in the #PF I/D bit). */
  readonly fetch?: boolean;
}

/** The paging-structure entry a walk read, and where it lives. */
export interface WalkStep<E = number> {
  readonly level: number;
  readonly entryAddress: number;
  readonly entry: E;
}

/** A completed translation. */
export interface Translated<E = number> {
  readonly ok: true;
  /** Physical address of the page (the frame base, aligned to its size, `translatedPageSize`; add the page offset yourself). */
  readonly frame: number;
  /** AND of the rights of every entry on the path. */
  readonly rights: number;
  readonly path: readonly WalkStep<E>[];
}

/** A walk that stopped: a non-present entry at `level`, or rights that deny the access. */
export interface WalkFault<E = number> {
  readonly ok: false;
  readonly reason: 'not-present' | 'rights';
  readonly level: number;
  readonly rights: number;
  readonly path: readonly WalkStep<E>[];
  /** For `not-present`: the entry that is not present, and where it lives (for callers that show the walk). */
  readonly absent?: WalkStep<E>;
}

/**
 * A walk that stopped at a present entry setting a reserved bit (`CheckedPagingFormat` only). The
 * offending entry is `at`; `path` holds the entries above it.
 */
export interface ReservedBitFault<E = number> {
  readonly ok: false;
  readonly reason: 'reserved';
  readonly level: number;
  readonly rights: number;
  readonly path: readonly WalkStep<E>[];
  readonly at: WalkStep<E>;
}

/** A failure of the entry reader itself (an EPT violation while reading a guest table, say). */
export interface ReadFailure<F, E = number> {
  readonly ok: false;
  readonly reason: 'read';
  readonly failure: F;
  readonly path: readonly WalkStep<E>[];
}

/** What a page-table walk ends with: a translation, a fault, or the caller's own read failure `F`. */
export type WalkResult<F = never, E = number> = Translated<E> | WalkFault<E> | ReadFailure<F, E>;

/** What a walk of a `CheckedPagingFormat` ends with: a `WalkResult` or a reserved-bit fault. */
export type CheckedWalkResult<F = never, E = number> = WalkResult<F, E> | ReservedBitFault<E>;

/** Reads the entry at a physical address, or fails with a caller-defined failure. */
export type EntryReader<F = never, E = number> = (entryAddress: number) => E | { readonly failure: F };

/** Options that change how the walk starts. */
export interface WalkStart<E = number> {
  /** Entry to use for level 0 instead of reading it (a paging-structure cache hit). */
  readonly cachedTopEntry?: E;
}

/**
 * The index into the table at `level` for `address`: 32-bit shifts while the address fits in 32
 * bits (every 32-bit format, unchanged), arithmetic on the exact integer above (IA-32e's 48-bit
 * linear addresses, index bits up to 47).
 */
const levelIndex = (address: number, { shift, bits }: PagingLevel): number =>
  shift < 32 && address <= 0xffff_ffff
    ? (address >>> shift) & ((1 << bits) - 1)
    : Math.floor(address / 2 ** shift) % 2 ** bits;

/** Where the entry sits: 32-bit wrap-around as before for 32-bit tables, exact above 4 GiB. */
const entryAt = (table: number, index: number, entryBytes: number): number => {
  const at = table + index * entryBytes;
  return at > 0xffff_ffff ? at : at >>> 0;
};

/**
 * Walk `format` from the table at `root` for `address` (a linear address of up to 48 bits: for
 * IA-32e paging, bits 47:0 of a canonical address, see `walkLinear`).
 * `permits` decides whether the combined rights allow the access (this is where x86's CR0.WP
 * rule or EPT's R/W/X rule lives); the walker itself is format-neutral. A format with large
 * pages ends the walk at the entry that maps one; a `CheckedPagingFormat` ends it with a
 * `reserved` fault at the first present entry that sets a reserved bit (before any rights check).
 */
export function walk<F = never, E = number>(
  format: CheckedPagingFormat<E>,
  root: number,
  address: number,
  read: EntryReader<F, E>,
  permits: (rights: number) => boolean,
  start?: WalkStart<E>,
): CheckedWalkResult<F, E>;
export function walk<F = never, E = number>(
  format: PagingFormat<E>,
  root: number,
  address: number,
  read: EntryReader<F, E>,
  permits: (rights: number) => boolean,
  start?: WalkStart<E>,
): WalkResult<F, E>;
export function walk<F, E>(
  format: PagingFormat<E> & { readonly reservedBits?: (entry: E, level: number) => boolean },
  root: number,
  address: number,
  read: EntryReader<F, E>,
  permits: (rights: number) => boolean,
  start: WalkStart<E> = {},
): CheckedWalkResult<F, E> {
  const path: WalkStep<E>[] = [];
  const levels = format.levels;
  const last = levels.length - 1;
  // Looked up once: absent in every 32-bit format, whose walks then take none of these branches.
  const reservedBits = format.reservedBits;
  const mapsPage = format.mapsPage;
  let table = root;
  let rights = format.allRights;
  for (let level = 0; level <= last; level++) {
    const entryAddress = entryAt(table, levelIndex(address, levels[level]!), format.entryBytes);
    let entry: E;
    if (level === 0 && start.cachedTopEntry !== undefined) {
      entry = start.cachedTopEntry;
    } else {
      const got = read(entryAddress);
      if (typeof got !== 'number' && typeof got !== 'bigint')
        return { ok: false, reason: 'read', failure: (got as { readonly failure: F }).failure, path };
      entry = got as E;
    }
    if (!format.present(entry))
      return { ok: false, reason: 'not-present', level, rights, path, absent: { level, entryAddress, entry } };
    if (reservedBits?.(entry, level))
      return { ok: false, reason: 'reserved', level, rights, path, at: { level, entryAddress, entry } };
    path.push({ level, entryAddress, entry });
    rights &= format.rights(entry);
    table = format.frameAddress(entry);
    if (mapsPage !== undefined && level < last && mapsPage(entry, level)) {
      // A large page: the frame is the entry's address bits above the page offset (SDM §4.5.4).
      const pageSize = 2 ** levels[level]!.shift;
      if (!permits(rights)) return { ok: false, reason: 'rights', level, rights, path };
      return { ok: true, frame: table - (table % pageSize), rights, path };
    }
  }
  if (!permits(rights)) return { ok: false, reason: 'rights', level: last, rights, path };
  return { ok: true, frame: table, rights, path };
}

/**
 * Bytes a translation covers, from the level of the entry that mapped the page (the last on its
 * path): 4 KiB at the last level, 2 MiB / 1 GiB for an IA-32e large page (a PDE / PDPTE with PS = 1).
 * A TLB caches a large page's translation as one entry of this size (SDM Vol. 3A §4.10.2.3).
 * Derived rather than stored in `Translated`, which keeps the 32-bit walks' result unchanged.
 */
export const translatedPageSize = <E>(format: PagingFormat<E>, t: Translated<E>): number =>
  2 ** format.levels[t.path[t.path.length - 1]!.level]!.shift;

/**
 * Where the last-level entry for `address` lives: the walk's own indexing down to the leaf table,
 * present or not, so that a hypervisor can rewrite one mapping (EPT, IOMMU) in tables it built.
 * Undefined when an upper level is not present (there is no leaf table to write into).
 */
export const leafEntryAddress = <E = number>(
  format: PagingFormat<E>,
  root: number,
  address: number,
  read: (entryAddress: number) => E,
): number | undefined => {
  let table = root;
  const last = format.levels.length - 1;
  for (let level = 0; level <= last; level++) {
    const entryAddress = entryAt(table, levelIndex(address, format.levels[level]!), format.entryBytes);
    if (level === last) return entryAddress;
    const entry = read(entryAddress);
    if (!format.present(entry)) return undefined;
    table = format.frameAddress(entry);
  }
  return undefined;
};

/**
 * The accessed/dirty writes a walk implies: accessed on every entry of `path` (taking only the
 * first `accessed` entries when a faulting walk sets fewer), dirty on the leaf for a write (the
 * last level's entry, or a large page's). Each write is the entry's low 32 bits (where A and D
 * live, in every format here) at `entryAddress`, so an 8-byte entry's high half is left alone.
 */
export const accessedDirtyUpdates = <E = number>(
  format: PagingFormat<E>,
  path: readonly WalkStep<E>[],
  opts: { readonly dirty: boolean; readonly accessed?: number },
): readonly { readonly entryAddress: number; readonly value: number }[] => {
  const n = opts.accessed ?? path.length;
  const out: { entryAddress: number; value: number }[] = [];
  path.forEach((s, i) => {
    if (i >= n) return;
    const low = format.lowWord ? format.lowWord(s.entry) : (s.entry as unknown as number);
    let v = low | format.accessedBit;
    const leaf = i === format.levels.length - 1 || format.mapsPage?.(s.entry, s.level) === true;
    if (opts.dirty && leaf) v |= format.dirtyBit;
    v >>>= 0;
    if (v !== low >>> 0) out.push({ entryAddress: s.entryAddress, value: v });
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
 * The execute right of IA-32e paging: not an entry bit but the inverse of XD (bit 63), so that
 * AND-combining rights across levels gives XD's OR (SDM Vol. 3A §4.6.1). 32-bit formats never set it.
 */
export const RIGHT_EXECUTE = 1 << 8;

/**
 * SDM §4.6 access rights for 32-bit and IA-32e paging without SMEP/SMAP (not modelled: a
 * supervisor access to a user page is allowed, as with CR4.SMEP = CR4.SMAP = 0):
 * - user-mode accesses need U/S = 1 at every level; user writes also need R/W = 1 at every level;
 * - supervisor reads are always allowed; supervisor writes need R/W = 1 at every level when CR0.WP = 1;
 * - with `nxe` (IA32_EFER.NXE = 1 under IA-32e or PAE paging) an instruction fetch also needs
 *   XD = 0 at every level (`RIGHT_EXECUTE` in `rights`), in either mode (§4.6.1).
 */
export const x86Permits = (rights: number, access: Access, wp: boolean, nxe = false): boolean => {
  if (access.user && !(rights & RIGHT_USER)) return false;
  if (access.write && !(rights & RIGHT_WRITE) && (access.user || wp)) return false;
  if (nxe && access.fetch && !(rights & RIGHT_EXECUTE)) return false;
  return true;
};

/** #PF error-code bits (SDM Vol. 3A §4.7, Figure 4-12). */
export const PF_ERR = { P: 1 << 0, WR: 1 << 1, US: 1 << 2, RSVD: 1 << 3, ID: 1 << 4 } as const;

/**
 * The #PF error code (SDM §4.7): P = 0 for a non-present entry and 1 for a rights violation or
 * a reserved bit; W/R = 1 for a write; U/S = 1 for a user-mode access; RSVD = 1 for a reserved
 * bit; I/D = 1 for an instruction fetch when CR4.SMEP = 1 or (CR4.PAE = 1 and IA32_EFER.NXE = 1),
 * 0 otherwise. 32-bit paging with PSE off has no reserved bits and callers pass no `nxe`, so
 * bits 3 and 4 stay 0 there.
 */
export const pfErrorCode = (
  reason: 'not-present' | 'rights' | 'reserved',
  access: Access,
  controls: { readonly nxe?: boolean; readonly smep?: boolean } = {},
): number =>
  (reason === 'not-present' ? 0 : PF_ERR.P) |
  (access.write ? PF_ERR.WR : 0) |
  (access.user ? PF_ERR.US : 0) |
  (reason === 'reserved' ? PF_ERR.RSVD : 0) |
  (access.fetch && (controls.nxe || controls.smep) ? PF_ERR.ID : 0);
