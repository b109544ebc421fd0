/**
 * `hyperprop mutants`: run the catalog's mutants (or those named) against the properties, each
 * for one or more seeds, and print what caught each, how fast and how small. Exit 1 when a mutant
 * survives any seed, 2 on bad usage.
 */
import { writeFileSync } from 'node:fs';
import cliProgress from 'cli-progress';
import { type Command, Option } from 'commander';
import { MUTANTS } from '../mutants/catalog.ts';
import type { Mutant } from '../mutants/mutant.ts';
import { type MutantOutcome, runMutant } from '../mutants/run.ts';
import { UNSEEN, UNSEEN2 } from '../mutants/unseen-catalog.ts';
import { EXIT, intOption } from './check.ts';
import { UsageError } from './designs.ts';
import { visible } from './escape.ts';
import { checkOutputFile } from './output.ts';
import { runInWorkers } from './pool.ts';
import type { MutantRequest } from './worker.ts';

interface MutantsOptions {
  runs: number;
  seed: number;
  seeds: number;
  workers: number;
  reporter: 'text' | 'json';
  output?: string;
  verbose: boolean;
  list: boolean;
  unseen: boolean;
  set?: MutantSetName;
  progress: boolean;
}

/** The mutant sets the command runs: the catalog and the frozen unseen sets. */
export type MutantSetName = 'catalog' | 'unseen' | 'unseen2';

/** Each set's mutants. */
const SETS: Readonly<Record<MutantSetName, readonly Mutant[]>> = { catalog: MUTANTS, unseen: UNSEEN, unseen2: UNSEEN2 };

/** How to list each set. */
const LISTING: Readonly<Record<MutantSetName, string>> = {
  catalog: '`hyperprop mutants --list` lists the catalog',
  unseen: '`hyperprop mutants --unseen --list` lists the unseen set',
  unseen2: '`hyperprop mutants --set unseen2 --list` lists the second unseen set',
};

/** One mutant's row: its outcomes over the seeds, summarized. */
export interface MutantRow {
  readonly mutant: string;
  readonly base: string;
  readonly area: string;
  readonly bugClass: string;
  readonly reference: string;
  readonly property: string;
  readonly minimalLength: number;
  readonly seeds: number;
  readonly killed: number;
  /** Properties that caught it, with how many seeds each. */
  readonly caughtBy: Readonly<Record<string, number>>;
  readonly medianRuns: number;
  readonly medianDetectMs: number;
  readonly medianShrinkMs: number;
  readonly shrunkLengths: readonly number[];
  /** Seeds whose shrunk counterexample is as short as the hand-derived minimum. */
  readonly atMinimum: number;
  readonly outcomes: readonly MutantOutcome[];
}

