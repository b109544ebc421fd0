/**
 * The work of `hyperprop check`: (design × property) items, split deterministically across CI
 * machines (`--shard K/N`), each run in this thread or in a worker thread, each giving the same
 * result wherever it runs.
 */
import fc from 'fast-check';
import type { Scenario } from '../generators/host.ts';
import { arbNetScenario } from '../generators/net.ts';
import { type Design, formatOp, type Op, opProblem } from '../model/index.ts';
import { check, scenarioArbitrary } from '../properties/check.ts';
import type { LevelCounterexample, Sequence } from '../properties/level.ts';
import type { PropertyFailure, PropertyName } from '../properties/property.ts';
import type { TraceRecord } from '../properties/record/types.ts';
import type { SyscallPropertyName } from '../properties/syscall/properties.ts';
import type { DesignRef } from './counterexample.ts';
import type { LoadedDesign } from './designs.ts';
import { visible } from './escape.ts';
import type { Fault } from './pool.ts';

export interface Shard {
  /** 1-based. */
  readonly index: number;
  readonly count: number;
}

/** Parse `K/N` (1 <= K <= N). */
export const parseShard = (s: string): Shard | undefined => {
  const m = /^(\d{1,6})\/(\d{1,6})$/.exec(s);
  if (!m) return undefined;
  const index = Number(m[1]);
  const count = Number(m[2]);
  return index >= 1 && index <= count ? { index, count } : undefined;
};

/** The elements of `xs` shard `s` takes: every N-th, from the K-th. Shards 1..N partition `xs`. */
export const inShard = <T>(xs: readonly T[], s: Shard | undefined): T[] =>
  s === undefined ? [...xs] : xs.filter((_, i) => i % s.count === s.index - 1);

export interface WorkItem {
  /** Position in the unsharded work (designs in the order given, properties in PROPERTY_NAMES order). */
  readonly index: number;
  readonly design: number;
  readonly property: PropertyName;
}

export const workItems = (designs: number, properties: readonly PropertyName[]): WorkItem[] => {
  const out: WorkItem[] = [];
  for (let design = 0; design < designs; design++)
    for (const property of properties) out.push({ index: out.length, design, property });
  return out;
};

export interface RunOptions {
  readonly runs: number;
  readonly seed: number;
  /** Milliseconds for this item (fast-check stops generating then). */
  readonly timeLimitMs?: number;
  /** Where counterexamples are saved (none when absent). */
  readonly out?: string;
  /**
   * Network scenarios (generators/net.ts) for designs with a network: absent, half the runs (see
   * `itemScenarios`); true (`--network`), every run; false (`--no-network`), none.
   */
  readonly network?: boolean;
  /**
   * The baseline (`--baseline`): a preset's name or a design file's absolute path, loaded in the
   * worker as a design is. A failure counts unless it fails the same way at the same step or earlier.
   */
  readonly baseline?: string;
}

/**
 * The scenarios of an item of `design`. A design with a network (a `network` back end: an axes.net
 * preset's, or the design's own) gets network scenarios by default: each run draws a hosted-machine
 * scenario or a network scenario with equal weight, so every property is checked on both in the
 * same item and the same runs; `network: true` draws network scenarios only, `false` none. A design
 * without a network gets the hosted-machine scenarios only, whatever `network` says except true.
 */
export const itemScenarios = (
  design: Design,
  property: PropertyName,
  network: boolean | undefined,
): fc.Arbitrary<Scenario> | undefined => {
  if (network === true) return arbNetScenario();
  if (network === false || design.network === undefined) return undefined;
  return fc.oneof(scenarioArbitrary(property), arbNetScenario());
};

/**
 * Why an item has no verdict: its design threw, returned a host that breaks the hosted machine's
 * invariants, never returned (hung), ran past its time budget, or its worker died; with where.
 */
export interface ItemError {
  readonly kind: 'threw' | 'malformed-state' | 'hung' | 'time-limit' | 'crashed' | 'error';
  /** One escaped line. */
  readonly message: string;
  /** The design function running (`import` while its file loaded). */
  readonly call?: string;
  /** The step (operation index in the scenario) it happened at. */
  readonly step?: number;
  readonly guest?: number;
  /** The operation of that step, as the trace shows it. */
  readonly op?: string;
}

