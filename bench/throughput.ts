/**
 * The checker's throughput (issue 8): checked guest operations per second, per preset and per
 * property, on one core and with worker threads; how the cost per checked operation grows with
 * the number of guests and of guest frames; and a baseline doing the same work the plain way
 * (fast-check's `fc.commands`, uniform values, the whole abstraction re-checked after every
 * command), with the steps between so that each choice's gain shows.
 *
 * A guest operation is checked when every property named has been evaluated on the step that
 * ran it. One-core figures are per second of this process's CPU time (the machine these run on
 * is shared, and CPU time is what one core spent whatever else ran), best and median of
 * `--repeats` runs of the same seeded work after a warm-up run, with the best wall-clock figure
 * beside them; worker figures are wall-clock.
 *
 *   npm run bench:throughput -- [--runs 1000] [--repeats 3] [--designs shadow,ept,...]
 *                               [--worker-designs ept] [--baseline-runs 200]
 *                               [--sections presets,workers,scaling,baseline] [--write]
 *
 * `--write` replaces the "Throughput" section of bench/RESULTS.md (other sections are kept).
 */
import { execSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import fc from 'fast-check';
import { runInWorkers } from '../cli/pool.ts';
import { workItems } from '../cli/work.ts';
import { arbOpUniform } from '../generators/host.ts';
import { arbGuestSpec } from '../generators/reference.ts';
import {
  DEFAULT_GEOMETRY,
  type Design,
  extractRegion,
  frameOwner,
  frameWords,
  type Geometry,
  guestBase,
  guestView,
  type HostMachine,
  HV_BLOCK,
  hostStepTraced,
  hostSwitch,
  type Machine,
  nonZeroWords,
  OP_KINDS,
  type Op,
  PRESETS,
  PROPERTIES,
  PROPERTY_NAMES,
  type PropertyName,
  regionFrames,
  runScenario,
  type Scenario,
  type ScenarioOptions,
  sameArchitecturalState,
  scenarioArbitrary,
  scenarioGuests,
  scenarioHost,
} from '../index.ts';
import { checkEquivalence } from '../properties/equivalence.ts';
import { advanceFrontier } from '../properties/frontier.ts';
import { checkIsolation } from '../properties/isolation.ts';

// ---------------------------------------------------------------------------------------------
// Options and measurement.

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
};
const RUNS = Number(arg('runs', '1000'));
const REPEATS = Number(arg('repeats', '3'));
/** Presets the worker section checks (each a (design, property) item per property). */
const WORKER_DESIGNS = arg('worker-designs', 'ept').split(',');
/** Scenarios per baseline row (the plain checker is slow). */
const BASELINE_RUNS = Number(arg('baseline-runs', '200'));
const SEED = 1;
const DESIGNS = arg('designs', Object.keys(PRESETS).join(',')).split(',');
const SECTIONS = arg('sections', 'presets,workers,scaling,baseline').split(',');
const WRITE = process.argv.includes('--write');

/** This thread's CPU time in ms (user and system). */
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/**
 * Best (shortest) and median of repeated timings, in ms, after one untimed run (the JIT's
 * warm-up): CPU time of this process (what one core spent, whatever else the machine ran), and
 * wall-clock time.
 */
