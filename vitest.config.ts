import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // Tests import the package by its public names, exactly as a user would, from the sources
    // (package.json's `hyperprop-source` condition; dist/ is what the packed package runs).
    alias: [
      { find: /^hyperprop$/, replacement: fileURLToPath(new URL('./index.ts', import.meta.url)) },
      { find: /^hyperprop\/model$/, replacement: fileURLToPath(new URL('./model/index.ts', import.meta.url)) },
      { find: /^hyperprop\/vitest$/, replacement: fileURLToPath(new URL('./integrations/vitest.ts', import.meta.url)) },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    // Tests that run the command several times (package, merge, watchdog) take minutes on a loaded 2-core machine.
    testTimeout: 300_000,
    // Hooks that boot QEMU on a loaded CI machine take longer than vitest's 10 s default.
    hookTimeout: 120_000,
    pool: 'threads',
    // One test file per core (vitest's default leaves one core idle): many tests wait on the
    // command they spawn. On 2 cores: 491 s against 660 s for the whole suite.
    maxWorkers: availableParallelism(),
    // CI asks for a JSON report too, to print its closing `tests: N passed, N failed` line.
    reporters: process.env.HYPERPROP_TEST_REPORT ? ['default', 'json'] : ['default'],
    ...(process.env.HYPERPROP_TEST_REPORT ? { outputFile: { json: process.env.HYPERPROP_TEST_REPORT } } : {}),
  },
});