/** What one (design, property) item found: plain data, so it crosses a worker boundary. */
export interface ItemResult {
  readonly index: number;
  readonly design: string;
  readonly designRef: DesignRef;
  readonly property: PropertyName | SyscallPropertyName;
  /** error: no verdict (see `error`): the design misbehaved or ran out of time. */
  readonly status: 'passed' | 'failed' | 'error';
  readonly runs: number;
  readonly seed: number;
  readonly durationMs: number;
  readonly error?: ItemError;
  readonly counterexample?: {
    readonly file?: string;
    readonly path: string;
    readonly runsToFailure: number;
    readonly shrinks: number;
    readonly operations: number;
    readonly guests: number;
    readonly divergence: PropertyFailure;
    readonly rendering: string;
    /** The run step by step as plain data (properties/record/): what `rendering` and `--html` pages are made from. */
    readonly trace?: TraceRecord;
  };
}

/** Run one item; `baseline` as `--baseline` named it (a failure it explains does not count). */
export const runItem = async (
  loaded: LoadedDesign,
  item: WorkItem,
  o: RunOptions,
  baseline?: LoadedDesign,
): Promise<ItemResult> => {
  const t0 = performance.now();
  const scenarios = itemScenarios(loaded.design, item.property, o.network);
  const [r] = check(loaded.design, {
    properties: [item.property],
    runs: o.runs,
    seed: o.seed,
    ...(o.timeLimitMs === undefined ? {} : { timeLimit: o.timeLimitMs }),
    ...(scenarios ? { scenarios } : {}),
    ...(baseline ? { baseline: baseline.design } : {}),
  });
  const base = {
    index: item.index,
    design: loaded.design.name,
    designRef: loaded.ref,
    property: item.property,
    status: r!.status,
    runs: r!.runs,
    seed: o.seed,
  };
  const c = r!.counterexample;
  if (!c) return { ...base, durationMs: performance.now() - t0 };
  // The counterexample module (and with it effect) loads only when something is saved.
  let file: string | undefined;
  if (o.out !== undefined) {
    const { saveCounterexample, toCounterexampleFile } = await import('./counterexample.ts');
    file = saveCounterexample(o.out, toCounterexampleFile(loaded.ref, item.property, c, baseline?.ref));
  }
  return { ...base, durationMs: performance.now() - t0, counterexample: itemCounterexample(c, file) };
};

/** A checker's counterexample (of any level), as a report row shows it. */
export const itemCounterexample = (
  c: LevelCounterexample<Sequence>,
  file: string | undefined,
): NonNullable<ItemResult['counterexample']> => ({
  ...(file === undefined ? {} : { file }),
  path: c.path,
  runsToFailure: c.runsToFailure,
  shrinks: c.shrinks,
  operations: c.scenario.ops.length,
  guests: c.scenario.guests.length,
  divergence: c.failure,
  rendering: c.rendering,
  ...(c.trace ? { trace: c.trace } : {}),
});

/** A pool's fault as an item's error (where it happened: call, step, guest, operation). */
export const itemError = (f: Fault): ItemError => {
  const w = f.where;
  let op: string | undefined;
  if (w?.op !== undefined)
    try {
      const parsed = JSON.parse(w.op) as Op;
      op = opProblem(parsed) === undefined ? formatOp(parsed) : visible(w.op);
    } catch {
      op = visible(w.op);
    }
  return {
    kind: f.kind === 'usage' ? 'error' : f.kind,
    message: f.message,
    ...(w && w.call !== 'none' ? { call: w.call } : {}),
    ...(w?.step === undefined ? {} : { step: w.step }),
    ...(w?.guest === undefined ? {} : { guest: w.guest }),
    ...(op === undefined ? {} : { op }),
  };
};

/** Where an error happened, in words: `in handle at step 3 (guest 0: OUT 0x40)`. */
export const errorPlace = (e: ItemError): string => {
  const parts: string[] = [];
  if (e.call) parts.push(e.call === 'import' ? 'while its file loaded' : `in ${e.call}`);
  if (e.step !== undefined)
    parts.push(
      `at step ${e.step}${e.op !== undefined || e.guest !== undefined ? ` (${[e.guest === undefined ? '' : `guest ${e.guest}`, e.op ?? ''].filter((x) => x).join(': ')})` : ''}`,
    );
  return parts.join(' ');
};
