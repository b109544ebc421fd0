/**
 * The network benchmark (issue 12).
 *
 *   npm run bench:network                          # throughput per design, then time-to-detect per mutant
 *   npm run bench:network -- --sequences 10000     # the long run: N sequences per network design, every property
 *   options: --seed S (default 1), --throughput N (sequences per design, default 300), --seeds K (detection
 *            seeds, default 5), --budget B (detection cap per seed, default 3000), --designs ept,vmdq,
 *            --motifs capacity|none (the network motifs biased scenarios draw; default every one)
 *
 * Throughput: generated network scenarios (2 to 4 guests and the outside world, network mixed with
 * memory, paging and interrupt operations) run through every property; frames checked per second
 * (transmits served plus frames from the outside world), and copies by software per frame
 * delivered (the efficiency measure). Time-to-detect: scenarios and milliseconds until a mutant's
 * property first fails (no shrinking), with biased generation and with uniform MACs, frames and
 * addresses; a seed that does not catch it within the budget counts as the budget ("≥").
 */
import fc from 'fast-check';
import type { MotifName } from '../generators/host.ts';
import { arbNetScenario } from '../generators/net.ts';
import { PRESETS } from '../model/designs/presets.ts';
import type { Design } from '../model/index.ts';
import { NETWORK_MUTANTS } from '../mutants/network.ts';
import { PROPERTIES } from '../properties/check.ts';
import { copiesPerFrame } from '../properties/network/efficiency.ts';
import type { PropertyName } from '../properties/property.ts';
import { runScenario, type Trace } from '../properties/trace.ts';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const num = (name: string, fallback: number) => Number(arg(name) ?? fallback);
const seed = num('seed', 1);
const designs = (arg('designs') ?? 'ept,vmdq,passthrough,xen-pv').split(',');
const motifArg = arg('motifs');
const motifs: readonly MotifName[] | undefined =
  motifArg === undefined ? undefined : motifArg === 'none' ? [] : (motifArg.split(',') as MotifName[]);

const now = () => Number(process.hrtime.bigint()) / 1e6;
const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Frames a run put on the network: transmits served and frames from the outside world. */
const framesOf = (t: Trace) =>
  t.steps.reduce(
    (n, s) =>
      n +
      (s.op.kind === 'frameIn' ? 1 : 0) +
      ((s.after.net?.nics[s.guest]?.txCount ?? 0) - (s.before.net?.nics[s.guest]?.txCount ?? 0)),
    0,
  );

const NETWORK_OPS = new Set(['in', 'out', 'frameIn']);

/** Run `n` generated sequences through every property; stop at the first failure. */
const everyProperty = (design: Design, n: number) => {
  const traces: Trace[] = [];
  let frames = 0;
  let ops = 0;
  let netOps = 0;
  let guests = 0;
  let failure: string | undefined;
  const t0 = now();
  const r = fc.check(
    fc.property(arbNetScenario(), (s) => {
      const t = runScenario(design, s);
      frames += framesOf(t);
      ops += s.ops.length;
      netOps += s.ops.filter((o) => NETWORK_OPS.has(o.op.kind)).length;
      guests += s.guests.length;
      if (traces.length < 2000) traces.push(t);
      for (const name of Object.keys(PROPERTIES) as PropertyName[]) {
        const f = PROPERTIES[name].check(design, s, t);
        if (f) {
          failure = `${name}: ${f.message}`;
          return false;
        }
      }
      return true;
    }),
    { numRuns: n, seed, endOnFailure: true },
  );
  const ms = now() - t0;
  return { sequences: r.numRuns, failure, ms, frames, ops, netOps, guests, copiesPerFrame: copiesPerFrame(traces) };
};

const sequences = arg('sequences');
if (sequences !== undefined) {
  const n = Number(sequences);
  console.log(`${n} generated network sequences per design, every property on each, seed ${seed}`);
  for (const name of designs) {
    const d = PRESETS[name]!;
    const r = everyProperty(d, n);
    console.log(
      `${name.padEnd(12)} ${String(d.axes.net).padEnd(10)} ${r.failure ? `FAILED after ${r.sequences}: ${r.failure}` : `passed ${r.sequences}`}; ${r.ops} ops (${((100 * r.netOps) / r.ops).toFixed(0)}% network), ${(r.guests / r.sequences).toFixed(2)} guests on average, ${r.frames} frames, ${(r.ms / 1000).toFixed(1)} s`,
    );
  }
} else {
  const n = num('throughput', 300);
  console.log(`throughput: ${n} generated network sequences per design through every property, seed ${seed}`);
  for (const name of designs) {
    const d = PRESETS[name]!;
    const r = everyProperty(d, n);
    console.log(
      `${name.padEnd(12)} ${String(d.axes.net).padEnd(10)} ${(r.frames / (r.ms / 1000)).toFixed(0).padStart(6)} frames/s  ${(r.sequences / (r.ms / 1000)).toFixed(1).padStart(6)} sequences/s  copies per frame delivered ${r.copiesPerFrame.toFixed(2)}${r.failure ? `  FAILED: ${r.failure}` : ''}`,
    );
  }
  const seeds = num('seeds', 5);
  const budget = num('budget', 3000);
  console.log(`\ntime to detect: seeds ${seed}..${seed + seeds - 1}, budget ${budget} scenarios, no shrinking`);
  for (const m of NETWORK_MUTANTS) {
    const design = (m.target as { design: Design }).design;
    const prop = PROPERTIES[m.property as PropertyName];
    const cells: string[] = [];
    for (const values of ['biased', 'uniform'] as const) {
      const runs: number[] = [];
      const times: number[] = [];
      let caught = 0;
      for (let s = seed; s < seed + seeds; s++) {
        const t0 = now();
        const r = fc.check(
          fc.property(
            arbNetScenario({ values, ...(motifs ? { motifs } : {}) }),
            (sc) => prop.check(design, sc, runScenario(design, sc)) === undefined,
          ),
          { numRuns: budget, seed: s, endOnFailure: true },
        );
        times.push(now() - t0);
        if (r.failed) caught++;
        runs.push(r.failed ? r.numRuns : budget);
      }
      const found = caught > seeds / 2;
      cells.push(
        `${values} ${caught}/${seeds} caught, median ${found ? median(runs) : `≥${budget}`} runs, ${found ? median(times).toFixed(0) : `≥${median(times).toFixed(0)}`} ms`,
      );
    }
    console.log(`${m.name.padEnd(34)} ${m.property.padEnd(17)} ${cells.join(' | ')}`);
  }
}