const timed = (f: () => void): { best: number; median: number; wallBest: number } => {
  f();
  const cpu: number[] = [];
  const wall: number[] = [];
  for (let r = 0; r < REPEATS; r++) {
    const t0 = performance.now();
    const c0 = cpuMs();
    f();
    cpu.push(cpuMs() - c0);
    wall.push(performance.now() - t0);
  }
  cpu.sort((a, b) => a - b);
  wall.sort((a, b) => a - b);
  return { best: cpu[0]!, median: cpu[Math.floor(cpu.length / 2)]!, wallBest: wall[0]! };
};
const timedAsync = async (f: () => Promise<void>): Promise<{ best: number; median: number }> => {
  const ms: number[] = [];
  for (let r = 0; r < REPEATS; r++) {
    const t0 = performance.now();
    await f();
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  return { best: ms[0]!, median: ms[Math.floor(ms.length / 2)]! };
};

const rate = (n: number, ms: number) => Math.round((n / ms) * 1000);
const fmt = (n: number) => n.toLocaleString('en-US');
const us = (ms: number, ops: number) => ((ms * 1000) / ops).toFixed(1);

const out: string[] = [];
const say = (line = '') => {
  console.log(line);
  out.push(line);
};
const table = (head: readonly string[], rows: readonly (readonly (string | number)[])[]) => {
  say(`| ${head.join(' | ')} |`);
  say(`|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`);
  for (const r of rows) say(`| ${r.map((c) => (typeof c === 'number' ? fmt(c) : c)).join(' | ')} |`);
  say();
};

const opsOf = (scenarios: readonly Scenario[]) => scenarios.reduce((n, s) => n + s.ops.length, 0);

/** The scenarios `check` generates for a property: for a seed, fc.sample draws the values fc.check runs on. */
const scenariosOf = (property: PropertyName, options: ScenarioOptions = {}, runs = RUNS) =>
  fc.sample(scenarioArbitrary(property, options), { seed: SEED, numRuns: runs });

/**
 * What `check` does per generated scenario (fast-check generates it, the design runs it, the
 * properties are evaluated on the trace), without stopping at a failure: a failing preset's
 * throughput is measured on the same work as a passing one's, and no shrinking is timed.
 */
const checkLoop = (
  design: Design,
  arb: fc.Arbitrary<Scenario>,
  properties: readonly PropertyName[],
  runs = RUNS,
): void => {
  fc.assert(
    fc.property(arb, (s) => {
      const trace = runScenario(design, s);
      for (const p of properties) PROPERTIES[p].check(design, s, trace);
    }),
    { seed: SEED, numRuns: runs },
  );
};

// ---------------------------------------------------------------------------------------------
// The machine.

const machine = () => {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  let nproc = String(cpus().length);
  try {
    nproc = execSync('nproc').toString().trim();
  } catch {}
  return `${nproc} cores (\`nproc\`), ${cpu}, node ${process.version}, ${process.platform} ${process.arch}`;
};

// ---------------------------------------------------------------------------------------------
// 1. Per preset and property, one core.

const presets = () => {
  say('### Per preset and property, one core');
  say();
  say(
    `${fmt(RUNS)} scenarios per property (the scenarios \`check\` generates, seed ${SEED}; isolation's have 2-4 guests, the others 1-4), each generated, run and checked as \`check\` does, without stopping at a failure (so failing presets are measured on the same work, and no shrinking is timed). Checked guest operations per CPU-second, best / median of ${REPEATS}, and per wall-clock second (best).`,
  );
  say();
  const rows: (string | number)[][] = [];
  const allRows: (string | number)[][] = [];
  for (const name of DESIGNS) {
    const design = PRESETS[name];
    if (!design) throw new Error(`no preset ${name}`);
    let totalOps = 0;
    let totalBest = 0;
    let totalMedian = 0;
    for (const property of PROPERTY_NAMES) {
      const scenarios = scenariosOf(property);
      const ops = opsOf(scenarios);
      const t = timed(() => checkLoop(design, scenarioArbitrary(property), [property]));
      totalOps += ops;
      totalBest += t.best;
      totalMedian += t.median;
      rows.push([
        name,
        property,
        ops,
        rate(ops, t.best),
        rate(ops, t.median),
        rate(ops, t.wallBest),
        rate(RUNS, t.best),
      ]);
    }
    // Every property on one trace of each scenario: each operation checked under all four.
    const arb = scenarioArbitrary('equivalence');
    const ops = opsOf(scenariosOf('equivalence'));
    const t = timed(() => checkLoop(design, arb, PROPERTY_NAMES));
    allRows.push([
      name,
      rate(totalOps, totalBest),
      rate(totalOps, totalMedian),
      rate(ops, t.best),
      rate(ops, t.median),
      rate(ops, t.wallBest),
      rate(RUNS, t.best),
    ]);
  }
  table(['preset', 'property', 'ops', 'ops/s best', 'ops/s median', 'ops/s wall best', 'scenarios/s best'], rows);
  say(
    'All properties: as `hyperprop check` runs them (one property after another, each on its own scenarios: operations of the four runs over their total time), and with every property checked on one trace of each scenario.',
  );
  say();
  table(
    [
      'preset',
      'one after another ops/s best',
      'median',
      'all on one trace ops/s best',
      'median',
      'wall best',
      'scenarios/s best',
    ],
    allRows,
  );
};

// ---------------------------------------------------------------------------------------------
// 2. Worker threads.

const workers = async () => {
  const names = WORKER_DESIGNS;
  say('### Worker threads');
  say();
  say(
    `\`hyperprop check --workers N\`'s pool (cli/pool.ts): one (design, property) item per worker at a time, each item \`check\` with ${fmt(RUNS)} runs; presets ${names.join(', ')}, all four properties. Wall time from the first item sent to the last result, worker start-up included (each worker loads tsx and the sources). Best / median of ${REPEATS}.`,
  );
  say();
  const items = workItems(names.length, PROPERTY_NAMES);
  const ops = items.reduce((n, it) => n + opsOf(scenariosOf(it.property)), 0);
  const rows: (string | number)[][] = [];
  let one = 0;
  for (const n of [1, 2]) {
    const requests = items.map((item) => ({
      spec: names[item.design]!,
      item,
      options: { runs: RUNS, seed: SEED },
    }));
    const t = await timedAsync(async () => {
      await runInWorkers(requests, n, () => {});
    });
    // (no warm-up run: each run starts its workers afresh)
    if (n === 1) one = t.best;
    rows.push([`--workers ${n}`, ops, rate(ops, t.best), rate(ops, t.median), `${(one / t.best).toFixed(2)}x`]);
  }
  table(['', 'ops', 'ops/s best', 'ops/s median', 'speed-up (best)'], rows);
};

// ---------------------------------------------------------------------------------------------
// 3. Scaling: guests and frames.

interface Breakdown {
  readonly ops: number;
  readonly gen: number;
  readonly run: number;
  readonly props: Readonly<Record<PropertyName, number>>;
}

/** Time generation, the run and each property separately (ms), best of the repeats. */
const breakdown = (design: Design, options: ScenarioOptions, runs: number): Breakdown => {
  const arb = scenarioArbitrary('equivalence', options);
  let scenarios: Scenario[] = [];
  const gen = timed(() => {
    scenarios = fc.sample(arb, { seed: SEED, numRuns: runs });
  }).best;
  let traces: ReturnType<typeof runScenario>[] = [];
  const run = timed(() => {
    traces = scenarios.map((s) => runScenario(design, s));
  }).best;
  const props = Object.fromEntries(
    PROPERTY_NAMES.map((p) => [
      p,
      timed(() => {
        scenarios.forEach((s, i) => {
          PROPERTIES[p].check(design, s, traces[i]!);
        });
      }).best,
    ]),
  ) as Record<PropertyName, number>;
  return { ops: opsOf(scenarios), gen, run, props };
};

const scalingRow = (label: string, b: Breakdown): (string | number)[] => {
  const total = b.gen + b.run + PROPERTY_NAMES.reduce((t, p) => t + b.props[p], 0);
  return [
    label,
    b.ops,
    us(b.gen, b.ops),
    us(b.run, b.ops),
    ...PROPERTY_NAMES.map((p) => us(b.props[p], b.ops)),
    us(total, b.ops),
    rate(b.ops, total),
  ];
};
const SCALING_HEAD = ['generation', 'run', ...PROPERTY_NAMES, 'total µs/op', 'ops/s'].map((h, i) =>
  i < PROPERTY_NAMES.length + 2 ? `${h} µs/op` : h,
);

const scaling = () => {
  const design = PRESETS.ept!;
  const runs = Math.max(50, Math.round(RUNS / 2));
  say('### Cost per checked operation: guests and frames (ept)');
  say();
  say(
    `${fmt(runs)} scenarios of up to 24 operations per row; CPU µs per guest operation of generating the scenarios, running them (with each step's guest view and canonical reference state), and each property on the recorded trace (best of ${REPEATS}).`,
  );
  say();
  const rows: (string | number)[][] = [];
  for (const n of [1, 2, 4, 8])
    rows.push(scalingRow(`${n} guest${n > 1 ? 's' : ''}`, breakdown(design, { minGuests: n, maxGuests: n }, runs)));
  table(['guests', 'ops', ...SCALING_HEAD], rows);
  const frows: (string | number)[][] = [];
  for (const frames of [64, 256, 1024, 4096, 16384, 65536]) {
    const geometry: Geometry = { ...DEFAULT_GEOMETRY, frames };
    try {
      frows.push(scalingRow(`${fmt(frames)}`, breakdown(design, { geometry, minGuests: 2, maxGuests: 2 }, runs)));
    } catch (e) {
      frows.push([fmt(frames), `not supported: ${e instanceof Error ? e.message : String(e)}`]);
    }
  }
  table(['guest frames (2 guests)', 'ops', ...SCALING_HEAD], frows);
};

// ---------------------------------------------------------------------------------------------
// 4. Baseline: the same work without this checker's choices.

/** What the plain checker keeps between steps: the host, and every guest's whole frontier. */
interface Checked {
  host: HostMachine;
  frontiers: (readonly Machine[])[];
}

const startChecked = (design: Design, s: Scenario): Checked => {
  const guests = scenarioGuests(s);
  return { host: scenarioHost(design, guests), frontiers: guests.map((m) => [m]) };
};

/**
 * One step, then the whole abstraction re-checked: every guest's view against its frontier (the
 * running guest's advanced through every permitted successor), every guest's tables scanned, and
 * every word the guest does not own compared with the step before.
 */
const recheckStep = (design: Design, c: Checked, guest: number, op: Op): void => {
  const before = hostSwitch(design, c.host, guest);
  const after = hostStepTraced(design, before, op).host;
  c.frontiers = c.frontiers.map((f, g) => {
    const view = guestView(design, after, g);
    if (g !== guest) {
      if (!sameArchitecturalState(f[0]!, view)) throw new Error(`guest ${g} changed while idle`);
      return f;
    }
    const next = advanceFrontier(f, op, view).next;
    if (next.length === 0) throw new Error(`guest ${g} sees a state bare metal does not permit`);
    return next;
  });
  fullScan(design, before, after);
  c.host = after;
};

/** Resource control without incrementality: every table entry and every word compared, every step. */
const fullScan = (design: Design, before: HostMachine, after: HostMachine) => {
  const c = after.config;
  for (const ctx of after.guests) {
    const root = design.axes.mmu === 'nested' ? ctx.eptRoot : ctx.shadow.root;
    for (const [, pde] of frameWords(after.memory, root)) {
      if (!(pde & 7)) continue;
      for (const [, pte] of frameWords(after.memory, pde >>> 12)) {
        const o = frameOwner(c, pte >>> 12);
        if (pte & 7 && !(o.kind === 'guest' && o.guest === ctx.id)) throw new Error('a table reaches another frame');
      }
    }
  }
  const words = (h: HostMachine, base: number, frames: number) => [
    ...nonZeroWords(extractRegion(h.memory, base, frames)),
  ];
  const same = (a: readonly (readonly [number, number])[], b: readonly (readonly [number, number])[]) =>
    a.length === b.length && a.every(([pa, v], i) => b[i]![0] === pa && b[i]![1] === v);
  const changed: number[] = [];
  for (let base = 0; base < HV_BLOCK * (c.guests + 1); base += 32)
    if (!same(words(before, base, 32), words(after, base, 32))) changed.push(base);
  for (let g = 0; g < c.guests; g++)
    if (!same(words(before, guestBase(c, g), regionFrames(c)), words(after, guestBase(c, g), regionFrames(c))))
      changed.push(guestBase(c, g));
  return changed;
};

/** Uniform scenarios: the same operation kinds and guests, values uniform (no motifs, no bias). */
const uniformOptions: ScenarioOptions = { values: 'uniform' };

const baseline = () => {
  const design = PRESETS.ept!;
  say('### Baseline: the same work without these choices (ept)');
  say();
  say(
    `Each row changes one thing from the one above; ${fmt(BASELINE_RUNS)} scenarios (commands sequences) each, seed ${SEED}, checked guest operations per CPU-second under all four properties, best / median of ${REPEATS}, and per wall-clock second (best).`,
  );
  say();
  const rows: (string | number)[][] = [];
  const row = (label: string, ops: number, f: () => void) => {
    const t = timed(f);
    rows.push([label, ops, rate(ops, t.best), rate(ops, t.median), rate(ops, t.wallBest)]);
  };
  const biased = scenarioArbitrary('equivalence');
  const uniform = scenarioArbitrary('equivalence', uniformOptions);
  row(
    'this checker: biased scenarios, fast paths, incremental checks, one trace',
    opsOf(scenariosOf('equivalence', {}, BASELINE_RUNS)),
    () => checkLoop(design, biased, PROPERTY_NAMES, BASELINE_RUNS),
  );
  const uops = opsOf(scenariosOf('equivalence', uniformOptions, BASELINE_RUNS));
  row('uniform values (no motifs, no bias)', uops, () => checkLoop(design, uniform, PROPERTY_NAMES, BASELINE_RUNS));
  row('... and the definitions: the whole frontier at every step, second runs from the start', uops, () =>
    fc.assert(
      fc.property(uniform, (s) => {
        const trace = runScenario(design, s);
        checkEquivalence(trace, true);
        PROPERTIES['resource-control'].check(design, s, trace);
        checkIsolation(design, s, trace, true);
        PROPERTIES.efficiency.check(design, s, trace);
      }),
      { seed: SEED, numRuns: BASELINE_RUNS },
    ),
  );
  row('... and no incremental checks: every guest re-checked, every table and word scanned, every step', uops, () =>
    fc.assert(
      fc.property(uniform, (s) => {
        const c = startChecked(design, s);
        for (const { guest, op } of s.ops) recheckStep(design, c, guest, op);
        const trace = runScenario(design, s);
        checkIsolation(design, s, trace, true);
        PROPERTIES.efficiency.check(design, s, trace);
      }),
      { seed: SEED, numRuns: BASELINE_RUNS },
    ),
  );
  // fast-check's model-based testing: each guest operation a Command; same guests, uniform values.
  const g = DEFAULT_GEOMETRY;
  let commandOps = 0;
  interface Real {
    s: Scenario;
    checked: Checked;
  }
  class GuestOpCommand implements fc.Command<object, Real> {
    constructor(
      readonly guest: number,
      readonly op: Op,
    ) {}
    check = () => true;
    run(_m: object, r: Real) {
      const guest = this.guest % r.s.guests.length;
      r.s = { ...r.s, ops: [...r.s.ops, { guest, op: this.op }] };
      commandOps++;
      recheckStep(design, r.checked, guest, this.op);
    }
    toString = () => `guest ${this.guest}: ${this.op.kind}`;
  }
  const commands = fc.commands(
    [
      fc
        .tuple(fc.nat({ max: 3 }), fc.oneof(...OP_KINDS.map((k) => arbOpUniform(g, k))))
        .map(([guest, op]) => new GuestOpCommand(guest, op) as fc.Command<object, Real>),
    ],
    { maxCommands: 24 },
  );
  const modelBased = () => {
    commandOps = 0;
    fc.assert(
      fc.property(fc.array(arbGuestSpec(g, [0, 0, 3]), { minLength: 1, maxLength: 4 }), commands, (guests, cmds) => {
        const s0: Scenario = { geometry: g, guests, ops: [] };
        const r: Real = { s: s0, checked: startChecked(design, s0) };
        fc.modelRun(() => ({ model: {}, real: r }), cmds);
        const trace = runScenario(design, r.s);
        checkIsolation(design, r.s, trace, true);
        PROPERTIES.efficiency.check(design, r.s, trace);
      }),
      { seed: SEED, numRuns: BASELINE_RUNS },
    );
  };
  modelBased();
  row(
    'fc.commands (the baseline): uniform values, the whole abstraction re-checked after every command',
    commandOps,
    modelBased,
  );
  table(['', 'ops', 'ops/s best', 'ops/s median', 'ops/s wall best'], rows);
};

// ---------------------------------------------------------------------------------------------

const command = `npm run bench:throughput -- ${process.argv.slice(2).join(' ')}`.trim();
say('## Throughput');
say();
say(
  `Machine: ${machine()}. Shared with other jobs while measured (load average ${loadavg()[0]!.toFixed(1)} at the start): figures are noisy, best and median given.`,
);
say();
say(`Command: \`${command}\``);
say();
if (SECTIONS.includes('presets')) presets();
if (SECTIONS.includes('workers')) await workers();
if (SECTIONS.includes('scaling')) scaling();
if (SECTIONS.includes('baseline')) baseline();

if (WRITE) {
  const file = new URL('./RESULTS.md', import.meta.url);
  const old = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmark results\n';
  const section = `${out.join('\n').trim()}\n`;
  // Replace this section (up to the next "## " heading), keeping every other section as it is.
  const start = old.indexOf('## Throughput');
  const next = start < 0 ? -1 : old.indexOf('\n## ', start + 1);
  const updated =
    start < 0
      ? `${old.trimEnd()}\n\n${section}`
      : `${old.slice(0, start)}${section}${next < 0 ? '' : `\n${old.slice(next + 1)}`}`;
  writeFileSync(file, updated);
  console.log(`wrote ${file.pathname}`);
}
