/**
 * bin/hyperprop.js runs the compiled command (dist/; test/package/ runs it from the packed tarball):
 * without a build it says so in one line, exit 2, as every verb answers bad usage.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { hasStackTrace, ROOT, tempDir } from './support.ts';

it('without dist/: one line saying to build, exit 2', () => {
  const dir = tempDir();
  mkdirSync(join(dir, 'bin'));
  copyFileSync(join(ROOT, 'bin/hyperprop.js'), join(dir, 'bin/hyperprop.js'));
  copyFileSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
  const r = spawnSync(process.execPath, [join(dir, 'bin/hyperprop.js'), 'list'], { encoding: 'utf8' });
  expect(r.status).toBe(2);
  expect(hasStackTrace(r.stderr)).toBe(false);
  expect(r.stderr).toBe('hyperprop: not built (dist/cli/main.js is missing): run `npm run build`\n');
});
