/**
 * What a generation technique buys, measured on the mutant catalog: for each machine-level mutant
 * that draws the default scenarios, and each seed, the scenarios `check` generates until the
 * first one the mutant fails (its own property, counted only where the correct base passes the
 * same scenario, as `hyperprop mutants` counts), without shrinking. Variants differ only in the
 * scenario options: the history motifs left out or in, and the share of swarm scenarios (Groce et
 * al., ISSTA 2012). For each variant: the median scenarios and the median wall time to detection
 * (generation and checking, mutant and base, as `check` spends them), then what generation costs:
 * microseconds to generate one operation, against what checking one costs.
 *
 *   npm run bench:generation -- [--seeds 20] [--runs 5000] [--variants base,hist50,swarm25,...]
 *     [--mutants a,b] [--json FILE]
 */
import { writeFileSync } from 'node:fs';
import fc from 'fast-check';
import { MOTIF_NAMES, type MotifName, type ScenarioOptions } from '../generators/host.ts';
import { PRESETS } from '../model/designs/presets.ts';
import { MUTANTS } from '../mutants/catalog.ts';
import { checkScenario, distinguishingFailure, scenarioArbitrary } from '../properties/check.ts';
import type { PropertyName } from '../properties/property.ts';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const seeds = Number(arg('seeds') ?? 20);
const runs = Number(arg('runs') ?? 5000);
const OLD_MOTIFS: readonly MotifName[] = ['staleTranslation', 'maskedTick', 'dmaTransfer'];

/** The variants by name: scenario options. */
const VARIANTS: Readonly<Record<string, ScenarioOptions>> = {
  /** The generator before this work: the three old motifs, no swarm. */
  base: { motifs: OLD_MOTIFS, swarm: 0 },
  /** The history motifs added, in every scenario. */
  motifs: { motifs: MOTIF_NAMES, swarm: 0, histories: 1, boundaries: 0 },
  /** ... in none (the old generator), a quarter, a half of the scenarios. */
  hist0: { motifs: MOTIF_NAMES, swarm: 0, histories: 0, boundaries: 0 },
  hist25: { motifs: MOTIF_NAMES, swarm: 0, histories: 0.25, boundaries: 0 },
  hist50: { motifs: MOTIF_NAMES, swarm: 0, histories: 0.5, boundaries: 0 },
  /** Swarm testing on top of the history motifs in half the scenarios. */
  swarm25: { motifs: MOTIF_NAMES, swarm: 0.25, histories: 0.5, boundaries: 0 },
  swarm50: { motifs: MOTIF_NAMES, swarm: 0.5, histories: 0.5, boundaries: 0 },
  swarm100: { motifs: MOTIF_NAMES, swarm: 1, histories: 0.5, boundaries: 0 },
  /** Swarm testing alone, on the generator before this work. */
  baseSwarm50: { motifs: OLD_MOTIFS, swarm: 0.5 },
  /**
   * Issue 20's boundary motifs (capacity, one-instruction windows, warmed caches) in 15%, 25%, 35%
   * of the scenarios, taken from those that draw neither family (histories stay in half).
   */
  bound15: { motifs: MOTIF_NAMES, swarm: 0, histories: 0.5, boundaries: 0.15 },
  bound25: { motifs: MOTIF_NAMES, swarm: 0, histories: 0.5, boundaries: 0.25 },
  bound35: { motifs: MOTIF_NAMES, swarm: 0, histories: 0.5, boundaries: 0.35 },
  /** ... or in 25% taken from the history scenarios (histories in a quarter, step-level alone in half). */
  bound25h: { motifs: MOTIF_NAMES, swarm: 0, histories: 0.25, boundaries: 0.25 },
};
/** The comparison bench/RESULTS.md records: off, the history motifs (the default), swarm testing on top. */
const DEFAULT_VARIANTS = 'base,hist50,swarm25,swarm50,swarm100,baseSwarm50';
const names = (arg('variants') ?? DEFAULT_VARIANTS).split(',');
for (const n of names) if (!VARIANTS[n]) throw new Error(`unknown variant '${n}'`);
const only = arg('mutants')?.split(',');

const mutants = MUTANTS.filter(
  (m) => m.target.level === 'machine' && !m.target.scenarios && (!only || only.includes(m.name)),
);

/** Scenarios to the first distinguishing failure (undefined when none within the budget) and the wall time spent. */
const toDetection = (
  m: (typeof mutants)[number],
  options: ScenarioOptions,
  seed: number,
): { readonly found: number | undefined; readonly ms: number } => {
  if (m.target.level !== 'machine') return { found: undefined, ms: 0 };
  const t = performance.now();
  const design = m.target.design;
  const base = PRESETS[m.base];
  const property = m.property as PropertyName;
  let tried = 0;
  let found: number | undefined;
  fc.check(
    fc.property(scenarioArbitrary(property, options), (s) => {
      tried++;
      if (found !== undefined) return true;
      if (distinguishingFailure(design, property, s, base) === undefined) return true;
      found = tried;
      return false;
    }),
    { seed, numRuns: runs, endOnFailure: true },
  );
  return { found, ms: performance.now() - t };
};

