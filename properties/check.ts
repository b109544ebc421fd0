/**
 * The runner: `check(design, options)` generates scenarios with fast-check, checks each property
 * on every step, and for a failing property returns the shrunk counterexample (seed, path, the
 * minimal scenario, the first divergence and a readable trace).
 */
import fc from 'fast-check';
import { arbScenario, type Scenario, type ScenarioOptions } from '../generators/host.ts';
import type { Design } from '../model/index.ts';
import { efficiency } from './efficiency.ts';
import { equivalence } from './equivalence.ts';
import { isolation } from './isolation.ts';
import { PROPERTY_NAMES, type Property, type PropertyFailure, type PropertyName } from './property.ts';
import { renderTrace } from './render.ts';
import { resourceControl } from './resource-control.ts';
import { runScenario } from './trace.ts';

/** Every property by name. */
export const PROPERTIES: Readonly<Record<PropertyName, Property>> = Object.freeze({
  equivalence,
  'resource-control': resourceControl,
  isolation,
  efficiency,
});

export interface CheckOptions extends ScenarioOptions {
  readonly properties?: readonly PropertyName[];
  /** Scenarios per property. */
  readonly runs?: number;
  readonly seed?: number;
  /** Stop generating after this many milliseconds (fast-check's interruptAfterTimeLimit). */
  readonly timeLimit?: number;
  /** Replay from a fast-check path. */
  readonly path?: string;
}

/** A failing property's evidence. */
export interface Counterexample {
  readonly seed: number;
  readonly path: string;
  /** Scenarios tried before the first failure (1-based). */
  readonly runsToFailure: number;
  readonly shrinks: number;
  readonly scenario: Scenario;
  readonly failure: PropertyFailure;
  readonly rendering: string;
}

export interface PropertyReport {
  readonly property: PropertyName;
  readonly status: 'passed' | 'failed';
  readonly runs: number;
  readonly seed: number;
  readonly counterexample?: Counterexample;
}

/** Check one scenario against one property (no generation): the failure, if any. */
export const checkScenario = (
  design: Design,
  property: PropertyName,
  scenario: Scenario,
): PropertyFailure | undefined => PROPERTIES[property].check(design, scenario, runScenario(design, scenario));

/**
 * Shrink further what fast-check shrank: every property here is prefix-closed (a failure at step
 * k depends on operations 0..k only), so cut the operations after the failing step, then drop
 * operations one at a time while the property still fails, then drop guests no operation uses.
 * The result is 1-minimal: removing any single operation makes the failure go away.
 */
export const minimizeScenario = (design: Design, property: PropertyName, s0: Scenario): Scenario => {
  const fails = (s: Scenario) => checkScenario(design, property, s);
  let s = s0;
  const f0 = fails(s);
  if (!f0) return s0;
  s = { ...s, ops: s.ops.slice(0, f0.step + 1) };
  for (let i = s.ops.length - 1; i >= 0; i--) {
    if (s.ops.length <= 1) break;
    const candidate = { ...s, ops: s.ops.filter((_, j) => j !== i) };
    if (fails(candidate)) s = candidate;
  }
  const minGuests = property === 'isolation' ? 2 : 1;
  for (let g = s.guests.length - 1; g >= 0 && s.guests.length > minGuests; g--) {
    if (s.ops.some((o) => o.guest === g)) continue;
    const candidate: Scenario = {
      ...s,
      guests: s.guests.filter((_, j) => j !== g),
      ops: s.ops.map((o) => (o.guest > g ? { ...o, guest: o.guest - 1 } : o)),
    };
    if (fails(candidate)) s = candidate;
  }
  return s;
};

/** Check `design` against the properties. Deterministic for a seed. */
export const check = (design: Design, options: CheckOptions = {}): PropertyReport[] => {
  const names = options.properties ?? PROPERTY_NAMES;
  const seed = options.seed ?? 1;
  const runs = options.runs ?? 100;
  const minGuests = options.minGuests ?? 1;
  return names.map((name) => {
    const prop = PROPERTIES[name];
    const scenarios = arbScenario({ ...options, minGuests: name === 'isolation' ? Math.max(2, minGuests) : minGuests });
    let lastFailure: PropertyFailure | undefined;
    const details = fc.check(
      fc.property(scenarios, (s) => {
        lastFailure = prop.check(design, s, runScenario(design, s));
        return lastFailure === undefined;
      }),
      {
        seed,
        numRuns: runs,
        ...(options.path === undefined ? {} : { path: options.path }),
        ...(options.timeLimit === undefined ? {} : { interruptAfterTimeLimit: options.timeLimit }),
      },
    );
    if (!details.failed || details.counterexample === null) {
      const error = (details as { errorInstance?: unknown }).errorInstance;
      if (error) throw error;
      return { property: name, status: 'passed', runs: details.numRuns, seed };
    }
    const scenario = minimizeScenario(design, name, details.counterexample[0] as Scenario);
    const failure = prop.check(design, scenario, runScenario(design, scenario)) ?? lastFailure!;
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
        rendering: renderTrace(design, scenario, failure),
      },
    };
  });
};
