#!/usr/bin/env node
// The `hyperprop` command: runs the TypeScript sources directly (no build step) through tsx.
import { register } from 'tsx/esm/api';

register();
await import('../cli/main.ts');
