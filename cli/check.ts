/**
 * `hyperprop check`: replay the regression corpus, then check every (design × property) item of
 * this shard, save what fails, and report. Exit 0 when everything held, 1 when a property failed
 * or a saved counterexample still fails, 2 on bad usage or bad input.
 */
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import cliProgress from 'cli-progress';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { checkScenario } from '../properties/check.ts';
import { PROPERTY_NAMES, type PropertyName } from '../properties/property.ts';
import { SYSCALL_PROPERTY_NAMES, type SyscallPropertyName } from '../properties/syscall/properties.ts';
import { defaultDesigns, type LoadedDesign, loadDesign, sameDesign, UsageError } from './designs.ts';
import { runInWorkers } from './pool.ts';
import { replayTrace } from './replay-render.ts';
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
import { isSyscallDesign, isSyscallProperty, runSyscallItem } from './syscall.ts';
import { PACKAGE_VERSION } from './version.ts';
import { type ItemResult, inShard, type RunOptions, runItem, workItems } from './work.ts';
import type { WorkerRequest } from './worker.ts';

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

/** The corpus's counterexample files: `*.json` in the folder and its subfolders, but not schema.json. */
export const corpusFiles = (dir: string): string[] => {
  if (!existsSync(dir)) return [];
  if (!statSync(dir).isDirectory()) throw new UsageError(`corpus ${dir} is not a folder`);
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
    )) {
      if (e.name.startsWith('.')) continue;
      const p = join(d, e.name);
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
  html?: string;
}

