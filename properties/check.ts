/**
 * The runner: `check(design, options)` generates scenarios with fast-check, checks each property
 * on every step, and for a failing property returns the shrunk counterexample (seed, path, the
 * minimal scenario, the first divergence and a readable trace).
 */
import fc from 'fast-check';
import { arbScenario, type Scenario, type ScenarioOptions } from '../generators/host.ts';
import { plainGuestSpec } from '../generators/reference.ts';
import { type Design, linear, type Op } from '../model/index.ts';
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
  /** Called once, with the runs so far, when a property first fails (before shrinking): lets a caller time detection apart from shrinking. */
  readonly onFirstFailure?: (runs: number) => void;
  /**
   * A failure counts only if this design passes the same scenario (and shrinking keeps it so):
   * for a mutant, its correct base preset, so that what is found is the mutation's doing and not
   * a failure the base already has.
   */
  readonly baseline?: Design;
  /** Scenarios to draw from instead of `arbScenario`'s (network scenarios: generators/net.ts). */
  readonly scenarios?: fc.Arbitrary<Scenario>;
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

/** The failure of `design` on `scenario`, if `baseline` (when given) passes it. */
const distinguishingFailure = (
  design: Design,
  property: PropertyName,
  scenario: Scenario,
  baseline: Design | undefined,
): PropertyFailure | undefined => {
  const f = checkScenario(design, property, scenario);
  return f && baseline && checkScenario(baseline, property, scenario) ? undefined : f;
};

/**
 * Shrink further what fast-check shrank: every property here is prefix-closed (a failure at step
 * k depends on operations 0..k only), so cut the operations after the failing step; then, until
 * nothing changes, drop operations one at a time, fold MOV-immediate constants into the initial
 * registers, and reset guests' boot variations to the plain boot, keeping each change that still
 * fails; finally drop guests no operation uses. The result is 1-minimal: removing any single
 * operation makes the failure go away.
 */
export const minimizeScenario = (design: Design, property: PropertyName, s0: Scenario, baseline?: Design): Scenario => {
  const fails = (s: Scenario) => distinguishingFailure(design, property, s, baseline);
  const f0 = fails(s0);
  if (!f0) return s0;
  let s: Scenario = { ...s0, ops: s0.ops.slice(0, f0.step + 1) };
  const attempt = (candidate: Scenario) => {
    const f = fails(candidate);
    if (!f) return false;
    s = { ...candidate, ops: candidate.ops.slice(0, f.step + 1) };
    return true;
  };
  const dropOps = () => {
    for (let i = s.ops.length - 1; i >= 0; i--) {
      if (s.ops.length <= 1 || i >= s.ops.length) continue;
      attempt({ ...s, ops: s.ops.filter((_, j) => j !== i) });
    }
  };
  // A constant loaded by MOV r, imm may as well be in the guest's initial registers.
  const foldConstants = () => {
    for (let i = s.ops.length - 1; i >= 0; i--) {
      const o = s.ops[i];
      if (o?.op.kind !== 'movImm' || s.ops.length <= 1) continue;
      const { dst, imm } = o.op;
      const spec = s.guests[o.guest]!;
      const regs = spec.regs.map((v, r) => (r === dst ? imm : v)) as [number, number, number, number];
      attempt({
        ...s,
        guests: s.guests.map((x, j) => (j === o.guest ? { ...spec, regs } : x)),
        ops: s.ops.filter((_, j) => j !== i),
      });
    }
  };
  // Guests as plain as possible: the standard boot's page flags, EFLAGS, CR0 (readable, and often
  // what lets a shorter sequence show the same failure).
  const plainGuests = () => {
    s.guests.forEach((_, g) => {
      const plain = plainGuestSpec(s.geometry, s.guests[g]!.cpl);
      for (const field of ['pteFlags', 'pdeFlags', 'eflags', 'wp', 'ts'] as const) {
        const spec = s.guests[g]!;
        if (JSON.stringify(spec[field]) === JSON.stringify(plain[field])) continue;
        attempt({ ...s, guests: s.guests.map((x, j) => (j === g ? { ...spec, [field]: plain[field] } : x)) });
      }
    });
  };
  // A run of one guest's operations may do no more than one plain memory read would (cache a
  // translation, touch a page), or than a timer tick (make an interrupt pending): try each in its place.
  const plainRead: Op = { kind: 'load', dst: 0, va: linear(Math.min(1, s.geometry.dirEntries - 1), 1, 0) };
  const tick: Op = { kind: 'timer' };
  const collapseRuns = () => {
    for (const k of [3, 2]) {
      for (let i = 0; i + k <= s.ops.length; i++) {
        const run = s.ops.slice(i, i + k);
        if (run.some((o) => o.guest !== run[0]!.guest)) continue;
        for (const op of [plainRead, tick])
          if (attempt({ ...s, ops: [...s.ops.slice(0, i), { guest: run[0]!.guest, op }, ...s.ops.slice(i + k)] }))
            break;
      }
    }
  };
  for (let round = 0; round < 4; round++) {
    const before = JSON.stringify(s);
    collapseRuns();
    dropOps();
    foldConstants();
    plainGuests();
    if (JSON.stringify(s) === before) break;
  }
  const minGuests = property === 'isolation' ? 2 : 1;
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

/** The scenarios `check` generates for a property (isolation needs two guests at least). */
export const scenarioArbitrary = (name: PropertyName, options: ScenarioOptions = {}): fc.Arbitrary<Scenario> => {
  const minGuests = options.minGuests ?? 1;
  return arbScenario({ ...options, minGuests: name === 'isolation' ? Math.max(2, minGuests) : minGuests });
};

/** Check `design` against the properties. Deterministic for a seed. */
export const check = (design: Design, options: CheckOptions = {}): PropertyReport[] => {
  const names = options.properties ?? PROPERTY_NAMES;
  const seed = options.seed ?? 1;
  const runs = options.runs ?? 100;
  return names.map((name) => {
    const prop = PROPERTIES[name];
    const scenarios = options.scenarios ?? scenarioArbitrary(name, options);
    let lastFailure: PropertyFailure | undefined;
    let tried = 0;
    let reported = false;
    const details = fc.check(
      fc.property(scenarios, (s) => {
        tried++;
        lastFailure = prop.check(design, s, runScenario(design, s));
        if (lastFailure && options.baseline && prop.check(options.baseline, s, runScenario(options.baseline, s)))
          lastFailure = undefined;
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
    if (!details.failed || details.counterexample === null) {
      const error = (details as { errorInstance?: unknown }).errorInstance;
      if (error) throw error;
      return { property: name, status: 'passed', runs: details.numRuns, seed };
    }
    const scenario = minimizeScenario(design, name, details.counterexample[0] as Scenario, options.baseline);
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
