/**
 * Spawning the real `hyperprop` command from the sources (scripts/hyperprop-sources.js: the same
 * cli/main.ts that bin/hyperprop.js runs compiled from dist/), so the suite tests the working tree
 * without a build; test/package/ runs the compiled command from the packed tarball.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = join(ROOT, 'scripts/hyperprop-sources.js');
export const FIXTURES = join(ROOT, 'test/cli/fixtures');

export interface Run {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** The environment without the CI variables that pick a shard (cli/shard.ts): a test says its shard itself. */
export const unsharded = (env: NodeJS.ProcessEnv): NodeJS.ProcessEnv => {
  const { CI_NODE_INDEX, CI_NODE_TOTAL, JOB_COMPLETION_INDEX, HYPERPROP_SHARD_COUNT, ...rest } = env;
  return rest;
};

/** Run `hyperprop ARGS` in `cwd` (a fresh temporary folder by default), not on a terminal, with `env` added to the environment. */
export const hyperprop = (
  args: readonly string[],
  cwd = tempDir(),
  env: Readonly<Record<string, string>> = {},
): Promise<Run> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--conditions=hyperprop-source', BIN, ...args], {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...unsharded(process.env), NO_COLOR: '1', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });

export const tempDir = (): string => mkdtempSync(join(tmpdir(), 'hyperprop-cli-'));

/** A stack trace's frames look like `    at f (file:line:col)`. */
export const hasStackTrace = (s: string): boolean => /^\s+at .+[:(].*\d+:\d+\)?$/m.test(s) || /\n\s+at /.test(s);
