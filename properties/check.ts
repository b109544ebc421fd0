/**
 * The runner: `check(design, options)` generates scenarios with fast-check, checks each property
 * on every step, and for a failing property returns the shrunk counterexample (seed, path, the
 * minimal scenario, the first divergence and a readable trace).
 */
import type fc from 'fast-check';
import { arbScenario, type Scenario, type ScenarioOptions } from '../generators/host.ts';
import { bootGuest, plainGuestSpec } from '../generators/reference.ts';
import { bootFrames, type Design, linear, type Op, PTE, peekPhysical, step, systemPageLinear } from '../model/index.ts';
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
 * registers and stores that only set a boot table entry's flags into the guest's boot variation,
 * and reset guests' boot variations to the plain boot, keeping each change that still
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
  // A store that only changes the flags of one of the boot tables' entries (or clears it) may as well
  // be the guest's boot variation (its PDE or PTE flags), as a MOV constant may be an initial register.
  const foldTableWrites: ShrinkPass<Scenario> = (current, attempt) => {
    for (let i = current().ops.length - 1; i >= 0; i--) {
      const s = current();
      const o = s.ops[i];
      if (o?.op.kind !== 'store' || s.ops.length <= 1) continue;
      const folded = foldedBootEntry(s, i);
      if (!folded) continue;
      const spec = s.guests[o.guest]!;
      const patch =
        folded.kind === 'pde'
          ? { pdeFlags: spec.pdeFlags.map((f, k) => (k === folded.index ? folded.flags : f)) }
          : { pteFlags: spec.pteFlags.map((f, k) => (k === folded.index ? folded.flags : f)) };
      attempt({
        ...s,
        guests: s.guests.map((x, j) => (j === o.guest ? { ...spec, ...patch } : x)),
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
    [collapseRuns, dropOperations<Scenario>(), foldConstants, foldTableWrites, plainGuests],
    property === 'isolation' ? 2 : 1,
    [reshape(scenarioVariants)],
  );
};

/**
 * If store `i` of `s` writes, in its guest's bare-metal state just before it, an entry of the boot
 * page directory or of a boot page table with the frame the boot layout gives it (or a not-present
 * value), the entry's index and flags (P, R/W, U/S) for the guest's boot description; else undefined.
 */
const foldedBootEntry = (
  s: Scenario,
  i: number,
): { readonly kind: 'pde' | 'pte'; readonly index: number; readonly flags: number } | undefined => {
  const { guest, op } = s.ops[i]!;
  if (op.kind !== 'store') return undefined;
  const g = s.geometry;
  let m = bootGuest(s.guests[guest]!, g);
  for (let j = 0; j < i; j++) if (s.ops[j]!.guest === guest) m = step(m, s.ops[j]!.op).machine;
  const pa = peekPhysical(m, op.va);
  if (pa === undefined) return undefined;
  const value = m.cpu.regs[op.src]!;
  const f = bootFrames(g);
  const frame = pa >>> 12;
  const word = (pa & 0xfff) >>> 2;
  const flags = value & (PTE.P | PTE.RW | PTE.US);
  const fits = (bootFrame: number) => !(value & PTE.P) || value >>> 12 === bootFrame;
  if (frame === f.pageDirectory && word < g.dirEntries) {
    if (linear(word, 0) >>> 22 === systemPageLinear(g) >>> 22) return undefined; // the boot keeps that slot
    return fits(f.pageTable(word)) ? { kind: 'pde', index: word, flags } : undefined;
  }
  for (let d = 0; d < g.dirEntries; d++) {
    if (frame !== f.pageTable(d) || word >= g.tableEntries) continue;
    if (linear(d, word) === systemPageLinear(g)) return undefined;
    const bootFrame =
      d === 0 && word === 0 ? f.pageTable(0) : d === 0 && word === 1 ? f.pageDirectory : f.data(d, word);
    return fits(bootFrame) ? { kind: 'pte', index: d * g.tableEntries + word, flags } : undefined;
  }
  return undefined;
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
