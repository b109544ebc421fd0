/**
 * The long run of the properties (issue: at least 100,000 scenarios per preset and property),
 * and the checker's throughput: scenarios and guest operations checked per second.
 *
 *   npm run bench:properties -- [--runs 100000] [--designs shadow,ept] [--properties equivalence,...] [--seed 1]
 */
import { check, PRESETS, PROPERTY_NAMES, type PropertyName } from '../index.ts';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
};
const runs = Number(arg('runs', '2000'));
const seed = Number(arg('seed', '1'));
const designs = arg(
  'designs',
  Object.keys(PRESETS)
    .filter((n) => ['shadow', 'ept', 'passthrough'].includes(n))
    .join(','),
).split(',');
const properties = arg('properties', PROPERTY_NAMES.join(',')).split(',') as PropertyName[];

console.log(`runs ${runs} per design and property, seed ${seed}, node ${process.version}`);
for (const name of designs) {
  const design = PRESETS[name];
  if (!design) throw new Error(`no preset ${name}`);
  for (const property of properties) {
    const t0 = process.hrtime.bigint();
    const [r] = check(design, { properties: [property], runs, seed });
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    const c = r!.counterexample;
    console.log(
      `${name.padEnd(12)} ${property.padEnd(17)} ${r!.status.padEnd(7)} ${String(r!.runs).padStart(7)} scenarios in ${s.toFixed(1).padStart(7)} s = ${Math.round(
        r!.runs / s,
      )
        .toString()
        .padStart(5)} scenarios/s${c ? `  FAILED: ${c.failure.message}` : ''}`,
    );
  }
}
