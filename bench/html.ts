/**
 * The HTML counterexample page for a 50-step trace: its size, the time to build its record and page
 * in Node, and in chromium (headless, Debian's, via playwright-core) the time from navigation start
 * to the first render (the viewer's script done: `data-rendered`, and the first contentful paint),
 * and the time per step when stepping through it with ArrowRight (render and layout, timed in the page).
 *
 * The trace: the first scenario of 3 guests with at least STEPS operations that fast-check's
 * scenario generator (generators/host.ts, seed 2026) draws, cut to STEPS operations, on `shadow`
 * (a correct preset, so the record holds every step: translation paths, a TLB that fills up).
 *
 *   npm run bench:html [-- --steps 50 --repeats 5]
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { tracePage } from '../cli/html.ts';
import { arbScenario, type Scenario } from '../generators/host.ts';
import { shadow } from '../model/designs/presets.ts';
import { recordTrace } from '../properties/record/machine.ts';
import { chromiumMissingReason, launchChromium } from '../test/html/browser.ts';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const STEPS = arg('steps', 50);
const REPEATS = arg('repeats', 5);

const expectLast = (got: string | null, want: string) => {
  if (got !== want) throw new Error(`stepping ended at step ${got}, not ${want}`);
};

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

const long = fc
  .sample(arbScenario({ minGuests: 3, maxGuests: 3, maxOps: 2 * STEPS }), { numRuns: 2000, seed: 2026 })
  .find((s) => s.ops.length >= STEPS);
if (!long) throw new Error(`no generated scenario has ${STEPS} operations`);
const scenario: Scenario = { ...long, ops: long.ops.slice(0, STEPS) };

const builds: number[] = [];
let page = '';
for (let i = 0; i < REPEATS; i++) {
  const t0 = performance.now();
  const trace = recordTrace(shadow, scenario, undefined);
  page = tracePage(trace, { source: 'bench' });
  builds.push(performance.now() - t0);
}
const trace = recordTrace(shadow, scenario, undefined);
const file = join(mkdtempSync(join(tmpdir(), 'hyperprop-bench-html-')), 'trace.html');
writeFileSync(file, page);
const bytes = Buffer.byteLength(page);
const json = Buffer.byteLength(JSON.stringify(trace));
console.log(`trace: ${trace.steps.length} steps, ${scenario.guests.length} guests, design shadow (page: ${file})`);
console.log(
  `page: ${(bytes / 1024).toFixed(1)} KiB (${(gzipSync(page).length / 1024).toFixed(1)} KiB gzipped), of which the trace record ${(json / 1024).toFixed(1)} KiB`,
);
console.log(`record and page built in Node: median ${median(builds).toFixed(0)} ms over ${REPEATS}`);

const missing = chromiumMissingReason();
if (missing) {
  console.log(`browser figures skipped: ${missing}`);
} else {
  const browser = await launchChromium({ width: 1440, height: 900 });
  const rendered: number[] = [];
  const paints: number[] = [];
  const perStep: number[] = [];
  try {
    for (let i = 0; i < REPEATS; i++) {
      const p = await browser.context.newPage();
      await p.goto(pathToFileURL(file).href);
      await p.waitForSelector('main[data-step]');
      rendered.push(Number(await p.locator('html').getAttribute('data-rendered')));
      paints.push(
        await p.evaluate(
          () =>
            (
              globalThis as unknown as {
                performance: { getEntriesByName: (n: string) => { startTime: number }[] };
              }
            ).performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? Number.NaN,
        ),
      );
      // Stepping inside the page (no round trip to the driver): each ArrowRight, with its layout.
      perStep.push(
        await p.evaluate((n) => {
          const g = globalThis as unknown as {
            document: { dispatchEvent: (e: unknown) => void; body: { offsetHeight: number } };
            KeyboardEvent: new (type: string, init: { key: string }) => unknown;
            performance: { now: () => number };
          };
          g.document.dispatchEvent(new g.KeyboardEvent('keydown', { key: 'Home' }));
          const t0 = g.performance.now();
          for (let k = 1; k < n; k++) {
            g.document.dispatchEvent(new g.KeyboardEvent('keydown', { key: 'ArrowRight' }));
            void g.document.body.offsetHeight; // force style and layout of the new step
          }
          return (g.performance.now() - t0) / (n - 1);
        }, trace.steps.length),
      );
      expectLast(await p.locator('main').getAttribute('data-step'), String(trace.steps.at(-1)!.index));
      await p.close();
    }
  } finally {
    await browser.close();
  }
  console.log(
    `chromium: first render (viewer done) median ${median(rendered).toFixed(0)} ms after navigation start; first contentful paint median ${median(paints).toFixed(0)} ms; over ${REPEATS} loads`,
  );
  console.log(
    `chromium: stepping through all ${trace.steps.length} steps with ArrowRight in the page, median ${median(perStep).toFixed(1)} ms per step (render and layout)`,
  );
}
