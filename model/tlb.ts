/**
 * The TLB and paging-structure caches as the architecture permits them (SDM Vol. 3A §4.10):
 * not one concrete cache but every translation a linear page may still use. A page may use
 * any translation it had since its last invalidation (INVLPG of it, a CR3 write, a CR0.PG
 * change, or a #PF on it), and a walk may start from any PDE cached since the last INVLPG or
 * CR3 write (INVLPG empties the paging-structure caches whatever the address, §4.10.4.1).
 * Nothing here decides which one is used: the ISA offers all of them as choices.
 */

/** A translation the TLB may hold for one 4 KiB linear page (SDM §4.10.2.2). */
export interface CachedTranslation {
  /** Linear page number (address bits 31:12). */
  readonly page: number;
  /** Physical address of the frame. */
  readonly frame: number;
  /** AND of R/W and U/S along the walk (paging.ts rights). */
  readonly rights: number;
  /** Whether the PTE's dirty bit was set when the entry was cached. */
  readonly dirty: boolean;
}

/** A PDE the paging-structure cache may hold (SDM §4.10.3.1). */
export interface CachedPde {
  readonly dir: number;
  readonly entry: number;
}

/** The set of cached translations and PDEs (immutable). */
export interface Tlb {
  readonly translations: readonly CachedTranslation[];
  readonly pdes: readonly CachedPde[];
}

/** A TLB that caches nothing. */
export const EMPTY_TLB: Tlb = Object.freeze({ translations: Object.freeze([]), pdes: Object.freeze([]) });

const sameTranslation = (a: CachedTranslation, b: CachedTranslation) =>
  a.page === b.page && a.frame === b.frame && a.rights === b.rights && a.dirty === b.dirty;

/** Translations the TLB may use for linear page `page`, oldest first. */
export const tlbTranslations = (tlb: Tlb, page: number): readonly CachedTranslation[] =>
  tlb.translations.filter((t) => t.page === page);

/** PDEs a walk of directory slot `dir` may start from, other than the one in memory. */
export const tlbPdes = (tlb: Tlb, dir: number): readonly CachedPde[] => tlb.pdes.filter((p) => p.dir === dir);

/** Record a translation (a no-op if the same one is already cached). */
export const tlbInsert = (tlb: Tlb, t: CachedTranslation): Tlb =>
  tlb.translations.some((x) => sameTranslation(x, t)) ? tlb : { ...tlb, translations: [...tlb.translations, t] };

/** Record a PDE used by a walk. */
export const tlbInsertPde = (tlb: Tlb, p: CachedPde): Tlb =>
  tlb.pdes.some((x) => x.dir === p.dir && x.entry === p.entry) ? tlb : { ...tlb, pdes: [...tlb.pdes, p] };

/** INVLPG: drop the page's translations and every paging-structure-cache entry (SDM §4.10.4.1). */
export const tlbInvalidatePage = (tlb: Tlb, page: number): Tlb =>
  tlb.translations.some((t) => t.page === page) || tlb.pdes.length > 0
    ? { translations: tlb.translations.filter((t) => t.page !== page), pdes: [] }
    : tlb;

/** A #PF on a page drops its translations and the cached PDEs that would translate it (SDM §4.10.4.1). */
export const tlbDropOnFault = (tlb: Tlb, page: number): Tlb => {
  const dir = page >>> 10;
  if (!tlb.translations.some((t) => t.page === page) && !tlb.pdes.some((p) => p.dir === dir)) return tlb;
  return {
    translations: tlb.translations.filter((t) => t.page !== page),
    pdes: tlb.pdes.filter((p) => p.dir !== dir),
  };
};

/** CR3 write or CR0.PG change: everything goes (no global pages: CR4.PGE = 0). */
export const tlbFlush = (_tlb: Tlb): Tlb => EMPTY_TLB;
