import { chromium } from 'playwright-core';
import { mkdtempSync } from 'node:fs';
const [,, file, out, theme = 'light', w = '1440', h = '900', step] = process.argv;
const ctx = await chromium.launchPersistentContext(mkdtempSync('/tmp/pwud-'), { executablePath: '/usr/bin/chromium', headless: true,
 viewport: { width: Number(w), height: Number(h) }, colorScheme: theme,
 args: ['--headless','--no-sandbox','--disable-gpu','--disable-quic','--no-first-run','--disable-background-networking','--disable-component-update','--disable-sync'] });
const page = await ctx.newPage();
page.on('console', m => console.log('console', m.type(), m.text()));
page.on('pageerror', e => console.log('pageerror', e.message));
await page.goto('file://' + file + (step ? '#step-' + step : ''));
await page.waitForSelector('main[data-step]');
await page.screenshot({ path: out, fullPage: process.env.FULL === '1' });
await ctx.close();