/** Replay the corpus files of this shard against the designs of this run. */
const replayCorpus = async (
  files: readonly string[],
  designs: readonly LoadedDesign[],
  properties: readonly PropertyName[],
  onDone: () => void,
  syscallRun: { readonly designs: readonly string[]; readonly properties: readonly string[] },
): Promise<CorpusResult[]> => {
  if (files.length === 0) return [];
  const { loadCounterexample, problemLine, scenarioOf } = await import('./counterexample.ts');
  const { replaySyscallCorpus } = await import('./syscall.ts');
  const syscall = await replaySyscallCorpus(files, syscallRun, onDone);
  const loaded = files
    .filter((file) => !syscall.files.includes(file))
    .map((file) => {
      const d = loadCounterexample(file);
      if (!d.ok) throw new UsageError(`bad counterexample in the corpus: ${problemLine(file, d.problem)}`);
      return { file, c: d.value };
    });
  const machine = loaded.map(({ file, c }): CorpusResult => {
    const t0 = performance.now();
    const design = designs.find((d) => sameDesign(c.design, d));
    const base = { file, design: c.design.name, property: c.property };
    if (!design || !properties.includes(c.property)) {
      onDone();
      return { ...base, status: 'skipped', durationMs: 0 };
    }
    const scenario = scenarioOf(c);
    let failure: ReturnType<typeof checkScenario>;
    try {
      failure = checkScenario(design.design, c.property, scenario);
    } catch (e) {
      throw new UsageError(
        `${file}: cannot replay on ${design.design.name}: ${e instanceof Error ? e.message : String(e)}`,
      );
    }
    onDone();
    return failure
      ? {
          ...base,
          status: 'still-failing',
          divergence: failure,
          ...replayTrace(design.design, scenario, failure, c.property),
          durationMs: performance.now() - t0,
        }
      : { ...base, status: 'fixed', durationMs: performance.now() - t0 };
  });
  const byFile = new Map([...machine, ...syscall.results].map((r) => [r.file, r]));
  return files.map((f) => byFile.get(f)!);
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
      'a time budget for the whole run, shared among its items',
      intOption('--time-limit', 1),
    )
    .option(
      '--seed <n>',
      'the seed (default: from the clock, printed in the report)',
      intOption('--seed', 0, 2 ** 31 - 1),
    )
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
      'network scenarios: 2 to 4 guests with network cards and the outside world (generators/net.ts)',
    )
    .action(async (o: CheckOptions) => {
      const t0 = performance.now();
      const shard = resolveShard(o.shard, o.shardCount, process.env)?.shard;
      const properties: PropertyName[] = [];
      const syscallProperties: SyscallPropertyName[] = [];
      for (const p of o.property ?? [...PROPERTY_NAMES, ...SYSCALL_PROPERTY_NAMES]) {
        const known = (PROPERTY_NAMES as readonly string[]).includes(p) || isSyscallProperty(p);
        if (!known)
          throw new UsageError(
            `unknown property '${p}': properties are ${[...new Set([...PROPERTY_NAMES, ...SYSCALL_PROPERTY_NAMES])].join(', ')}`,
          );
        if ((PROPERTY_NAMES as readonly string[]).includes(p) && !properties.includes(p as PropertyName))
          properties.push(p as PropertyName);
        if (isSyscallProperty(p) && !syscallProperties.includes(p)) syscallProperties.push(p);
      }
      const specs = o.design ?? defaultDesigns();
      // System-call-level designs (containers, VMs with their own kernel, API translation) run on
      // their level's runner; every other design is a hosted-machine design.
      const syscallSpecs = [...new Set(specs.filter(isSyscallDesign))];
      const designs: LoadedDesign[] = [];
      for (const spec of specs) if (!isSyscallDesign(spec)) designs.push(await loadDesign(spec));
      const seed = o.seed ?? Date.now() % 2 ** 31;
      const runs = o.runs ?? (o.timeLimit === undefined ? 100 : 1_000_000_000);
      const reporter = o.reporter as Reporter;

      const corpus = o.corpus === false ? [] : inShard(corpusFiles(o.corpus), shard);
      const items = inShard(workItems(designs.length, properties), shard);
      const machineItems = designs.length * properties.length;
      const syscallItems = inShard(
        syscallSpecs.flatMap((name, d) =>
          syscallProperties.map((property, p) => ({
            index: machineItems + d * syscallProperties.length + p,
            name,
            property,
          })),
        ),
        shard,
      );
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
      bar?.start(corpus.length + items.length + syscallItems.length, 0, { what: 'corpus' });
      try {
        const corpusResults = await replayCorpus(corpus, designs, properties, () => bar?.increment(), {
          designs: syscallSpecs,
          properties: syscallProperties,
        });
        const workers = Math.min(o.workers, Math.max(1, items.length + syscallItems.length));
        const timeLimitMs =
          o.timeLimit === undefined
            ? undefined
            : Math.max(1, Math.floor((o.timeLimit * 1000 * workers) / Math.max(1, items.length + syscallItems.length)));
        const options: RunOptions = {
          runs,
          seed,
          ...(timeLimitMs === undefined ? {} : { timeLimitMs }),
          ...(o.out === false ? {} : { out: o.out }),
          ...(o.network ? { network: true } : {}),
        };
        const done = (r: ItemResult) => bar?.increment({ what: `${r.design} / ${r.property}` });
        let results: ItemResult[];
        if (workers > 1) {
          results = await runInWorkers<WorkerRequest, ItemResult>(
            [
              ...items.map((item) => ({ spec: designs[item.design]!.spec, item, options })),
              ...syscallItems.map((x) => ({ kind: 'syscall' as const, ...x, options })),
            ],
            workers,
            done,
          );
        } else {
          results = [];
          for (const item of items) {
            bar?.update({ what: `${designs[item.design]!.design.name} / ${item.property}` });
            const r = await runItem(designs[item.design]!, item, options);
            results.push(r);
            done(r);
          }
          for (const x of syscallItems) {
            bar?.update({ what: `${x.name} / ${x.property}` });
            const r = await runSyscallItem(x.name, x.property, x.index, options);
            results.push(r);
            done(r);
          }
        }
        bar?.stop();
        const report: CheckReport = {
          tool: 'hyperprop',
          version: VERSION,
          seed,
          runs,
          ...(o.timeLimit === undefined ? {} : { timeLimitSeconds: o.timeLimit }),
          ...(shard ? { shard } : {}),
          designs: [...designs.map((d) => d.ref), ...syscallSpecs.map((name) => ({ kind: 'preset' as const, name }))],
          properties:
            syscallSpecs.length > 0
              ? [...properties, ...syscallProperties.filter((p) => !properties.includes(p as PropertyName))]
              : properties,
          corpus: corpusResults,
          results,
          summary: summarize(corpusResults, results),
          durationMs: performance.now() - t0,
        };
        if (o.html !== undefined) (await import('./html.ts')).writeCheckPages(o.html, report);
        const text = renderReport(report, reporter);
        if (o.output) {
          writeFileSync(o.output, text);
          process.stderr.write(`${summaryTable(report)}\nreport written to ${o.output}\n`);
        } else {
          process.stdout.write(text);
          if (reporter !== 'text') process.stderr.write(`${summaryTable(report)}\n`);
        }
        process.exitCode = allHeld(report) ? EXIT.OK : EXIT.FAILED;
      } finally {
        bar?.stop();
      }
    });
};
