/**
 * The property runner, for any level of the model: a level says how to generate its scenarios,
 * how a property judges one, how to shrink one further and how to render a failure; the runner
 * does the rest (fast-check generation and shrinking, then 1-minimal shrinking, then the report).
 * The hosted machine (check.ts) and the system-call level (syscall/check.ts) both run on it.
 */
import fc from 'fast-check';
import type { PropertyFailure } from './property.ts';
import { checkText } from './record/text.ts';
import type { TraceRecord } from './record/types.ts';

/** A level of the model, as the runner needs it. */
export interface Level<S, P extends string> {
  /** Scenarios for property `property`. */
  readonly scenarios: (property: P) => fc.Arbitrary<S>;
  /** The property's verdict on one scenario: its first violation, or undefined. */
  readonly check: (property: P, scenario: S) => PropertyFailure | undefined;
  /** Shrink a failing scenario further than fast-check did (to a 1-minimal one). */
  readonly minimize: (property: P, scenario: S) => S;
  /** The readable trace of a failing scenario. */
  readonly render: (property: P, scenario: S, failure: PropertyFailure) => string;
  /**
   * The trace record of a failing scenario (properties/record/): plain data every rendering is made
   * from. A level that gives one has its report's text made from it (record/text.ts `checkText`).
   */
  readonly record?: (property: P, scenario: S, failure: PropertyFailure) => TraceRecord;
  /** How many operations a scenario has. */
  readonly length: (scenario: S) => number;
}

export interface RunBudget {
  /** Scenarios per property. */
  readonly runs?: number;
  readonly seed?: number;
  /** Stop generating after this many milliseconds (fast-check's interruptAfterTimeLimit). */
  readonly timeLimit?: number;
  /** Replay from a fast-check path. */
  readonly path?: string;
  /** Called once, with the runs so far, when a property first fails (before shrinking): lets a caller time detection apart from shrinking. */
  readonly onFirstFailure?: (runs: number) => void;
}

/** A failing property's evidence. */
export interface LevelCounterexample<S> {
  readonly seed: number;
  readonly path: string;
  /** Scenarios tried before the first failure (1-based). */
  readonly runsToFailure: number;
  readonly shrinks: number;
  readonly scenario: S;
  readonly failure: PropertyFailure;
  readonly rendering: string;
  /** The run step by step as plain data (translation paths, TLBs, the divergence), when the level records one. */
  readonly trace?: TraceRecord;
}

export interface LevelReport<S, P extends string> {
  readonly property: P;
  readonly status: 'passed' | 'failed';
  readonly runs: number;
  readonly seed: number;
  readonly counterexample?: LevelCounterexample<S>;
}

/** Check the named properties of a level. Deterministic for a seed. */
export const checkLevel = <S, P extends string>(
  level: Level<S, P>,
  names: readonly P[],
  options: RunBudget = {},
): LevelReport<S, P>[] => {
  const seed = options.seed ?? 1;
  const runs = options.runs ?? 100;
  return names.map((name) => {
    let lastFailure: PropertyFailure | undefined;
    let tried = 0;
    let reported = false;
    // An exception is not a property failure: it stops the run at once (fast-check would shrink it
    // as one) and is thrown to the caller as it was (a design that throws is that design's error).
    let thrown: { readonly error: unknown } | undefined;
    const details = fc.check(
      fc.property(level.scenarios(name), (s) => {
        tried++;
        try {
          lastFailure = level.check(name, s);
        } catch (error) {
          thrown = { error };
          throw new fc.PreconditionFailure(true);
        }
        if (lastFailure !== undefined && !reported) {
          reported = true;
          options.onFirstFailure?.(tried);
        }
        return lastFailure === undefined;
      }),
      {
        seed,
        numRuns: runs,
        ...(options.path === undefined ? {} : { path: options.path }),
        ...(options.timeLimit === undefined ? {} : { interruptAfterTimeLimit: options.timeLimit }),
      },
    );
    if (thrown) throw thrown.error;
    if (!details.failed || details.counterexample === null) {
      const error = (details as { errorInstance?: unknown }).errorInstance;
      if (error) throw error;
      return { property: name, status: 'passed', runs: details.numRuns, seed };
    }
    const scenario = level.minimize(name, details.counterexample[0] as S);
    const failure = level.check(name, scenario) ?? lastFailure!;
    const trace = level.record?.(name, scenario, failure);
    return {
      property: name,
      status: 'failed',
      runs: details.numRuns,
      seed,
      counterexample: {
        seed,
        path: details.counterexamplePath ?? '',
        runsToFailure: details.numRuns,
        shrinks: details.numShrinks,
        scenario,
        failure,
        rendering: trace ? checkText(trace) : level.render(name, scenario, failure),
        ...(trace ? { trace } : {}),
      },
    };
  });
};

