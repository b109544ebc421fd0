/**
 * The counterexample page in a real browser (Debian's chromium, driven by playwright-core): for a
 * saved counterexample of each level (machine: a shadow-paging flaw and a passthrough DMA flaw;
 * network; system call), `hyperprop replay FILE --html OUT` makes the page, and the browser shows
 * every step of the file in order, marks the divergence at the step the file records, moves with the
 * slider, the keys and the step list, fetches nothing, and logs no error.
 *
 * The saved files were made by real check runs (seed 1) on the design files beside them:
 *   hyperprop check --design test/html/fixtures/shadow-ignores-us.ts --property equivalence --seed 1 --runs 2000 --out test/html/fixtures/saved
 *   hyperprop check --design test/html/fixtures/passthrough-no-iommu.ts --property resource-control --seed 1 --runs 2000 --out …
 *   hyperprop check --design test/html/fixtures/ept-promiscuous-accept.ts --network --property equivalence --seed 1 --runs 2000 --out …
 *   hyperprop check --design container --property fault-containment --seed 1 --runs 500 --out …
 * Expected values come from the files (their operations and recorded divergence), not from the page's data.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { formatOp, type Op, syscall } from 'hyperprop';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hyperprop, ROOT, tempDir } from '../cli/support.ts';
import { chromiumMissingReason, launchChromium } from './browser.ts';

const missing = chromiumMissingReason();
if (missing) console.log(`browser tests skipped: ${missing}`);

const FIX = join(ROOT, 'test/html/fixtures');

interface Case {
  readonly name: string;
  readonly level: 'machine' | 'network' | 'syscall';
  readonly file: string;
  readonly design?: string;
  /** What the divergence step must show, besides the divergence itself (hand-checked against the flaw). */
  readonly atDivergence: (page: Page) => Promise<void>;
}

