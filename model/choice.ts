/**
 * Where the architecture leaves a choice (which cached translation a TLB uses, whether a
 * faulting walk set accessed bits, ...), the semantics asks a Chooser. One run with a fixed
 * chooser is one permitted behaviour; enumerating every chooser gives the permitted set.
 */

/**
 * What a choice is about, for choosers that model one implementation rather than all of them
 * (a real CPU's TLB uses its cached entry when it has one). Alternatives of a `translation`
 * choice are, in order: a fresh walk, a walk from each cached PDE, each cached translation (oldest first).
 */
export type ChoicePoint =
  | { readonly kind: 'translation'; readonly cachedPdes: number; readonly cachedTranslations: number }
  | { readonly kind: 'accessed-on-fault' }
  | { readonly kind: 'undefined-bits' }
  /** A segment selector pushed into a 32-bit stack slot: zero-extended (0), or the slot's upper half kept (1). */
  | { readonly kind: 'selector-slot' };

/** Picks one of `n` alternatives (0 .. n-1). Alternative 0 is the canonical behaviour. */
export interface Chooser {
  /** The alternative taken among `n` at this choice point. */
  readonly choose: (n: number, point?: ChoicePoint) => number;
}

/**
 * A real processor: uses the most recent cached translation of a page when it has one and walks
 * otherwise; everything else canonical.
 */
export const REAL_CPU: Chooser = Object.freeze({
  choose: (n: number, point?: ChoicePoint) =>
    point?.kind === 'translation' && point.cachedTranslations > 0 ? n - 1 : 0,
});

/** Always the canonical alternative. */
export const CANONICAL: Chooser = Object.freeze({ choose: () => 0 });

/** A chooser that replays a list of choices (0 past its end). */
export const replayChoices = (choices: readonly number[]): Chooser => {
  let i = 0;
  return { choose: (n) => Math.min(choices[i++] ?? 0, n - 1) };
};

/**
 * Run `f` once per distinct sequence of choices and return every result, canonical first.
 * `limit` bounds the number of runs (the permitted sets of this model are small; the bound
 * only guards against a runaway).
 */
export const enumerateChoices = <T>(f: (c: Chooser) => T, limit = 4096): T[] => {
  const results: T[] = [];
  const pending: number[][] = [[]];
  while (pending.length > 0 && results.length < limit) {
    const prefix = pending.shift()!;
    const trace: number[] = [];
    const chooser: Chooser = {
      choose: (n) => {
        const i = trace.length;
        let v: number;
        if (i < prefix.length) v = prefix[i]!;
        else {
          v = 0;
          for (let k = 1; k < n; k++) pending.push([...trace, k]);
        }
        trace.push(v);
        return v;
      },
    };
    results.push(f(chooser));
  }
  return results;
};
