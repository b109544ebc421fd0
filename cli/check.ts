/**
 * `hyperprop check`: replay the regression corpus, then check every (design × property) item of
 * this shard, save what fails, and report. Exit 0 when everything held, 1 when a property failed,
 * a saved counterexample still fails or a design misbehaved (ERROR), 2 on bad usage or bad input.
 *
 * Every design runs in worker threads under a watchdog (pool.ts): a design that throws, returns a
 * broken host or never returns is reported as that design's ERROR, and the other items go on.
 */
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import cliProgress from 'cli-progress';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { PROPERTY_NAMES, type PropertyName } from '../properties/property.ts';
import { SYSCALL_PROPERTY_NAMES, type SyscallPropertyName } from '../properties/syscall/properties.ts';
import type { DesignRef } from './counterexample.ts';
import { defaultDesigns, designFile, presetDesign, sameDesign, syscallPresetDesign, UsageError } from './designs.ts';
import { visible } from './escape.ts';
import { DEFAULT_STEP_TIMEOUT_SECONDS, SEED_MAX } from './limits.ts';
import { checkOutputDir, checkOutputFile } from './output.ts';
import { WorkerPool } from './pool.ts';
import {
  allHeld,
  type CheckReport,
  type CorpusResult,
  REPORTERS,
  type Reporter,
  renderReport,
  summarize,
  summaryTable,
} from './report.ts';
import { resolveShard } from './shard.ts';
import { isSyscallPreset, isSyscallProperty } from './syscall.ts';
import { PACKAGE_VERSION } from './version.ts';
import { type ItemError, type ItemResult, inShard, itemError, type RunOptions, workItems } from './work.ts';
import type {
  CheckRequest,
  ProbeRequest,
  ProbeResult,
  ReplayOutcome,
  ReplayRequest,
  SyscallReplayRequest,
  SyscallRequest,
} from './worker.ts';

export const EXIT = { OK: 0, FAILED: 1, USAGE: 2 } as const;

const VERSION: string = PACKAGE_VERSION;

export const intOption =
  (name: string, min: number, max = Number.MAX_SAFE_INTEGER) =>
  (v: string) => {
    const n = Number(v);
    if (!/^-?\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`${name} must be an integer in ${min}..${max}`);
    return n;
  };

const collect = (v: string, prev: string[] | undefined) => [...(prev ?? []), v];

/**
 * The corpus's counterexample files: `*.json` in the folder and its subfolders, but not schema.json.
 * A symbolic link inside it is refused with one line (the corpus holds regular files: a link may
 * point anywhere, or loop).
 */
export const corpusFiles = (dir: string): string[] => {
  if (!existsSync(dir)) return [];
  if (!statSync(dir).isDirectory()) throw new UsageError(`corpus ${visible(dir)} is not a folder`);
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
    )) {
      if (e.name.startsWith('.')) continue;
      const p = join(d, e.name);
      if (e.isSymbolicLink())
        throw new UsageError(
          `corpus entry ${visible(p)} is a symbolic link: the corpus holds regular files only (copy the file in instead)`,
        );
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && e.name.endsWith('.json') && !(d === dir && e.name === 'schema.json')) out.push(p);
    }
  };
  walk(dir);
  return out;
};

interface CheckOptions {
  design?: string[];
  property?: string[];
  runs?: number;
  timeLimit?: number;
  stepTimeout: number;
  seed?: number;
  out: string | false;
  corpus: string | false;
  reporter: string;
  output?: string;
  shard?: string;
  shardCount?: number;
  workers: number;
  progress: boolean;
  network?: boolean;
  baseline?: string;
  html?: string;
}

/** A design of this run, as the main thread knows it (it never runs a design file itself). */
interface PlannedDesign {
  readonly spec: string;
  readonly ref: DesignRef;
  /** Its level: a preset's, or what its file exports (a file that did not load counts as machine-level). */
  readonly level: 'machine' | 'syscall';
  /** The design file did not load within its budget: every item of it is this ERROR. */
  readonly loadError?: ItemError;
}

