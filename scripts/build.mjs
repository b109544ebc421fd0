#!/usr/bin/env node
// The package's build: `tsc -p tsconfig.build.json` into a fresh dist/ (type-checking is CI's separate
// `tsc --noEmit -p .`, so the emit skips it: `npm ci` stays fast), then every non-TypeScript file that
// lives next to the compiled sources (an HTML template, a stylesheet, a JSON table) is copied to the
// same place under dist/, so code that finds it with `new URL('./x', import.meta.url)` finds it compiled too.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = join(root, 'dist');
const fail = (line) => {
  process.stderr.write(`build: ${line}\n`);
  process.exit(2);
};

let tsc;
try {
  tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
} catch {
  fail('typescript is not installed (it is a devDependency: run `npm ci` without --omit=dev)');
}
rmSync(dist, { recursive: true, force: true });
const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json'), '--noCheck'], {
  cwd: root,
  stdio: 'inherit',
});
if (r.status !== 0) fail(`tsc -p tsconfig.build.json exited with ${r.status ?? r.signal}`);

// The folders compiled (tsconfig.build.json's include), and what is not copied from them: sources,
// notes for readers, and the worker shim that runs the sources through tsx (dist runs worker.js itself).
const { include } = JSON.parse(readFileSync(join(root, 'tsconfig.build.json'), 'utf8').replace(/^\s*\/\/.*$/gm, ''));
const skip = (name) => /\.(ts|md)$/.test(name) || name === 'worker-entry.js';
const copied = [];
const walk = (dir) => {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p);
    else if (e.isFile() && !skip(e.name)) {
      const to = join(dist, relative(root, p));
      mkdirSync(dirname(to), { recursive: true });
      copyFileSync(p, to);
      copied.push(relative(root, p));
    }
  }
};
for (const entry of include) if (!entry.endsWith('.ts') && existsSync(join(root, entry))) walk(join(root, entry));
process.stdout.write(`build: dist/ written${copied.length ? `; assets copied: ${copied.join(', ')}` : ''}\n`);
