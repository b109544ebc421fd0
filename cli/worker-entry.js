// A worker thread of `hyperprop check --workers N`: registers tsx (as bin/hyperprop.js does for the
// main thread) and runs the TypeScript worker.
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