/** Seconds a corpus file's replay may take when no --time-limit says otherwise. */
export const REPLAY_BUDGET_SECONDS = 60;
/** The part of --time-limit the corpus replay may use at most (the rest is the items'). */
const CORPUS_SHARE = 0.5;
/** The part of an item's share of --time-limit that goes to generation (the rest to shrinking and saving). */
const GENERATION_SHARE = 0.6;
/** Kept back from --time-limit for writing the report. */
const REPORT_RESERVE_MS = 300;

const labelOf = (ref: DesignRef): string => (ref.kind === 'preset' ? ref.name : visible(ref.name));

/**
 * Design files named with --design, loaded once each in a worker (pool.ts): one that does not load
 * is bad input (exit 2); one whose load never finishes becomes its items' ERROR.
 */
const planDesigns = async (
  specs: readonly string[],
  pool: WorkerPool,
  stallMs: number,
  remainingMs: () => number | undefined,
  role = '',
): Promise<PlannedDesign[]> => {
  const planned = specs.map(
    (spec) => presetDesign(spec) ?? syscallPresetDesign(spec) ?? { file: designFile(spec), spec },
  );
  const files = planned.flatMap((p) => ('file' in p ? [p.file] : []));
  const probes = await pool.run<ProbeRequest, ProbeResult | { error: ItemError; file: string }>(
    files.map((f) => ({ kind: 'probe', spec: f.spec })),
    () => {},
    {
      budgetMs: remainingMs,
      stallMs: () => stallMs,
      onFault: (req, fault) => {
        if (fault.kind === 'usage') throw new UsageError(`${role}${fault.message}`);
        const error = itemError(fault);
        return {
          error: {
            ...error,
            call: 'import',
            ...(fault.kind === 'hung'
              ? {
                  message: `its file did not finish loading in ${stallMs / 1000} s (a top-level loop or await that never ends)`,
                }
              : {}),
          },
          file: req.spec,
        };
      },
    },
  );
  return planned.map((p): PlannedDesign => {
    if (!('file' in p)) return { spec: p.spec, ref: p.ref, level: p.level ?? 'machine' };
    const probe = probes[files.indexOf(p.file)]!;
    if ('ref' in probe) return { spec: probe.spec, ref: probe.ref, level: probe.level ?? 'machine' };
    const name = basename(p.file.path);
    return {
      spec: p.file.spec,
      ref: { kind: 'file', name, path: p.file.path, sha256: p.file.sha256 },
      level: 'machine',
      loadError: probe.error,
    };
  });
};

