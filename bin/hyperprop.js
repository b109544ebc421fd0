#!/usr/bin/env node
// The `hyperprop` command: runs the compiled CLI (dist/, built by `npm run build`, which `npm ci` and
// `npm pack` run through `prepare`).
import { existsSync } from 'node:fs';

const main = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write('hyperprop: not built (dist/cli/main.js is missing): run `npm run build`\n');
  process.exit(2);
}
await import(main.href);
