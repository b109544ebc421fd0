/**
 * The runner: `check(design, options)` generates scenarios with fast-check, checks each property
 * on every step, and for a failing property returns the shrunk counterexample (seed, path, the
 * minimal scenario, the first divergence and a readable trace).
 */
import type fc from 'fast-check';
import { arbScenario, type Scenario, type ScenarioOptions } from '../generators/host.ts';
import { plainGuestSpec } from '../generators/reference.ts';
import { type Design, linear, type Op } from '../model/index.ts';
import { efficiency } from './efficiency.ts';
import { equivalence } from './equivalence.ts';
import { isolation } from './isolation.ts';
import {
  checkLevel,
  dropOperations,
  type Level,
  type LevelCounterexample,
  type LevelReport,
  minimizeSequence,
  type RunBudget,
  reshape,
  type ShrinkPass,
} from './level.ts';
import { PROPERTY_NAMES, type Property, type PropertyFailure, type PropertyName } from './property.ts';
import { recordTrace } from './record/machine.ts';
import { renderTrace } from './render.ts';
import { resourceControl } from './resource-control.ts';
import { runScenario } from './trace.ts';
import { scenarioVariants } from './variants.ts';

/** Every property by name. */
export const PROPERTIES: Readonly<Record<PropertyName, Property>> = Object.freeze({
  equivalence,
  'resource-control': resourceControl,
  isolation,
  efficiency,
});

/** Options of `check`: which properties, how many scenarios, the seed, the budget, a baseline design and the scenarios. */
export interface CheckOptions extends ScenarioOptions, RunBudget {
  readonly properties?: readonly PropertyName[];
  /** Scenarios per property. */
  readonly runs?: number;
  readonly seed?: number;
  /** Stop generating after this many milliseconds (fast-check's interruptAfterTimeLimit). */
  readonly timeLimit?: number;
  /** Replay from a fast-check path. */
  readonly path?: string;
  /**
   * A failure counts unless this design fails the same scenario earlier, or at the same step the
   * same way (and shrinking keeps it so): for a mutant, its correct base preset, so that what is
   * found is the mutation's doing and not a failure the base already has.
   */
  readonly baseline?: Design;
  /** Scenarios to draw from instead of `arbScenario`'s (network scenarios: generators/net.ts). */
  readonly scenarios?: fc.Arbitrary<Scenario>;
}

/** A failing property's evidence. */
export type Counterexample = LevelCounterexample<Scenario>;

/** One property's result from `check`: held (with the scenarios run) or failed (with a shrunk counterexample). */
export type PropertyReport = LevelReport<Scenario, PropertyName>;

/** Check one scenario against one property (no generation): the failure, if any. */
export const checkScenario = (
  design: Design,
  property: PropertyName,
  scenario: Scenario,
): PropertyFailure | undefined => PROPERTIES[property].check(design, scenario, runScenario(design, scenario));

/**
 * Whether the baseline's failure `base` accounts for the design's failure `f`: the baseline failed
 * the same property earlier, or at the same step the same way (same guest, same message). A design
 * that diverges before its base does, or at the same step differently, fails by its own doing.
 */
export const explainedByBaseline = (f: PropertyFailure, base: PropertyFailure | undefined): boolean =>
  base !== undefined &&
  (base.step < f.step || (base.step === f.step && base.guest === f.guest && base.message === f.message));

/** The failure of `design` on `scenario`, unless `baseline` (when given) fails it first or the same way. */
export const distinguishingFailure = (
  design: Design,
  property: PropertyName,
  scenario: Scenario,
  baseline: Design | undefined,
): PropertyFailure | undefined => {
  const f = checkScenario(design, property, scenario);
  return f && baseline && explainedByBaseline(f, checkScenario(baseline, property, scenario)) ? undefined : f;
};

/**
 * Shrink further what fast-check shrank: every property here is prefix-closed (a failure at step
 * k depends on operations 0..k only), so cut the operations after the failing step; then, until
 * nothing changes, drop operations one at a time, fold MOV-immediate constants into the initial
 * registers, and reset guests' boot variations to the plain boot, keeping each change that still
 * fails; when those are stuck, try one-value variants (variants.ts) with one operation dropped;
 * finally drop guests no operation uses. The result is 1-minimal: removing any single operation
 * makes the failure go away.
 */
