/**
 * The real TLB: one concrete cache, tagged by VPID (tag 0 when untagged), with a bounded number
 * of entries. While a guest runs, the ISA sees the entries of its tag as an ordinary TLB; the
 * real CPU chooser (choice.ts REAL_CPU) then uses a cached entry whenever there is one.
 */
import type { CachedTranslation, Tlb } from '../tlb.ts';

export interface TaggedTranslation extends CachedTranslation {
  readonly tag: number;
}

/** The real processor's TLB: tagged translations (VPID), oldest first, and how many it holds. */
export interface RealTlb {
  /** Oldest first. At most one entry per (tag, page). */
  readonly entries: readonly TaggedTranslation[];
  readonly capacity: number;
}

/** An empty real TLB holding at most `capacity` entries. */
export const emptyRealTlb = (capacity: number): RealTlb => ({ entries: [], capacity });

/** Views made by `tlbView`, by real TLB and tag (a TLB no step changed gives the same view object). */
const views = new WeakMap<RealTlb, Map<number, Tlb>>();

/** The entries the processor may use under `tag`, as the ISA's TLB. */
export const tlbView = (t: RealTlb, tag: number): Tlb => {
  let byTag = views.get(t);
  if (!byTag) {
    byTag = new Map();
    views.set(t, byTag);
  }
  let view = byTag.get(tag);
  if (!view) {
    view = { translations: t.entries.filter((e) => e.tag === tag).map(({ tag: _tag, ...rest }) => rest), pdes: [] };
    byTag.set(tag, view);
  }
  return view;
};

/** Are the entries of `tag` after every other tag's? */
const tagNewest = (t: RealTlb, tag: number): boolean => {
  let seen = false;
  for (const e of t.entries) {
    if (e.tag === tag) seen = true;
    else if (seen) return false;
  }
  return true;
};

/** Store back what a step left in the `tag` view: the latest entry per page, oldest evicted past capacity. */
export const tlbStoreView = (t: RealTlb, tag: number, view: Tlb): RealTlb => {
  // A step that left the view as `tlbView` gave it changes nothing, once the tag's entries are the
  // newest (as the general case below leaves them).
  if (views.get(t)?.get(tag) === view && tagNewest(t, tag)) return t;
  const latest = new Map<number, CachedTranslation>();
  for (const e of view.translations) {
    latest.delete(e.page); // re-insert to keep recency order
    latest.set(e.page, e);
  }
  const kept = t.entries.filter((e) => e.tag !== tag);
  const mine = t.entries
    .filter((e) => e.tag === tag && latest.get(e.page) !== undefined)
    .map((e) => ({ ...latest.get(e.page)!, tag }));
  const old = new Set(mine.map((e) => e.page));
  const added = [...latest.values()].filter((e) => !old.has(e.page)).map((e) => ({ ...e, tag }));
  // Entries of this tag that the step dropped (INVLPG, CR3 write, #PF) are gone; the rest keep their order.
  const same = mine.filter((e) => {
    const l = latest.get(e.page)!;
    return l.frame === e.frame && l.rights === e.rights && l.dirty === e.dirty;
  });
  const changed = mine.filter((e) => !same.includes(e));
  const entries = [...kept, ...same, ...changed, ...added];
  // Bounded capacity: evict the oldest entries of any tag.
  return { ...t, entries: entries.length > t.capacity ? entries.slice(entries.length - t.capacity) : entries };
};

/** Drop every entry. */
export const tlbFlushAll = (t: RealTlb): RealTlb => ({ ...t, entries: [] });
/** Drop the entries of one tag (INVVPID single-context, or a CR3 write under VPID). */
export const tlbFlushTag = (t: RealTlb, tag: number): RealTlb => ({
  ...t,
  entries: t.entries.filter((e) => e.tag !== tag),
});
/** Drop one page's entry under one tag (INVLPG, INVVPID individual-address). */
export const tlbFlushPage = (t: RealTlb, tag: number, page: number): RealTlb => ({
  ...t,
  entries: t.entries.filter((e) => e.tag !== tag || e.page !== page),
});