const CASES: readonly Case[] = [
  {
    name: 'shadow paging that ignores U/S',
    level: 'machine',
    file: 'saved/shadow-ignores-us.equivalence.c7f09b90b3747669.json',
    design: 'shadow-ignores-us.ts',
    // A user-mode read of the system page, which the boot maps supervisor-only (model/boot.ts): the
    // guest's tables deny it, the flawed shadow entry lets it through to the guest's own frame.
    atDivergence: async (page) => {
      await expect.poll(() => page.locator('.walk.role-guest .end.fault').textContent()).toContain('access denied');
      await expect.poll(() => page.locator('.walk.role-shadow .end.ok').textContent()).toContain('user');
      expect(await page.locator('.mismatch').count()).toBe(1);
    },
  },
  {
    name: 'passthrough without an IOMMU',
    level: 'machine',
    file: 'saved/passthrough-no-iommu.resource-control.af1dcd1b8bfa9e86.json',
    design: 'passthrough-no-iommu.ts',
    // The job's bus address is EAX = 3 with bits 1:0 ignored (model/devices.ts), so 0: with DMA
    // remapping off it is host address 0, the hypervisor's system page (layout.ts HV_FRAME.SYSTEM).
    atDivergence: async (page) => {
      const end = page.locator('.walk.role-direct .end.escape');
      expect(await end.count()).toBe(1);
      expect(await end.textContent()).toMatch(/HPA 0x00000000.*hypervisor's system page/);
    },
  },
  {
    name: 'a bridge that accepts promiscuous mode',
    level: 'network',
    file: 'saved/ept-promiscuous-accept.equivalence.5f5a152305c496a2.json',
    design: 'ept-promiscuous-accept.ts',
    // The guest's card holds the world's frame, which the ideal switch never gives it.
    atDivergence: async (page) => {
      expect(await page.locator('.card.network tr.differs').count()).toBe(1);
    },
  },
  {
    name: 'a container whose neighbour crashes the shared kernel',
    level: 'syscall',
    file: 'saved/container.fault-containment.cd6baa697ce319d1.json',
    atDivergence: async (page) => {
      expect(await page.locator('.card.syscall.nomatch').count()).toBe(1);
    },
  },
];

/** The operations a saved file holds, as the page must name them. */
const expectedOps = (c: Record<string, unknown>): string[] =>
  (c.ops as { op?: Op; call?: Parameters<typeof syscall.formatCall>[0] }[]).map((o) =>
    o.op ? formatOp(o.op) : syscall.formatCall(o.call!),
  );

describe.skipIf(missing !== undefined)(`${missing ? `(skipped: ${missing}) ` : ''}the HTML page in chromium`, () => {
  const out = tempDir();
  let browser: Awaited<ReturnType<typeof launchChromium>>;
  let context: BrowserContext;

  beforeAll(async () => {
    const made = await Promise.all(
      CASES.map((c, i) =>
        hyperprop([
          'replay',
          join(FIX, c.file),
          ...(c.design ? ['--design', join(FIX, c.design)] : []),
          '--html',
          join(out, `${i}.html`),
        ]),
      ),
    );
    for (const r of made) expect(r.status, r.stderr).toBe(1); // each still fails
    browser = await launchChromium();
    context = browser.context;
  });
  afterAll(async () => {
    await browser?.close();
  });

  CASES.forEach((c, i) => {
    it(`${c.level}: ${c.name}: every step, the divergence at its step, navigation, no network, no errors`, async () => {
      const saved = JSON.parse(readFileSync(join(FIX, c.file), 'utf8')) as Record<string, unknown>;
      const ops = expectedOps(saved);
      const divergence = (saved.divergence as { step: number }).step;
      const url = pathToFileURL(join(out, `${i}.html`)).href;
      const page = await context.newPage();
      const requests: string[] = [];
      const problems: string[] = [];
      page.on('request', (r) => requests.push(r.url()));
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
      });
      page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      // Anything but the page itself is refused (and recorded above): the page must not need it.
      await page.route('**/*', (route) => (route.request().url() === url ? route.continue() : route.abort()));
      await page.goto(url);
      await page.waitForSelector('main[data-step]');
      const shown = () => page.locator('main').getAttribute('data-step');

      expect(await page.locator('.level').textContent()).toBe(`${c.level} level`);
      // The page opens at the first divergence, and the step list marks that step alone.
      expect(await shown()).toBe(String(divergence));
      expect(await page.locator('li.step.divergent').count()).toBe(1);
      expect(await page.locator('li.step.divergent').getAttribute('data-index')).toBe(String(divergence));
      expect(await page.locator('.verdict').textContent()).toBe(`fails at step ${divergence}`);
      await c.atDivergence(page);

      // Every step of the file, in order, with the keyboard; the divergence card only at its step.
      await page.keyboard.press('Home');
      expect(await page.locator('li.step').count()).toBe(divergence + 1);
      for (let k = 0; k <= divergence; k++) {
        expect(await shown()).toBe(String(k));
        expect(await page.locator('main .op-text').textContent()).toBe(ops[k]);
        expect(await page.locator('li.step[aria-current="step"]').getAttribute('data-index')).toBe(String(k));
        expect(await page.locator('main .card').count()).toBeGreaterThan(1);
        expect(await page.locator('.divergence-card').count()).toBe(k === divergence ? 1 : 0);
        await page.keyboard.press('ArrowRight');
      }
      expect(await shown()).toBe(String(divergence)); // past the last step it stays there
      await page.keyboard.press('ArrowLeft');
      if (divergence > 0) expect(await shown()).toBe(String(divergence - 1));
      await page.keyboard.press('End');
      expect(await shown()).toBe(String(divergence));
      await page.keyboard.press('Home');
      await page.keyboard.press('d');
      expect(await shown()).toBe(String(divergence));

      // The slider, by value and by its own arrow keys; the step list by click; the buttons.
      await page.locator('#slider').evaluate((s: { value: string; dispatchEvent: (e: Event) => boolean }) => {
        s.value = '0';
        s.dispatchEvent(new Event('input', { bubbles: true }));
      });
      expect(await shown()).toBe('0');
      if (divergence > 0) {
        await page.locator('#slider').focus();
        await page.keyboard.press('ArrowRight');
        expect(await shown()).toBe('1');
        await page.locator('li.step').first().click();
        expect(await shown()).toBe('0');
        await page.locator('#next').click();
        expect(await shown()).toBe('1');
      }
      await page.locator('#to-divergence').click();
      expect(await shown()).toBe(String(divergence));

      // The theme switches between light and dark.
      const theme = () => page.locator('html').getAttribute('data-theme');
      const before = await theme();
      await page.keyboard.press('t');
      expect(await theme()).toBe(before === 'dark' ? 'light' : 'dark');

      expect(requests).toEqual([url]);
      expect(problems).toEqual([]);
      await page.close();
    });
  });
});