/** Replay the corpus files of this shard against the designs of this run, in the pool, each within its budget. */
const replayCorpus = async (
  files: readonly string[],
  designs: readonly PlannedDesign[],
  properties: readonly PropertyName[],
  syscallRun: { readonly designs: readonly PlannedDesign[]; readonly properties: readonly string[] },
  pool: WorkerPool,
  baseline: PlannedDesign | undefined,
  budget: { readonly stallMs: number; readonly fileMs: number; readonly deadline?: number },
  onDone: () => void,
): Promise<CorpusResult[]> => {
  if (files.length === 0) return [];
  const { loadJsonFile, decodeCounterexample, problemLine, scenarioOf } = await import('./counterexample.ts');
  const { decodeSyscallCounterexample, isSyscallCounterexampleJson } = await import('./syscall-counterexample.ts');
  type Job =
    | { readonly file: string; readonly skip: CorpusResult }
    | {
        readonly file: string;
        readonly base: Pick<CorpusResult, 'file' | 'design' | 'property'>;
        readonly loadError?: ItemError;
        readonly req: ReplayRequest | SyscallReplayRequest;
      };
  // Every file is read and decoded first (data only): a bad file stops the run before anything runs.
  const jobs: Job[] = files.map((file): Job => {
    const p = loadJsonFile(file);
    const bad = (problem: { where: string; message: string }) =>
      new UsageError(`bad counterexample in the corpus: ${problemLine(visible(file), problem)}`);
    if (p.ok && isSyscallCounterexampleJson(p.json)) {
      const d = decodeSyscallCounterexample(p.json);
      if (!d.ok) throw bad(d.problem);
      const c = d.value;
      const base = { file, design: labelOf(c.design), property: c.property };
      const design = syscallRun.designs.find((x) => sameDesign(c.design, { ref: x.ref }));
      if (!design || !syscallRun.properties.includes(c.property))
        return { file, skip: { ...base, status: 'skipped', durationMs: 0 } };
      return {
        file,
        base,
        req: {
          kind: 'syscall-replay',
          counterexample: c,
          spec: design.spec,
          ...(baseline?.level === 'syscall' ? { baseline: baseline.spec } : {}),
        },
      };
    }
    const d = p.ok ? decodeCounterexample(p.json) : p;
    if (!d.ok) throw bad(d.problem);
    const c = d.value;
    // A preset this version does not have can never replay: say so once, now, rather than skip it on every run.
    if (c.design.kind === 'preset' && !presetDesign(c.design.name))
      throw bad({
        where: 'design.name',
        message: `no preset named '${visible(c.design.name)}' in this version (rename the design in the file, or remove the file)`,
      });
    const design = designs.find((x) => sameDesign(c.design, { ref: x.ref }));
    const base = { file, design: labelOf(c.design), property: c.property };
    if (!design || !properties.includes(c.property))
      return { file, skip: { ...base, status: 'skipped', durationMs: 0 } };
    return {
      file,
      base,
      ...(design.loadError ? { loadError: design.loadError } : {}),
      req: {
        kind: 'replay',
        spec: design.spec,
        property: c.property,
        scenario: scenarioOf(c),
        ...(baseline?.level === 'machine' ? { baseline: baseline.spec } : {}),
      },
    };
  });
  const runnable = jobs.filter((j): j is Extract<Job, { req: unknown }> => 'req' in j && !j.loadError);
  // The corpus may use a share of what is left of --time-limit; the items get the rest.
  const end =
    budget.deadline === undefined
      ? undefined
      : performance.now() + (budget.deadline - performance.now()) * CORPUS_SHARE;
  const byReq = new Map(runnable.map((j) => [j.req, j]));
  const started = new Map<object, number>();
  const replayed = await pool
    .run<ReplayRequest | SyscallReplayRequest, CorpusResult>(
      runnable.map((j) => j.req),
      onDone,
      {
        budgetMs: (req) => {
          started.set(req, performance.now());
          return Math.min(budget.fileMs, end === undefined ? Number.POSITIVE_INFINITY : end - performance.now());
        },
        stallMs: () => budget.stallMs,
        onFault: (req, fault) => ({
          ...byReq.get(req)!.base,
          status: 'error',
          error: itemError(fault),
          durationMs: fault.elapsedMs,
        }),
      },
    )
    .then((rs) =>
      rs.map((r, i) => {
        if ('status' in r) return r;
        const j = runnable[i]!;
        const outcome = r as ReplayOutcome;
        const durationMs = performance.now() - (started.get(j.req) ?? performance.now());
        return outcome.failure
          ? {
              ...j.base,
              status: 'still-failing' as const,
              divergence: outcome.failure,
              rendering: outcome.rendering,
              trace: outcome.trace,
              durationMs,
            }
          : { ...j.base, status: 'fixed' as const, durationMs };
      }),
    );
  const byFile = new Map(runnable.map((j, i) => [j.file, replayed[i]!]));
  return jobs.map((j) => {
    if ('skip' in j) {
      onDone();
      return j.skip;
    }
    if (j.loadError) {
      onDone();
      return { ...j.base, status: 'error', error: j.loadError, durationMs: 0 };
    }
    return byFile.get(j.file)!;
  });
};

