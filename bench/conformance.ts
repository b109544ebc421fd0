/**
 * Benchmark of conformance throughput: generated sequences per second end to end (generation,
 * kernel building, QEMU, checking against the reference), and what each stage costs, under the
 * accelerator asked for (TCG by default, the one every machine has).
 *
 *   npm run bench:conformance [-- --runs 10000 --batch 1000 --accel tcg]
 */
import {
  buildKernel,
  checkSequence,
  qemuMissingReason,
  runCampaign,
  runKernel,
  sampleSequences,
} from '../conformance/index.ts';
import type { AccelRequest } from '../conformance/runner.ts';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
};
const runs = Number(arg('runs', '10000'));
const batch = Number(arg('batch', '1000'));
const accel = arg('accel', 'tcg') as AccelRequest;

const missing = qemuMissingReason();
if (missing) {
  console.log(`bench:conformance skipped: ${missing}`);
  process.exit(0);
}

// Stages, on one batch.
let t = performance.now();
const sample = sampleSequences(1, batch);
const gen = performance.now() - t;
t = performance.now();
const kernel = buildKernel(sample);
const build = performance.now() - t;
const boot = await runKernel(kernel, { accel });
t = performance.now();
for (const real of boot.sequences)
  checkSequence(sample[real.index]!, real, kernel.placements[real.index]!, kernel.observed, undefined, boot.accel);
const check = performance.now() - t;
const per = (ms: number) => `${((ms / batch) * 1000).toFixed(0)} µs/sequence`;
console.log(
  `stages (${batch} sequences, ${boot.accel}): generate ${per(gen)}, build ${per(build)}, QEMU ${per(boot.wallMs)} (${(batch / (boot.wallMs / 1000)).toFixed(0)} seq/s in the guest incl. boot), check ${per(check)}`,
);

// End to end.
const r = await runCampaign(
  (i) => {
    const n = Math.min(batch, runs - i * batch);
    return n > 0 ? sampleSequences(20_251_125 + i, n) : undefined;
  },
  { accel },
);
const s = r.stats;
console.log(
  `campaign: ${s.sequences} sequences (${s.operations} operations) on ${s.accel} in ${(s.wallMs / 1000).toFixed(2)} s: ` +
    `${(s.sequences / (s.wallMs / 1000)).toFixed(0)} sequences/s; ${s.agreed} agreed, ${s.disagreements} disagreements, ` +
    `${s.crashes} crashes, ${s.guardStops} guard stops, ${s.boots} boots`,
);
