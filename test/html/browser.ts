/**
 * A real browser for the HTML page's tests, benchmark and screenshots: Debian's chromium driven by
 * playwright-core, headless, with no network of its own (no component updates, no sync, no QUIC) and
 * a fresh profile each launch. Where chromium is missing, callers say so and skip.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';

/** The chromium binary (Debian's package; HYPERPROP_CHROMIUM to use another). */
export const CHROMIUM = process.env.HYPERPROP_CHROMIUM ?? '/usr/bin/chromium';
export const CHROMIUM_INSTALL = 'apt-get install -y chromium';

/** Why the browser tests cannot run here, or undefined when they can. */
export const chromiumMissingReason = (): string | undefined =>
  existsSync(CHROMIUM) ? undefined : `${CHROMIUM} not found (install it: ${CHROMIUM_INSTALL})`;

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** A browser with a fresh profile; `close` ends it and removes the profile. */
export const launchChromium = async (
  options: { readonly width?: number; readonly height?: number; readonly colorScheme?: 'light' | 'dark' } = {},
): Promise<{ readonly context: BrowserContext; readonly close: () => Promise<void> }> => {
  const profile = mkdtempSync(join(tmpdir(), 'hyperprop-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport: { width: options.width ?? 1440, height: options.height ?? 900 },
    colorScheme: options.colorScheme ?? 'light',
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
};
