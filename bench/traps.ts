/**
 * Efficiency of each preset on one generated workload: how many guest operations ran natively, how
 * many trapped or exited to the hypervisor, how many were handed to it before running (binary
 * translation, hypercalls), and why it was entered, per 1,000 operations.
 *
 * The workload: 2,000 sequences of 20 operations of the reference generator (generators/reference.ts
 * `arbOp`), each on a fresh single-guest host whose guest boots at CPL 0 or 3, seed 2026.
 *
 *   npm run bench:traps [-- --sequences 2000 --length 20 --seed 2026]
 */
import fc from 'fast-check';
import { arbOp } from '../generators/reference.ts';
import { bootMachine, type Counters, type Cpl, createHost, hostStep, type Op, PRESETS } from '../index.ts';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const SEQUENCES = arg('sequences', 2000);
const LENGTH = arg('length', 20);
const SEED = arg('seed', 2026);

const workload: readonly (readonly [Cpl, readonly Op[]])[] = fc.sample(
  fc.tuple(fc.constantFrom<Cpl>(0, 3), fc.array(arbOp(), { minLength: LENGTH, maxLength: LENGTH })),
  { numRuns: SEQUENCES, seed: SEED },
);

const add = (a: Readonly<Record<string, number>>, b: Readonly<Partial<Record<string, number>>>) => {
  const out: Record<string, number> = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = (out[k] ?? 0) + (v ?? 0);
  return out;
};
const sum = (r: Readonly<Partial<Record<string, number>>>) =>
  Object.values(r).reduce<number>((a, b) => a + (b ?? 0), 0);

interface Totals {
  ops: number;
  native: number;
  traps: Record<string, number>;
  calls: Record<string, number>;
  reasons: Record<string, number>;
}

const measure = (name: string): Totals & { seconds: number } => {
  const design = PRESETS[name]!;
  const hosts = new Map<Cpl, ReturnType<typeof createHost>>();
  const t: Totals = { ops: 0, native: 0, traps: {}, calls: {}, reasons: {} };
  const t0 = process.hrtime.bigint();
  for (const [cpl, ops] of workload) {
    const h0 = hosts.get(cpl) ?? createHost(design, [bootMachine({ cpl })]);
    hosts.set(cpl, h0);
    const c: Counters = ops.reduce((h, op) => hostStep(design, h, op), h0).counters;
    t.ops += c.ops;
    t.native += c.native;
    t.traps = add(t.traps, c.traps);
    t.calls = add(t.calls, c.calls);
    t.reasons = add(t.reasons, c.reasons);
  }
  return { ...t, seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
};

const perK = (n: number, ops: number) => ((n * 1000) / ops).toFixed(1);
const top = (r: Record<string, number>, ops: number, n = 4) =>
  Object.entries(r)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .slice(0, n)
    .map(([k, v]) => `${k} ${perK(v, ops)}`)
    .join(', ');

console.log(
  `workload: ${SEQUENCES} sequences x ${LENGTH} operations (generators/reference.ts arbOp), one guest booted at CPL 0 or 3, seed ${SEED}\n`,
);
console.log(
  `${'preset'.padEnd(12)}${'ops'.padStart(7)}${'native'.padStart(9)}${'traps+exits'.padStart(13)}${'calls'.padStart(8)}  top reasons (per 1,000 ops)`,
);
console.log(`${''.padEnd(12)}${''.padStart(7)}${''.padStart(9)}${'/1,000 ops'.padStart(13)}${'/1,000'.padStart(8)}`);
for (const name of Object.keys(PRESETS)) {
  const t = measure(name);
  console.log(
    `${name.padEnd(12)}${String(t.ops).padStart(7)}${`${((t.native * 100) / t.ops).toFixed(1)}%`.padStart(9)}${perK(sum(t.traps), t.ops).padStart(13)}${perK(sum(t.calls), t.ops).padStart(8)}  ${top(t.reasons, t.ops)}`,
  );
  const calls = top(t.calls, t.ops, 6);
  if (calls) console.log(`${''.padEnd(12)}calls by kind: ${calls}`);
}
