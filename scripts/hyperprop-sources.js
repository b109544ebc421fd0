#!/usr/bin/env node
// The `hyperprop` command run from the TypeScript sources through tsx, with no build: what the test
// suite spawns, so it tests the working tree rather than dist/. Run it with
// `node --conditions=hyperprop-source scripts/hyperprop-sources.js …` so that `import 'hyperprop'` in a
// design file means the sources too (package.json's exports).
import { register } from 'tsx/esm/api';

register();
await import('../cli/main.ts');
