/**
 * Direct paging (xen-pv): equivalence in guest kernel mode, and the hypercalls the PV kernel makes.
 *
 * Kernel-mode scenarios are the default generator's (1-4 guests, biased values, motifs, devices)
 * with every guest booted at CPL 0 and IRET left out, so no guest ever reaches user mode (INT n and
 * exceptions from CPL 0 stay at CPL 0): where xen-pv's user-mode limits (the Red Pill, page tables
 * read by user code) cannot arise. Equivalence must hold on every one.
 *
 *   npm run bench:direct [-- --runs 10000 --seed 1 --tally 2000]
 */
import fc from 'fast-check';
import { arbScenario, check, formatHypercall, hypercallLog, runScenario, type Scenario, xenPv } from '../index.ts';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const RUNS = arg('runs', 10_000);
const SEED = arg('seed', 1);
const TALLY = arg('tally', 2000);

/** The default scenarios, in guest kernel mode only. */
export const kernelModeScenarios = (): fc.Arbitrary<Scenario> =>
  arbScenario()
    .map((s) => ({
      ...s,
      guests: s.guests.map((g) => ({ ...g, cpl: 0 as const })),
      ops: s.ops.filter((o) => o.op.kind !== 'iret'),
    }))
    .filter((s) => s.ops.length > 0);

const t0 = process.hrtime.bigint();
const [report] = check(xenPv, {
  properties: ['equivalence'],
  runs: RUNS,
  seed: SEED,
  scenarios: kernelModeScenarios(),
});
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
console.log(
  `xen-pv, equivalence in guest kernel mode: ${report!.status} over ${report!.runs} scenarios (seed ${SEED}, ${seconds.toFixed(1)} s)`,
);
if (report!.counterexample) console.log(report!.counterexample.rendering);

// What the PV kernel asked of Xen, per 1,000 guest operations.
const tally = new Map<string, number>();
let ops = 0;
let native = 0;
for (const s of fc.sample(kernelModeScenarios(), { numRuns: TALLY, seed: SEED })) {
  const t = runScenario(xenPv, s);
  for (const step of t.steps) {
    ops++;
    if (step.ran.kind === 'native') native++;
    for (const e of hypercallLog(step.after, step.guest, step.before.counters.ops)) {
      const name = formatHypercall(e.call).replace(/\(.*$/, '');
      const cmd = e.call.kind === 'mmuext_op' ? `(${e.call.cmd})` : '';
      const key = `${name}${cmd} -> ${e.rc}`;
      tally.set(key, (tally.get(key) ?? 0) + 1);
    }
  }
}
console.log(`\n${TALLY} scenarios, ${ops} guest operations, ${((100 * native) / ops).toFixed(1)}% ran natively`);
console.log('hypercalls per 1,000 guest operations:');
for (const [k, n] of [...tally].sort((a, b) => b[1] - a[1]))
  console.log(`  ${((1000 * n) / ops).toFixed(1).padStart(7)}  ${k}`);
