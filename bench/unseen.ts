/**
 * The unseen mutants' kill rate as a table (issue 20, "Measuring generality honestly"): reads the JSON
 * reports of `hyperprop mutants --unseen` at two budgets and prints, per mutant, the kills over the
 * seeds, what caught it, the median scenarios to detection and the shrunk lengths against the hand
 * minimum; then the kills per seed. With --write SECTION it replaces (or appends) that section of
 * bench/RESULTS.md, keeping the commands that made the reports.
 *
 *   nice node bin/hyperprop.js mutants --unseen --runs 100 --seed 1 --seeds 10 --workers 2 --reporter json --output u100.json
 *   nice node bin/hyperprop.js mutants --unseen --runs 2000 --seed 1 --seeds 10 --workers 2 --reporter json --output u2000.json
 *   npx tsx bench/unseen.ts u100.json u2000.json [--write "Unseen mutants: before"] [--note FILE]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { MutantRow } from '../cli/mutants.ts';

interface Report {
  readonly set: string;
  readonly runs: number;
  readonly seed: number;
  readonly seeds: number;
  readonly mutants: readonly MutantRow[];
}

const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const files = args.filter((a, i) => !a.startsWith('--') && !args[i - 1]?.startsWith('--'));
if (files.length === 0) {
  process.stderr.write('usage: tsx bench/unseen.ts REPORT.json... [--write SECTION] [--note FILE]\n');
  process.exit(2);
}
const reports: Report[] = files.map((f) => JSON.parse(readFileSync(f, 'utf8')) as Report);
for (const [i, r] of reports.entries())
  if (r.set !== 'unseen' && r.set !== 'unseen2')
    throw new Error(`${files[i]}: not a report of \`hyperprop mutants --unseen\` or \`--set unseen2\``);

const names = reports[0]!.mutants.map((m) => m.mutant);
const cell = (r: Report, name: string): string => {
  const m = r.mutants.find((x) => x.mutant === name);
  if (!m) return '| - | - | - | - ';
  const caught = Object.entries(m.caughtBy)
    .map(([p, n]) => (Object.keys(m.caughtBy).length > 1 ? `${p} ${n}` : p))
    .join(', ');
  const lengths = [...new Set(m.shrunkLengths)].sort((a, b) => a - b).join(', ');
  return `| ${m.killed}/${m.seeds} | ${caught || '-'} | ${m.killed ? m.medianRuns : '-'} | ${lengths || '-'} `;
};

const header = [
  `| mutant | base | area | property | hand min | ${reports.map((r) => `killed (${r.runs}) | caught by | median runs | shrunk`).join(' | ')} |`,
  `|---|---|---|---|---|${reports.map(() => '---|---|---|---|').join('')}`,
];
const rows = names.map((name) => {
  const m = reports[0]!.mutants.find((x) => x.mutant === name)!;
  return `| ${name} | ${m.base} | ${m.area} | ${m.property} | ${m.minimalLength} ${reports.map((r) => cell(r, name)).join('')}|`;
});

/** Mutants killed per seed, for one report. */
const perSeed = (r: Report): number[] =>
  Array.from(
    { length: r.seeds },
    (_, i) => r.mutants.filter((m) => m.outcomes.some((o) => o.seed === r.seed + i && o.killed)).length,
  );
const summary = reports.map((r) => {
  const n = r.mutants.length;
  const seeds = perSeed(r);
  const kills = r.mutants.reduce((a, m) => a + m.killed, 0);
  const lengths = r.mutants.reduce((a, m) => a + m.shrunkLengths.length, 0);
  const atMin = r.mutants.reduce((a, m) => a + m.atMinimum, 0);
  const never = r.mutants.filter((m) => m.killed === 0).map((m) => m.mutant);
  return [
    `- budget ${r.runs} scenarios per property, seeds ${r.seed}..${r.seed + r.seeds - 1}: ${kills}/${n * r.seeds} runs killed (${((100 * kills) / (n * r.seeds)).toFixed(1)}%);`,
    `  mutants killed per seed ${seeds.join(', ')} of ${n} (min ${Math.min(...seeds)}, ${((100 * Math.min(...seeds)) / n).toFixed(0)}%; max ${Math.max(...seeds)});`,
    `  ${atMin}/${lengths} shrunk counterexamples at the hand-derived minimum; never killed: ${never.join(', ') || 'none'}.`,
  ].join('\n');
});

const table = [...header, ...rows, '', ...summary].join('\n');
console.log(table);

const section = flag('write');
if (section) {
  const note = flag('note');
  const body = [`## ${section}`, '', ...(note ? [readFileSync(note, 'utf8').trimEnd(), ''] : []), table, ''].join('\n');
  const file = new URL('./RESULTS.md', import.meta.url);
  let text = readFileSync(file, 'utf8');
  const start = text.indexOf(`## ${section}\n`);
  if (start < 0) text = `${text.trimEnd()}\n\n${body}`;
  else {
    const next = text.indexOf('\n## ', start + 1);
    text = text.slice(0, start) + body + (next < 0 ? '' : text.slice(next + 1));
  }
  writeFileSync(file, text);
  console.log(`bench/RESULTS.md: "${section}" section written`);
}
