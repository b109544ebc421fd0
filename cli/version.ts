/**
 * hyperprop's own version, read from its package.json through the package's self-reference, so the
 * same line works from the sources (cli/) and from the compiled package (dist/cli/).
 */
import { createRequire } from 'node:module';

/** The package's version (package.json). */
export const PACKAGE_VERSION: string = (
  createRequire(import.meta.url)('hyperprop/package.json') as { readonly version: string }
).version;
