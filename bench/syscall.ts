/**
 * The system-call level's long run (issue 13: at least 10,000 generated sequences of calls across
 * 2 to 4 guests per design), its throughput, and the mutants' detection: runs to the first failure
 * and shrunk length over 20 seeds.
 *
 *   npm run bench:syscall -- [--runs 10000] [--seed 1] [--designs container,vm-ept] [--mutant-seeds 20]
 *
 * Besides every property on the full workload, two restricted workloads say where a failure
 * comes from: containers' equivalence without kernel-mode instructions, and API translation's
 * equivalence and isolation without direct host calls (programs that use only translated calls).
 */

import { SYSCALL_DESIGNS } from '../model/syscall/index.ts';
import { SYSCALL_MUTANTS } from '../mutants/syscall.ts';
import { checkSyscall, type SyscallCheckOptions } from '../properties/syscall/check.ts';
import { SYSCALL_PROPERTY_NAMES, type SyscallPropertyName } from '../properties/syscall/properties.ts';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
};
const runs = Number(arg('runs', '10000'));
const seed = Number(arg('seed', '1'));
const designs = arg('designs', Object.keys(SYSCALL_DESIGNS).join(',')).split(',');
const mutantSeeds = Number(arg('mutant-seeds', '20'));

const item = (name: string, property: SyscallPropertyName, workload: string, extra: Partial<SyscallCheckOptions>) => {
  const design = SYSCALL_DESIGNS[name];
  if (!design) throw new Error(`no design ${name}`);
  const t0 = process.hrtime.bigint();
  const [r] = checkSyscall(design, { properties: [property], runs, seed, ...extra });
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  const c = r!.counterexample;
  console.log(
    `| ${name} | ${property} | ${workload} | ${r!.status === 'passed' ? 'held' : 'FAILED'} | ${r!.runs} | ${s.toFixed(1)} | ${Math.round(r!.runs / s)} | ${c ? `${c.scenario.ops.length} op(s), found after ${c.runsToFailure} run(s)` : ''} |`,
  );
  if (c) console.error(`\n${name} / ${property} (${workload}), seed ${seed}, path ${c.path}:\n${c.rendering}\n`);
};

console.log(
  `${runs} sequences per design and property (2 to 4 guests, up to 16 calls), seed ${seed}, node ${process.version}\n`,
);
console.log('| design | property | workload | result | sequences | seconds | sequences/s | shrunk counterexample |');
console.log('| --- | --- | --- | --- | ---: | ---: | ---: | --- |');
for (const name of designs) {
  for (const property of SYSCALL_PROPERTY_NAMES) item(name, property, 'full', {});
  if (name === 'container') item(name, 'equivalence', 'no kernel-mode instructions', { kernelModeInstructions: false });
  if (SYSCALL_DESIGNS[name]!.abi === 'foreign')
    for (const property of ['equivalence', 'isolation', 'resource-control'] as const)
      item(name, property, 'translated calls only', { directHostCalls: false });
}

if (mutantSeeds > 0) {
  console.log(`\nmutants: ${mutantSeeds} seeds, at most 2,000 sequences each\n`);
  console.log(
    '| mutant | property | caught | runs to failure (median, max) | shrunk length (median, max) | hand-derived minimum |',
  );
  console.log('| --- | --- | ---: | --- | --- | ---: |');
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  for (const m of SYSCALL_MUTANTS) {
    if (m.target.level !== 'syscall') continue;
    const verdicts = Array.from({ length: mutantSeeds }, (_, i) =>
      m.target.level === 'syscall' ? m.target.check(m.property, { seed: i + 1, runs: 2000 }) : undefined,
    ).filter((v) => v !== undefined);
    const failed = verdicts.filter((v) => v.status === 'failed');
    const r = failed.map((v) => v.runs);
    const l = failed.map((v) => v.shrunkLength ?? 0);
    console.log(
      `| ${m.name} | ${m.property} | ${failed.length}/${verdicts.length} | ${median(r)}, ${Math.max(...r)} | ${median(l)}, ${Math.max(...l)} | ${m.minimalLength} |`,
    );
  }
}