export const minimizeScenario = (design: Design, property: PropertyName, s0: Scenario, baseline?: Design): Scenario => {
  // A constant loaded by MOV r, imm may as well be in the guest's initial registers.
  const foldConstants: ShrinkPass<Scenario> = (current, attempt) => {
    for (let i = current().ops.length - 1; i >= 0; i--) {
      const s = current();
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
  const plainGuests: ShrinkPass<Scenario> = (current, attempt) => {
    current().guests.forEach((_, g) => {
      const plain = plainGuestSpec(current().geometry, current().guests[g]!.cpl);
      for (const field of ['pteFlags', 'pdeFlags', 'eflags', 'wp', 'ts'] as const) {
        const s = current();
        const spec = s.guests[g]!;
        if (JSON.stringify(spec[field]) === JSON.stringify(plain[field])) continue;
        attempt({ ...s, guests: s.guests.map((x, j) => (j === g ? { ...spec, [field]: plain[field] } : x)) });
      }
    });
  };
  // A run of one guest's operations may do no more than one plain memory read would (cache a
  // translation, touch a page), or than a timer tick (make an interrupt pending): try each in its place.
  // With network cards, a run that writes a frame and transmits it may as well be the frame
  // arriving from the world (its word is one of the scenario's values: a register or a frame).
  const plainRead: Op = { kind: 'load', dst: 0, va: linear(Math.min(1, s0.geometry.dirEntries - 1), 1, 0) };
  const tick: Op = { kind: 'timer' };
  const arrivals = (s: Scenario): Op[] =>
    s.guests.some((g) => g.nic !== undefined)
      ? [
          ...new Set([
            ...s.guests.flatMap((g) => g.regs),
            ...s.ops.flatMap(({ op }) => (op.kind === 'frameIn' ? [op.frame] : op.kind === 'movImm' ? [op.imm] : [])),
          ]),
        ].map((frame): Op => ({ kind: 'frameIn', frame }))
      : [];
  const collapseRuns: ShrinkPass<Scenario> = (current, attempt) => {
    for (const k of [3, 2]) {
      for (let i = 0; i + k <= current().ops.length; i++) {
        const s = current();
        const run = s.ops.slice(i, i + k);
        if (run.some((o) => o.guest !== run[0]!.guest)) continue;
        for (const op of [plainRead, tick, ...arrivals(s)])
          if (attempt({ ...s, ops: [...s.ops.slice(0, i), { guest: run[0]!.guest, op }, ...s.ops.slice(i + k)] }))
            break;
      }
    }
  };
  return minimizeSequence(
    s0,
    (s) => distinguishingFailure(design, property, s, baseline),
    [collapseRuns, dropOperations<Scenario>(), foldConstants, plainGuests],
    property === 'isolation' ? 2 : 1,
    [reshape(scenarioVariants)],
  );
};

/** The scenarios `check` generates for a property (isolation needs two guests at least). */
export const scenarioArbitrary = (name: PropertyName, options: ScenarioOptions = {}): fc.Arbitrary<Scenario> => {
  const minGuests = options.minGuests ?? 1;
  return arbScenario({ ...options, minGuests: name === 'isolation' ? Math.max(2, minGuests) : minGuests });
};

/**
 * The hosted machine as a level of the model, for the runner (level.ts). With a `baseline`, a
 * failure counts only where the baseline passes (in generation and in shrinking alike).
 */
export const machineLevel = (
  design: Design,
  options: ScenarioOptions & Pick<CheckOptions, 'baseline' | 'scenarios'> = {},
): Level<Scenario, PropertyName> => ({
  scenarios: (name) => options.scenarios ?? scenarioArbitrary(name, options),
  check: (name, s) => distinguishingFailure(design, name, s, options.baseline),
  minimize: (name, s) => minimizeScenario(design, name, s, options.baseline),
  render: (_name, s, failure) => renderTrace(design, s, failure),
  record: (name, s, failure) => recordTrace(design, s, failure, name),
  length: (s) => s.ops.length,
});

/** Check `design` against the properties. Deterministic for a seed. */
export const check = (design: Design, options: CheckOptions = {}): PropertyReport[] =>
  checkLevel(machineLevel(design, options), options.properties ?? PROPERTY_NAMES, options);