export const registerCheck = (program: Command): void => {
  program
    .command('check')
    .description(
      'check designs against the properties: replay the saved corpus, then generate, shrink and save counterexamples',
    )
    .option(
      '--design <name|file>',
      'a preset or a path to a .ts design file; repeatable (default: shadow, ept, passthrough, those of them that exist)',
      collect,
    )
    .option(
      '--property <name>',
      `one of ${PROPERTY_NAMES.join(', ')} (machine level), ${SYSCALL_PROPERTY_NAMES.join(', ')} (system-call level); repeatable (default: all of each design's level)`,
      collect,
    )
    .option(
      '--runs <n>',
      'scenarios per (design, property) (default: 100; unbounded with --time-limit alone)',
      intOption('--runs', 1),
    )
    .option(
      '--time-limit <seconds>',
      'a time budget for the whole run (corpus replay included), shared among its items',
      intOption('--time-limit', 1),
    )
    .option(
      '--step-timeout <seconds>',
      "how long one operation of a design (or a design file's load) may run before it is stopped as that design's ERROR",
      intOption('--step-timeout', 1, 3600),
      DEFAULT_STEP_TIMEOUT_SECONDS,
    )
    .option('--seed <n>', 'the seed (default: from the clock, printed in the report)', intOption('--seed', 0, SEED_MAX))
    .option('--out <dir>', 'where counterexamples are saved', 'counterexamples')
    .option('--no-out', 'do not save counterexamples')
    .option('--corpus <dir>', 'saved counterexamples replayed first', 'counterexamples')
    .option('--no-corpus', 'do not replay saved counterexamples')
    .addOption(new Option('--reporter <r>', 'report format').choices(REPORTERS as string[]).default('text'))
    .option('--output <file>', 'write the report to this file instead of standard output')
    .option(
      '--shard <K/N>',
      'run only the K-th of N deterministic parts of the work (CI machines); default: from CI_NODE_INDEX/CI_NODE_TOTAL (GitLab) or JOB_COMPLETION_INDEX (Kubernetes Indexed Job)',
    )
    .option(
      '--shard-count <n>',
      'the number of shards of a Kubernetes Indexed Job (its completions), whose JOB_COMPLETION_INDEX picks this one (or HYPERPROP_SHARD_COUNT)',
      intOption('--shard-count', 1, 999_999),
    )
    .option('--workers <n>', 'worker threads on this machine', intOption('--workers', 1, 64), 1)
    .option('--no-progress', 'no progress bar even on a terminal')
    .option(
      '--html <dir>',
      'write a self-contained HTML page of every failure (and still-failing saved one) to this folder',
    )
    .option(
      '--network',
      'network scenarios only: 2 to 4 guests with network cards and the outside world (generators/net.ts); default: half the runs of every design with a network',
    )
    .option('--no-network', 'no network scenarios, even for a design with a network')
    .option(
      '--baseline <name|file>',
      'a preset, system-call-level design or design file the designs are built on: a failure counts only where it does not fail the same way at the same step, or earlier',
    )
    .action(async (o: CheckOptions) => {
      const t0 = performance.now();
      // --time-limit counts from the process's start (performance.now()'s origin): every phase is in it.
      const deadline = o.timeLimit === undefined ? undefined : o.timeLimit * 1000 - REPORT_RESERVE_MS;
      const remaining = () => (deadline === undefined ? undefined : deadline - performance.now());
      const stallMs = o.stepTimeout * 1000;
      const shard = resolveShard(o.shard, o.shardCount, process.env)?.shard;
      const properties: PropertyName[] = [];
      const syscallProperties: SyscallPropertyName[] = [];
      for (const p of o.property ?? [...PROPERTY_NAMES, ...SYSCALL_PROPERTY_NAMES]) {
        const known = (PROPERTY_NAMES as readonly string[]).includes(p) || isSyscallProperty(p);
        if (!known)
          throw new UsageError(
            `unknown property '${visible(p)}': properties are ${[...new Set([...PROPERTY_NAMES, ...SYSCALL_PROPERTY_NAMES])].join(', ')}`,
          );
        if ((PROPERTY_NAMES as readonly string[]).includes(p) && !properties.includes(p as PropertyName))
          properties.push(p as PropertyName);
        if (isSyscallProperty(p) && !syscallProperties.includes(p)) syscallProperties.push(p);
      }
      // Where the run writes is checked before it starts.
      if (o.output !== undefined) checkOutputFile(o.output, '--output');
      if (o.out !== false) checkOutputDir(o.out, '--out');
      if (o.html !== undefined) checkOutputDir(o.html, '--html');
      const specs = o.design ?? defaultDesigns();
      // Names and files are checked (nothing loaded yet): an unknown name is bad input at once.
      for (const spec of specs) if (!presetDesign(spec) && !isSyscallPreset(spec)) designFile(spec);
      if (o.baseline !== undefined && !presetDesign(o.baseline) && !isSyscallPreset(o.baseline))
        try {
          designFile(o.baseline);
        } catch (e) {
          throw e instanceof UsageError ? new UsageError(`--baseline: ${e.message}`) : e;
        }
      const seed = o.seed ?? Date.now() % (SEED_MAX + 1);
      const runs = o.runs ?? (o.timeLimit === undefined ? 100 : 1_000_000_000);
      const reporter = o.reporter as Reporter;
      const corpus = o.corpus === false ? [] : inShard(corpusFiles(o.corpus), shard);
      // Threads for the most work this run can have (a design file's level is known once it loads).
      const mostWork = specs.length * Math.max(properties.length, syscallProperties.length);
      const workers = Math.max(1, Math.min(o.workers, Math.max(mostWork, corpus.length, 1)));
      // Every design runs in worker threads that a watchdog can stop; they start now.
      const pool = new WorkerPool(workers);
      const tty = process.stderr.isTTY === true && o.progress;
      const bar = tty
        ? new cliProgress.SingleBar(
            {
              format: 'hyperprop check [{bar}] {value}/{total} {what}',
              stream: process.stderr,
              hideCursor: true,
              clearOnComplete: true,
            },
            cliProgress.Presets.shades_classic,
          )
        : undefined;
      try {
        // Each design's level is its preset's, or what its file exports (loaded in a worker):
        // system-call-level designs (containers, VMs with their own kernel, API translation) run on
        // their level's runner and properties; every other design is a hosted-machine design.
        const planned = await planDesigns(specs, pool, stallMs, remaining);
        const baseline =
          o.baseline === undefined
            ? undefined
            : (await planDesigns([o.baseline], pool, stallMs, remaining, '--baseline: '))[0]!;
        if (baseline?.loadError)
          throw new UsageError(`--baseline ${visible(o.baseline!)}: ${baseline.loadError.message}`);
        const designs = planned.filter((d) => d.level === 'machine');
        const syscallDesigns = planned.filter(
          (d, i) => d.level === 'syscall' && planned.findIndex((x) => x.spec === d.spec) === i,
        );
        const machineItems = designs.length * properties.length;
        if (machineItems + syscallDesigns.length * syscallProperties.length === 0)
          throw new UsageError(
            `no work: ${noWork(
              designs.map((d) => labelOf(d.ref)),
              syscallDesigns.map((d) => labelOf(d.ref)),
              o.property ?? [],
            )}`,
          );
        // A baseline serves the designs of its level: one of another level is bad input.
        const otherLevel = baseline && (baseline.level === 'machine' ? syscallDesigns : designs)[0];
        if (baseline && otherLevel)
          throw new UsageError(
            `--baseline ${labelOf(baseline.ref)} is a ${baseline.level === 'machine' ? 'hosted-machine' : 'system-call-level'} design and ${labelOf(otherLevel.ref)} is not: check the designs of one level against a baseline of that level`,
          );
        const items = inShard(workItems(designs.length, properties), shard);
        const syscallItems = inShard(
          syscallDesigns.flatMap((d, k) =>
            syscallProperties.map((property, p) => ({
              index: machineItems + k * syscallProperties.length + p,
              design: d,
              property,
            })),
          ),
          shard,
        );
        const work = items.length + syscallItems.length;
        bar?.start(corpus.length + work, 0, { what: 'corpus' });
        const corpusResults = await replayCorpus(
          corpus,
          designs,
          properties,
          { designs: syscallDesigns, properties: syscallProperties },
          pool,
          baseline,
          { stallMs, fileMs: REPLAY_BUDGET_SECONDS * 1000, ...(deadline === undefined ? {} : { deadline }) },
          () => bar?.increment(),
        );
        const left = remaining();
        const timeLimitMs =
          left === undefined
            ? undefined
            : Math.max(1, Math.floor((Math.max(0, left) * workers * GENERATION_SHARE) / Math.max(1, work)));
        const options: RunOptions = {
          runs,
          seed,
          ...(timeLimitMs === undefined ? {} : { timeLimitMs }),
          ...(o.out === false ? {} : { out: o.out }),
          ...(o.network === undefined ? {} : { network: o.network }),
          ...(baseline ? { baseline: baseline.spec } : {}),
        };
        const done = (r: ItemResult) => bar?.increment({ what: `${r.design} / ${r.property}` });
        const requests: (CheckRequest | SyscallRequest)[] = [
          ...items.map((item) => ({ spec: designs[item.design]!.spec, item, options })),
          ...syscallItems.map((x) => ({
            kind: 'syscall' as const,
            name: x.design.spec,
            index: x.index,
            property: x.property,
            options,
          })),
        ];
        // Items of a design file that never loaded are that load's ERROR, without running.
        const unloaded = (req: CheckRequest | SyscallRequest) =>
          'kind' in req ? undefined : designs[req.item.design]!.loadError;
        const syscallRef = (spec: string) => syscallDesigns.find((d) => d.spec === spec)!.ref;
        const rowOf = (req: CheckRequest | SyscallRequest) =>
          'kind' in req
            ? {
                index: req.index,
                design: labelOf(syscallRef(req.name)),
                designRef: syscallRef(req.name),
                property: req.property,
              }
            : {
                index: req.item.index,
                design: labelOf(designs[req.item.design]!.ref),
                designRef: designs[req.item.design]!.ref,
                property: req.item.property,
              };
        const runnable = requests.filter((r) => !unloaded(r));
        const ran = await pool.run<CheckRequest | SyscallRequest, ItemResult>(runnable, done, {
          budgetMs: remaining,
          // Designs of both levels run under guard in the workers (their heartbeat: guard.ts).
          stallMs: () => stallMs,
          onFault: (req, fault) => {
            if (fault.kind === 'usage') throw new UsageError(fault.message);
            return {
              ...rowOf(req),
              status: 'error',
              runs: 0,
              seed,
              durationMs: fault.elapsedMs,
              error: itemError(fault),
            };
          },
        });
        const results = requests.map((req) => {
          const e = unloaded(req);
          if (!e) return ran[runnable.indexOf(req)]!;
          const r: ItemResult = { ...rowOf(req), status: 'error', runs: 0, seed, durationMs: 0, error: e };
          done(r);
          return r;
        });
        bar?.stop();
        const report: CheckReport = {
          tool: 'hyperprop',
          version: VERSION,
          seed,
          runs,
          ...(o.timeLimit === undefined ? {} : { timeLimitSeconds: o.timeLimit }),
          ...(shard ? { shard } : {}),
          designs: [...designs.map((d) => d.ref), ...syscallDesigns.map((d) => d.ref)],
          ...(baseline ? { baseline: baseline.ref } : {}),
          properties:
            syscallDesigns.length > 0
              ? [...properties, ...syscallProperties.filter((p) => !properties.includes(p as PropertyName))]
              : properties,
          corpus: corpusResults,
          results,
          summary: summarize(corpusResults, results),
          durationMs: performance.now() - t0,
        };
        if (o.html !== undefined) (await import('./html.ts')).writeCheckPages(o.html, report);
        if (o.html !== undefined) (await import('./html.ts')).writeCheckPages(o.html, report);
        const text = renderReport(report, reporter);
        if (o.output) {
          writeFileSync(o.output, text);
          process.stderr.write(`${summaryTable(report)}\nreport written to ${visible(o.output)}\n`);
        } else {
          process.stdout.write(text);
          if (reporter !== 'text') process.stderr.write(`${summaryTable(report)}\n`);
        }
        process.exitCode = allHeld(report) ? EXIT.OK : EXIT.FAILED;
      } finally {
        bar?.stop();
        await pool.close();
      }
    });
};

/** Why a design/property mix selects nothing, in one line. */
const noWork = (machine: readonly string[], syscall: readonly string[], asked: readonly string[]): string => {
  const parts: string[] = [];
  if (machine.length > 0)
    parts.push(
      `${machine.map(visible).join(', ')} take${machine.length === 1 ? 's' : ''} ${PROPERTY_NAMES.join(', ')}`,
    );
  if (syscall.length > 0)
    parts.push(`${syscall.join(', ')} take${syscall.length === 1 ? 's' : ''} ${SYSCALL_PROPERTY_NAMES.join(', ')}`);
  return `no design of this run has the propert${asked.length === 1 ? 'y' : 'ies'} ${asked.map(visible).join(', ')} (${parts.join('; ')})`;
};
