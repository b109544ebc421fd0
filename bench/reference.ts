/**
 * Benchmark of the reference machine alone: canonical steps per second over one million
 * generated operations, with physical memories of 64 and of 65,536 installed frames (every frame
 * holding data), to show that the cost of a step does not grow with memory size.
 *
 *   npm run bench:reference [-- --steps 1000000]
 */
import fc from 'fast-check';
import { arbOp } from '../generators/reference.ts';
import {
  bootMachine,
  DEFAULT_GEOMETRY,
  type Geometry,
  type Machine,
  PAGE_SIZE,
  step,
  writeWord,
} from '../model/index.ts';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const STEPS = arg('steps', 1_000_000);
const POOL = 20_000;

const filled = (g: Geometry): Machine => {
  const m = bootMachine({ geometry: g });
  let memory = m.memory;
  // Give every installed frame data past the words the boot layout uses.
  for (let f = 0; f < g.frames; f++) memory = writeWord(memory, f * PAGE_SIZE + 0xff0, f ^ 0x5a5a_5a5a);
  return { ...m, memory };
};

const run = (frames: number) => {
  const g: Geometry = { ...DEFAULT_GEOMETRY, frames };
  const ops = fc.sample(arbOp(g), { seed: 42, numRuns: POOL });
  const boot = filled(g);
  let m = boot;
  let reboots = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < STEPS; i++) {
    m = step(m, ops[i % POOL]!).machine;
    // Halted or shut down machines answer cheaply: start again so every step does real work.
    if (m.cpu.run !== 'running') {
      m = boot;
      reboots++;
    }
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { frames, steps: STEPS, seconds, stepsPerSecond: STEPS / seconds, reboots };
};

run(64); // warm up the JIT
const results = [run(64), run(65_536)];
for (const r of results)
  console.log(
    `frames ${String(r.frames).padStart(6)}: ${r.steps} steps in ${r.seconds.toFixed(2)} s = ${Math.round(r.stepsPerSecond).toLocaleString('en-US')} steps/s (${r.reboots} reboots)`,
  );
const ratio = results[0]!.stepsPerSecond / results[1]!.stepsPerSecond;
console.log(`cost per step, 65,536 frames vs 64: ${ratio.toFixed(2)}x (bar: within 1.5x)`);
console.log(`node ${process.version}, ${process.platform} ${process.arch}`);
