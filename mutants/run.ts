/**
 * Running a mutant: check it with the property that should catch it first, then with the others,
 * until one fails; time detection apart from shrinking; and replay the shrunk counterexample on
 * the correct preset the mutant was made from, which must pass it (so the kill is the mutation's
 * doing, not a failure the base already had).
 */
import { PRESETS } from '../model/designs/presets.ts';
import { check, checkScenario, explainedByBaseline } from '../properties/check.ts';
import { PROPERTY_NAMES, type PropertyName } from '../properties/property.ts';
import type { Mutant, MutantVerdict } from './mutant.ts';

export interface MutantRunOptions {
  readonly seed: number;
  /** Generated sequences per property. */
  readonly runs: number;
  /** A millisecond clock (the caller's: nothing here reads time by itself). */
  readonly now: () => number;
}

/** What one run of one mutant found. */
export interface MutantOutcome {
  readonly mutant: string;
  readonly seed: number;
  readonly killed: boolean;
  /** The property that failed first (in the order tried: the mutant's own, then the rest). */
  readonly caughtBy?: string;
  /** Sequences tried, up to and including the first failing one (all properties tried before it count). */
  readonly runs: number;
  /** Milliseconds to the first failure, and spent shrinking after it. */
  readonly detectMs: number;
  readonly shrinkMs?: number;
  readonly shrunkLength?: number;
  /** The correct base preset passes the shrunk counterexample (undefined where the level cannot replay one). */
  readonly distinguishing?: boolean;
  readonly message?: string;
  readonly rendering?: string;
}

const machineVerdict = (
  m: Mutant & { target: { level: 'machine' } },
  property: PropertyName,
  o: MutantRunOptions,
  onFirstFailure: () => void,
): MutantVerdict => {
  const base = PRESETS[m.base];
  const [r] = check(m.target.design, {
    properties: [property],
    runs: o.runs,
    seed: o.seed,
    onFirstFailure,
    ...(base ? { baseline: base } : {}),
    ...(m.target.scenarios ? { scenarios: m.target.scenarios() } : {}),
  });
  const c = r!.counterexample;
  if (r!.status === 'passed' || !c) return { property, status: 'passed', runs: r!.runs };
  return {
    property,
    status: 'failed',
    runs: c.runsToFailure,
    shrunkLength: c.scenario.ops.length,
    message: c.failure.message,
    rendering: c.rendering,
    ...(base ? { distinguishing: !explainedByBaseline(c.failure, checkScenario(base, property, c.scenario)) } : {}),
  };
};

/** Run one mutant for one seed. */
export const runMutant = (m: Mutant, o: MutantRunOptions): MutantOutcome => {
  const order =
    m.target.level === 'machine' ? [m.property, ...PROPERTY_NAMES.filter((p) => p !== m.property)] : [m.property];
  const start = o.now();
  let runs = 0;
  for (const property of order) {
    let detectedAt: number | undefined;
    const onFirstFailure = () => {
      detectedAt = o.now();
    };
    const v =
      m.target.level === 'machine'
        ? machineVerdict(m as Mutant & { target: { level: 'machine' } }, property as PropertyName, o, onFirstFailure)
        : m.target.check(property, { seed: o.seed, runs: o.runs, onFirstFailure });
    const end = o.now();
    runs += v.runs;
    if (v.status === 'failed') {
      const detected = detectedAt ?? end;
      return {
        mutant: m.name,
        seed: o.seed,
        killed: true,
        caughtBy: property,
        runs,
        detectMs: detected - start,
        shrinkMs: end - detected,
        ...(v.shrunkLength === undefined ? {} : { shrunkLength: v.shrunkLength }),
        ...(v.distinguishing === undefined ? {} : { distinguishing: v.distinguishing }),
        ...(v.message === undefined ? {} : { message: v.message }),
        ...(v.rendering === undefined ? {} : { rendering: v.rendering }),
      };
    }
  }
  return { mutant: m.name, seed: o.seed, killed: false, runs, detectMs: o.now() - start };
};
