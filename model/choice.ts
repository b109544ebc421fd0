/**
 * Where the architecture leaves a choice (which cached translation a TLB uses, whether a
 * faulting walk set accessed bits, ...), the semantics asks a Chooser. One run with a fixed
 * chooser is one permitted behaviour; enumerating every chooser gives the permitted set.
 */

/** Picks one of `n` alternatives (0 .. n-1). Alternative 0 is the canonical behaviour. */
export interface Chooser {
  readonly choose: (n: number) => number;
}

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