const median = (xs: readonly number[]): number => {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

const results: Record<string, Record<string, (number | null)[]>> = {};
const times: Record<string, Record<string, number[]>> = {};
const t0 = performance.now();
for (const m of mutants) {
  results[m.name] = {};
  times[m.name] = {};
  for (const v of names) {
    const row: (number | null)[] = [];
    const ms: number[] = [];
    for (let seed = 1; seed <= seeds; seed++) {
      const r = toDetection(m, VARIANTS[v]!, seed);
      row.push(r.found ?? null);
      ms.push(r.ms);
    }
    results[m.name]![v] = row;
    times[m.name]![v] = ms;
  }
  process.stderr.write('.');
}
process.stderr.write('\n');

// Unkilled seeds count as the budget (a lower bound), so a median is never flattered by leaving them out.
const med = (xs: readonly (number | null)[]) => median(xs.map((x) => x ?? runs));
const ms = (x: number) => (x >= 1000 ? `${(x / 1000).toFixed(2)} s` : `${x.toFixed(0)} ms`);
const header = ['mutant', ...names.map((v) => `${v} (kills, scenarios, time)`)];
const rows = mutants.map((m) => [
  m.name,
  ...names.map((v) => {
    const xs = results[m.name]![v]!;
    return `${xs.filter((x) => x !== null).length}/${seeds}  ${med(xs)}  ${ms(median(times[m.name]![v]!))}`;
  }),
]);
const summary = [
  'median of medians',
  ...names.map(
    (v) =>
      `${median(mutants.map((m) => med(results[m.name]![v]!)))}  ${ms(median(mutants.map((m) => median(times[m.name]![v]!))))}`,
  ),
];
const total = [
  'scenarios summed over mutants and seeds',
  ...names.map((v) =>
    String(mutants.reduce((a, m) => a + results[m.name]![v]!.reduce<number>((b, x) => b + (x ?? runs), 0), 0)),
  ),
];
const widths = header.map((h, i) => Math.max(h.length, ...[...rows, summary, total].map((r) => r[i]!.length)));
const line = (cells: readonly string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
console.log(line(header));
for (const r of rows) console.log(line(r));
console.log(line(summary));
console.log(line(total));
console.log(
  `\n${mutants.length} mutants x ${seeds} seeds, budget ${runs} scenarios; times are wall time to detection (to the budget where unkilled); ${((performance.now() - t0) / 1000).toFixed(0)} s`,
);

// What generation costs: the same number of scenarios per variant (the isolation property's, two
// guests at least, and the default one's), timed; then checking the same scenarios on the shadow
// preset (its equivalence, the property most mutants fall to) for scale.
const SAMPLE = Number(arg('sample') ?? 2000);
console.log(`\ngeneration cost, ${SAMPLE} scenarios per variant (seed 1):`);
const costHeader = [
  'variant',
  'ops/scenario',
  'generate µs/op',
  'check µs/op (shadow, equivalence)',
  'generation share',
];
const costRows = names.map((v) => {
  const arb = scenarioArbitrary('equivalence', VARIANTS[v]!);
  fc.sample(arb, { numRuns: 50, seed: 2 }); // warm-up
  const g0 = performance.now();
  const sample = fc.sample(arb, { numRuns: SAMPLE, seed: 1 });
  const gen = performance.now() - g0;
  const ops = sample.reduce((a, s) => a + s.ops.length, 0);
  const c0 = performance.now();
  for (const s of sample) checkScenario(PRESETS.shadow!, 'equivalence', s);
  const chk = performance.now() - c0;
  return [
    v,
    (ops / SAMPLE).toFixed(1),
    ((gen * 1000) / ops).toFixed(1),
    ((chk * 1000) / ops).toFixed(1),
    `${((100 * gen) / (gen + chk)).toFixed(1)}%`,
  ];
});
const costWidths = costHeader.map((h, i) => Math.max(h.length, ...costRows.map((r) => r[i]!.length)));
const costLine = (cells: readonly string[]) => cells.map((c, i) => c.padEnd(costWidths[i]!)).join('  ');
console.log(costLine(costHeader));
for (const r of costRows) console.log(costLine(r));
const json = arg('json');
if (json) writeFileSync(json, JSON.stringify({ seeds, runs, variants: VARIANTS, results, times, costRows }, null, 2));
