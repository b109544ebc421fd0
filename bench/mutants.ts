/**
 * The mutant catalog as a benchmark: every mutant for 20 seeds (median runs and time to
 * detection, shrink time, shrunk length against the hand-derived minimum), run in worker threads
 * exactly as `hyperprop mutants --seeds 20 --workers 2` runs it. Prints the table and, with
 * --write, replaces the "Mutants" section of bench/RESULTS.md.
 *
 *   npm run bench:mutants -- [--seeds 20] [--runs 5000] [--workers 2] [--write]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { mutantRow, renderMutantTable } from '../cli/mutants.ts';
import { runInWorkers } from '../cli/pool.ts';
import type { MutantRequest } from '../cli/worker.ts';
import { MUTANTS } from '../mutants/catalog.ts';
import type { MutantOutcome } from '../mutants/run.ts';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const seeds = arg('seeds', 20);
const runs = arg('runs', 5000);
const workers = arg('workers', 2);
const write = process.argv.includes('--write');

const requests: MutantRequest[] = MUTANTS.flatMap((m) =>
  Array.from({ length: seeds }, (_, i) => ({ kind: 'mutant' as const, name: m.name, seed: 1 + i, runs })),
);
const t0 = performance.now();
const outcomes = await runInWorkers<MutantRequest, MutantOutcome>(requests, workers, () => {});
const wall = (performance.now() - t0) / 1000;
const rows = MUTANTS.map((m) =>
  mutantRow(
    m,
    outcomes.filter((o) => o.mutant === m.name),
  ),
);
const table = renderMutantTable(rows);
const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}`;
const command = `npm run bench:mutants -- --seeds ${seeds} --runs ${runs} --workers ${workers}`;
console.log(table);
console.log(`\nwall ${wall.toFixed(1)} s on ${machine}`);

if (write) {
  const section = [
    '## Mutants',
    '',
    `Machine: ${machine}. Command: \`${command}\` (wall ${wall.toFixed(0)} s). Seeds 1..${seeds}; budget ${runs} generated`,
    "sequences per property; each mutant's own property is tried first, then the others; a failure counts only if",
    'the correct base preset passes the same (shrunk) scenario. Times are medians over the seeds that killed it:',
    '`detect` is wall time to the first failing sequence, `shrink` the time spent shrinking after it.',
    '',
    '```',
    table,
    '```',
    '',
  ].join('\n');
  const file = new URL('./RESULTS.md', import.meta.url);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    text = '# Benchmark results\n\n';
  }
  const start = text.indexOf('## Mutants');
  if (start < 0) text = `${text.trimEnd()}\n\n${section}`;
  else {
    const next = text.indexOf('\n## ', start + 1);
    text = text.slice(0, start) + section + (next < 0 ? '' : text.slice(next + 1));
  }
  writeFileSync(file, text);
  console.log('bench/RESULTS.md: Mutants section written');
}
