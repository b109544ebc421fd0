#!/usr/bin/env node
// The `hyperprop` command: runs the compiled CLI (dist/, built by `npm run build`, which `npm ci` and
// `npm pack` run through `prepare`).
import { existsSync } from 'node:fs';

const main = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write('hyperprop: not built (dist/cli/main.js is missing): run `npm run build`\n');
  process.exit(2);
}
try {
  await import(main.href);
} catch (e) {
  // The command could not start (a dependency missing from node_modules, say): one line, not a stack.
  const line = (e instanceof Error ? e.message : String(e)).split('\n')[0];
  process.stderr.write(`hyperprop: cannot start: ${line}\n`);
  process.exit(2);
}
