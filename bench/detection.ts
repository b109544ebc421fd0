/**
 * Runs needed to catch broken designs, with the biased generators and with uniform values over
 * the same operation kinds (issue: the comparison of what the bias buys). Median over seeds;
 * a seed that does not catch the design within the budget counts as the budget ("≥").
 *
 *   npm run bench:detection -- [--seeds 20] [--budget 5000]
 */
import { check, type Design, type PropertyName } from '../index.ts';
import { shadowNoInvlpgSync } from '../mutants/mmu.ts';
import { eptSharedVpid as sharedVpid } from '../mutants/tlb.ts';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const seeds = arg('seeds', 20);
const budget = arg('budget', 5000);

const targets: { design: Design; property: PropertyName; options: object }[] = [
  { design: shadowNoInvlpgSync, property: 'equivalence', options: { maxGuests: 1, maxOps: 12 } },
  { design: sharedVpid, property: 'resource-control', options: { minGuests: 2 } },
];

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

console.log(`seeds 1..${seeds}, budget ${budget} scenarios per seed`);
for (const t of targets) {
  for (const values of ['biased', 'uniform'] as const) {
    const runs: number[] = [];
    let caught = 0;
    const t0 = process.hrtime.bigint();
    for (let seed = 1; seed <= seeds; seed++) {
      const [r] = check(t.design, { properties: [t.property], runs: budget, seed, values, ...t.options });
      if (r!.status === 'failed') {
        caught++;
        runs.push(r!.counterexample!.runsToFailure);
      } else runs.push(budget);
    }
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    console.log(
      `${t.design.name.padEnd(24)} ${t.property.padEnd(17)} ${values.padEnd(8)} caught ${caught}/${seeds}, median runs to catch ${caught > seeds / 2 ? median(runs) : `≥${budget}`}, ${s.toFixed(1)} s`,
    );
  }
}