/** A scenario as a sequence: guests, and operations each naming its guest. */
export interface Sequence {
  readonly guests: readonly unknown[];
  readonly ops: readonly { readonly guest: number }[];
}

/** One shrinking pass: it reads the current scenario and tries candidates, keeping those that still fail. */
export type ShrinkPass<S> = (current: () => S, attempt: (candidate: S) => boolean) => void;

/** Drop operations one at a time, from the last. */
export const dropOperations =
  <S extends Sequence>(): ShrinkPass<S> =>
  (current, attempt) => {
    for (let i = current().ops.length - 1; i >= 0; i--) {
      const s = current();
      if (s.ops.length <= 1 || i >= s.ops.length) continue;
      attempt({ ...s, ops: s.ops.filter((_, j) => j !== i) });
    }
  };

/**
 * A pass for local minima that single drops cannot leave: a counterexample may be 1-minimal yet
 * longer than the shortest, because the short one needs another operand value (the system page
 * instead of a data page, an odd MSI vector, a guest booted at ring 3 instead of an IRET there).
 * For each variant of the current sequence (same length, one value changed), try it with each
 * single operation dropped; keep the first that still fails (so every change kept shortens), and
 * stop there for the cheaper passes to run again.
 */
export const reshape =
  <S extends Sequence>(variants: (s: S) => Iterable<S>): ShrinkPass<S> =>
  (current, attempt) => {
    for (const v of variants(current())) {
      if (v.ops.length <= 1) return;
      for (let j = v.ops.length - 1; j >= 0; j--) if (attempt({ ...v, ops: v.ops.filter((_, k) => k !== j) })) return;
    }
  };

/**
 * Shrink a failing sequence to a 1-minimal one. Every property is prefix-closed (a failure at
 * step k depends on operations 0..k only), so cut the operations after the failing step; then run
 * the passes until nothing changes, keeping each change that still fails, and when they are stuck
 * the costlier `lastResort` passes (reshape); at most eight rounds. Finally drop guests no
 * operation uses (keeping `minGuests`).
 */
export const minimizeSequence = <S extends Sequence>(
  s0: S,
  fails: (s: S) => PropertyFailure | undefined,
  passes: readonly ShrinkPass<S>[],
  minGuests: number,
  lastResort: readonly ShrinkPass<S>[] = [],
): S => {
  const f0 = fails(s0);
  if (!f0) return s0;
  let s: S = { ...s0, ops: s0.ops.slice(0, f0.step + 1) };
  const attempt = (candidate: S) => {
    const f = fails(candidate);
    if (!f) return false;
    s = { ...candidate, ops: candidate.ops.slice(0, f.step + 1) };
    return true;
  };
  for (let round = 0; round < 8; round++) {
    const before = JSON.stringify(s);
    for (const pass of passes) pass(() => s, attempt);
    if (JSON.stringify(s) !== before) continue;
    for (const pass of lastResort) pass(() => s, attempt);
    if (JSON.stringify(s) === before) break;
  }
  for (let g = s.guests.length - 1; g >= 0 && s.guests.length > minGuests; g--) {
    if (s.ops.some((o) => o.guest === g)) continue;
    attempt({
      ...s,
      guests: s.guests.filter((_, j) => j !== g),
      ops: s.ops.map((o) => (o.guest > g ? { ...o, guest: o.guest - 1 } : o)),
    });
  }
  return s;
};