const median = (xs: readonly number[]): number => {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** Summarize one mutant's outcomes. */
export const mutantRow = (m: Mutant, outcomes: readonly MutantOutcome[]): MutantRow => {
  const kills = outcomes.filter((o) => o.killed);
  const caughtBy: Record<string, number> = {};
  for (const o of kills) caughtBy[o.caughtBy!] = (caughtBy[o.caughtBy!] ?? 0) + 1;
  const lengths = kills.map((o) => o.shrunkLength).filter((x): x is number => x !== undefined);
  return {
    mutant: m.name,
    base: m.base,
    area: m.area,
    bugClass: m.bugClass,
    reference: m.reference,
    property: m.property,
    minimalLength: m.minimalLength,
    seeds: outcomes.length,
    killed: kills.length,
    caughtBy,
    medianRuns: median(kills.map((o) => o.runs)),
    medianDetectMs: median(kills.map((o) => o.detectMs)),
    medianShrinkMs: median(kills.map((o) => o.shrinkMs ?? 0)),
    shrunkLengths: lengths,
    atMinimum: lengths.filter((l) => l <= m.minimalLength).length,
    outcomes,
  };
};

const ms = (x: number) => (Number.isNaN(x) ? '-' : x < 1000 ? `${x.toFixed(0)} ms` : `${(x / 1000).toFixed(2)} s`);

/** The text table (one row per mutant) and its summary line. */
export const renderMutantTable = (rows: readonly MutantRow[]): string => {
  const head = ['mutant', 'area', 'caught by', 'killed', 'runs', 'detect', 'shrink', 'shrunk', 'hand min', 'bug class'];
  const body = rows.map((r) => {
    const lengths =
      r.shrunkLengths.length === 0 ? '-' : `${Math.min(...r.shrunkLengths)}..${Math.max(...r.shrunkLengths)}`;
    const shrunk =
      r.shrunkLengths.length > 0 && Math.min(...r.shrunkLengths) === Math.max(...r.shrunkLengths)
        ? String(r.shrunkLengths[0])
        : lengths;
    return [
      r.mutant,
      r.area,
      Object.keys(r.caughtBy).join(', ') || '-',
      `${r.killed}/${r.seeds}`,
      Number.isNaN(r.medianRuns) ? '-' : String(r.medianRuns),
      ms(r.medianDetectMs),
      ms(r.medianShrinkMs),
      shrunk,
      String(r.minimalLength),
      r.bugClass,
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  const total = rows.reduce((a, r) => a + r.seeds, 0);
  const killed = rows.reduce((a, r) => a + r.killed, 0);
  const atMin = rows.reduce((a, r) => a + r.atMinimum, 0);
  const lengths = rows.reduce((a, r) => a + r.shrunkLengths.length, 0);
  const survivors = rows.filter((r) => r.killed < r.seeds).map((r) => r.mutant);
  const summary =
    `${rows.length} mutant(s) x ${rows[0]?.seeds ?? 0} seed(s): ${killed}/${total} runs killed` +
    `${survivors.length ? ` (SURVIVED: ${survivors.join(', ')})` : ''}; ` +
    `${atMin}/${lengths} shrunk counterexamples at the hand-derived minimum (${lengths ? ((100 * atMin) / lengths).toFixed(1) : '-'}%); ` +
    `median of the mutants' median detection times ${ms(median(rows.map((r) => r.medianDetectMs)))}`;
  return [line(head), ...body.map(line), '', summary].join('\n');
};

export const registerMutants = (program: Command): void => {
  program
    .command('mutants')
    .description(
      'run the mutant catalog (or the named mutants) against the properties: what caught each, how fast, how small',
    )
    .argument('[names...]', 'mutants to run (default: the whole set)')
    .option('--runs <n>', 'generated sequences per property and seed (the budget)', intOption('--runs', 1), 5000)
    .option('--seed <n>', 'the first seed', intOption('--seed', 0, 2 ** 31 - 1), 1)
    .option('--seeds <k>', 'seeds per mutant: seed, seed+1, ...', intOption('--seeds', 1, 10_000), 1)
    .option('--workers <n>', 'worker threads on this machine', intOption('--workers', 1, 64), 1)
    .addOption(new Option('--reporter <r>', 'report format').choices(['text', 'json']).default('text'))
    .option('--output <file>', 'write the report to this file instead of standard output')
    .option('--verbose', "print each mutant's first shrunk counterexample", false)
    .option('--list', 'list the set and exit', false)
    .option(
      '--unseen',
      'the frozen unseen set (mutants/unseen/: flaws written without reading the generators) instead of the catalog',
      false,
    )
    .addOption(
      new Option(
        '--set <set>',
        'the set to run: the catalog, the frozen unseen set (mutants/unseen/) or the second one (mutants/unseen2/)',
      ).choices(['catalog', 'unseen', 'unseen2']),
    )
    .option('--no-progress', 'no progress bar even on a terminal')
    .action(async (names: string[], o: MutantsOptions) => {
      if (o.unseen && o.set !== undefined && o.set !== 'unseen')
        throw new UsageError(`--unseen is --set unseen: it cannot be combined with --set ${o.set}`);
      const setName: MutantSetName = o.set ?? (o.unseen ? 'unseen' : 'catalog');
      const set = SETS[setName];
      const listing = LISTING[setName];
      const chosen: Mutant[] = [];
      for (const n of names) {
        const m = set.find((x) => x.name === n);
        if (!m) throw new UsageError(`unknown mutant '${visible(n)}': ${listing}`);
        if (!chosen.includes(m)) chosen.push(m);
      }
      const mutants = chosen.length > 0 ? chosen : [...set];
      if (o.output !== undefined) checkOutputFile(o.output, '--output');
      if (o.list) {
        const w = Math.max(...mutants.map((m) => m.name.length)) + 2;
        const lines = mutants.map(
          (m) => `${m.name.padEnd(w)}${m.area.padEnd(16)}${m.property.padEnd(18)}${m.bugClass}  [${m.reference}]`,
        );
        process.stdout.write(`${lines.join('\n')}\n`);
        return;
      }
      const requests: MutantRequest[] = mutants.flatMap((m) =>
        Array.from({ length: o.seeds }, (_, i) => ({
          kind: 'mutant' as const,
          name: m.name,
          seed: o.seed + i,
          runs: o.runs,
          ...(setName === 'catalog' ? {} : { set: setName }),
        })),
      );
      const tty = process.stderr.isTTY === true && o.progress;
      const bar = tty
        ? new cliProgress.SingleBar(
            {
              format: 'hyperprop mutants [{bar}] {value}/{total} {what}',
              stream: process.stderr,
              clearOnComplete: true,
            },
            cliProgress.Presets.shades_classic,
          )
        : undefined;
      bar?.start(requests.length, 0, { what: '' });
      const done = (r: MutantOutcome) => bar?.increment({ what: `${r.mutant} seed ${r.seed}` });
      let outcomes: MutantOutcome[];
      try {
        if (o.workers > 1) outcomes = await runInWorkers<MutantRequest, MutantOutcome>(requests, o.workers, done);
        else
          outcomes = requests.map((r) => {
            const out = runMutant(mutants.find((m) => m.name === r.name)!, {
              seed: r.seed,
              runs: r.runs,
              now: () => performance.now(),
            });
            done(out);
            return out;
          });
      } finally {
        bar?.stop();
      }
      const rows = mutants.map((m) =>
        mutantRow(
          m,
          outcomes.filter((x) => x.mutant === m.name),
        ),
      );
      let text: string;
      if (o.reporter === 'json')
        text = `${JSON.stringify(
          {
            tool: 'hyperprop',
            set: setName,
            runs: o.runs,
            seed: o.seed,
            seeds: o.seeds,
            mutants: rows,
          },
          null,
          2,
        )}\n`;
      else {
        text = `${renderMutantTable(rows)}\n`;
        if (o.verbose)
          for (const r of rows) {
            const first = r.outcomes.find((x) => x.killed);
            text += `\n== ${r.mutant} (seed ${first?.seed ?? '-'}): ${first?.message ?? 'survived'}\n${first?.rendering ?? ''}\n`;
          }
      }
      if (o.output) {
        writeFileSync(o.output, text);
        process.stderr.write(`report written to ${o.output}\n`);
      } else process.stdout.write(text);
      process.exitCode = rows.every((r) => r.killed === r.seeds) ? EXIT.OK : EXIT.FAILED;
    });
};
