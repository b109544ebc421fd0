/**
 * The README's screenshots of the HTML counterexample page, made from real saved counterexamples
 * (test/html/fixtures/saved/, found by `hyperprop check` runs) with the real command and Debian's
 * chromium at a laptop's size (1440 x 900, the whole page):
 *
 *   npm run docs:screenshots
 *
 * writes docs/html-shadow-paging.png (shadow paging that ignores the guest's U/S bit, light theme)
 * and docs/html-passthrough-dma.png (passthrough without an IOMMU, dark theme).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromiumMissingReason, launchChromium } from '../test/html/browser.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FIX = join(ROOT, 'test/html/fixtures');

const SHOTS = [
  {
    out: 'docs/html-shadow-paging.png',
    file: 'saved/shadow-ignores-us.equivalence.c7f09b90b3747669.json',
    design: 'shadow-ignores-us.ts',
    theme: 'light' as const,
  },
  {
    out: 'docs/html-passthrough-dma.png',
    file: 'saved/passthrough-no-iommu.resource-control.af1dcd1b8bfa9e86.json',
    design: 'passthrough-no-iommu.ts',
    theme: 'dark' as const,
  },
];

const missing = chromiumMissingReason();
if (missing) {
  console.error(`docs:screenshots needs chromium: ${missing}`);
  process.exit(2);
}
const dir = mkdtempSync(join(tmpdir(), 'hyperprop-shots-'));
for (const s of SHOTS) {
  const html = join(dir, `${s.design}.html`);
  // The real command, as a user runs it (from the repository, so the page names the file as saved).
  const r = spawnSync(
    process.execPath,
    [
      join(ROOT, 'bin/hyperprop.js'),
      'replay',
      join('test/html/fixtures', s.file),
      '--design',
      join(FIX, s.design),
      '--html',
      html,
    ],
    { cwd: ROOT, encoding: 'utf8' },
  );
  if (r.status !== 1) throw new Error(`replay of ${s.file} exited ${r.status}: ${r.stderr}`);
  const browser = await launchChromium({ width: 1440, height: 900, colorScheme: s.theme });
  try {
    const page = await browser.context.newPage();
    await page.goto(pathToFileURL(html).href);
    await page.waitForSelector('main[data-step]');
    await page.screenshot({ path: join(ROOT, s.out), fullPage: true });
  } finally {
    await browser.close();
  }
  console.log(`wrote ${s.out}`);
}
