/**
 * What the watchdog costs (issue 18): the guard's overhead on checking (the same seeded work on a
 * design and on the same design under guard, in this thread, CPU time, best of `--repeats`), how
 * long a worker takes to start and answer a first item, and how long a hung handler takes to be
 * reported (the stall budget plus the tick).
 *
 *   npx tsx bench/watchdog.ts [--runs 300] [--repeats 3] [--designs shadow,ept]
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { guardDesign } from '../cli/guard.ts';
import { HEARTBEAT_BYTES, Heartbeat } from '../cli/heartbeat.ts';
import { WorkerPool } from '../cli/pool.ts';
import type { ItemResult } from '../cli/work.ts';
import type { CheckRequest } from '../cli/worker.ts';
import { type Design, PRESETS } from '../model/index.ts';
import { check } from '../properties/check.ts';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
};
const RUNS = Number(arg('runs', '300'));
const REPEATS = Number(arg('repeats', '3'));
const DESIGNS = arg('designs', 'shadow,ept').split(',');

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** Best CPU time of `a` and of `b`, run alternately (so that a busy spell of the machine hits both). */
const bestOfEach = (a: () => void, b: () => void): [number, number] => {
  a();
  b(); // warm-up
  let ma = Number.POSITIVE_INFINITY;
  let mb = Number.POSITIVE_INFINITY;
  for (let i = 0; i < REPEATS; i++) {
    let t = cpuMs();
    a();
    ma = Math.min(ma, cpuMs() - t);
    t = cpuMs();
    b();
    mb = Math.min(mb, cpuMs() - t);
  }
  return [ma, mb];
};

console.log(
  `guard overhead: check(design) against check(guardDesign(design)), ${RUNS} runs, every property, CPU ms (best of ${REPEATS}, run alternately)`,
);
for (const name of DESIGNS) {
  const d: Design = PRESETS[name]!;
  // As in a worker: with a heartbeat written on every call.
  const g = guardDesign(d, new Heartbeat(new SharedArrayBuffer(HEARTBEAT_BYTES)));
  const [plain, guarded] = bestOfEach(
    () => check(d, { runs: RUNS, seed: 1 }),
    () => check(g, { runs: RUNS, seed: 1 }),
  );
  console.log(
    `  ${name.padEnd(10)} plain ${plain.toFixed(0)} ms, guarded with a heartbeat ${guarded.toFixed(0)} ms: ${(((guarded - plain) / plain) * 100).toFixed(1)}%`,
  );
}

const request = (spec: string, index: number): CheckRequest => ({
  spec,
  item: { index, design: 0, property: 'efficiency' },
  options: { runs: 1, seed: 1 },
});

{
  const t0 = performance.now();
  const pool = new WorkerPool(1);
  await pool.run<CheckRequest, ItemResult>([request('shadow', 0)], () => {});
  const first = performance.now() - t0;
  const t1 = performance.now();
  await pool.run<CheckRequest, ItemResult>([request('shadow', 1)], () => {});
  const warm = performance.now() - t1;
  await pool.close();
  console.log(
    `worker: start and first item (efficiency, 1 run) ${first.toFixed(0)} ms; the next item ${warm.toFixed(0)} ms`,
  );
}

{
  const stallMs = 2000;
  const looping = join(
    fileURLToPath(new URL('..', import.meta.url)),
    'test/cli/fixtures/misbehaving/loops-in-handler.ts',
  );
  const pool = new WorkerPool(1);
  await pool.run<CheckRequest, ItemResult>([request('shadow', 0)], () => {}); // started and warm
  const t0 = performance.now();
  const [r] = await pool.run<CheckRequest, ItemResult | { hung: number }>([request(looping, 0)], () => {}, {
    stallMs: () => stallMs,
    onFault: (_req, f) => ({ hung: f.elapsedMs }),
  });
  const reported = performance.now() - t0;
  await pool.close();
  console.log(
    `hang: a handler that loops, stall budget ${stallMs} ms: reported after ${reported.toFixed(0)} ms (${'hung' in r! ? 'hung' : 'not hung?'}; includes loading the design file)`,
  );
}
