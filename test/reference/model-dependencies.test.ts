/**
 * `hyperprop/model` (the reference machine and the hosted machine) imports no other package: a user
 * can run the model without fast-check or effect (test/package/ imports the packed package's
 * hyperprop/model with both removed). Checked here on the sources' module graph, followed from the
 * subpath's entry through every relative import.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../cli/support.ts';

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  exports: Record<string, { 'hyperprop-source': string; default: string }>;
};

/** Every module specifier of a TypeScript source: static imports and re-exports, and dynamic imports. */
const specifiers = (source: string): string[] => [
  ...[...source.matchAll(/^\s*(?:import|export)\b[^'";]*?from\s+'([^']+)'/gm)].map((m) => m[1]!),
  ...[...source.matchAll(/^\s*import\s+'([^']+)'/gm)].map((m) => m[1]!),
  ...[...source.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g)].map((m) => m[1]!),
];

/** The packages (and node: modules) a source file's module graph reaches. */
const external = (entry: string): { readonly modules: number; readonly packages: Set<string> } => {
  const seen = new Set<string>();
  const packages = new Set<string>();
  const todo = [resolve(ROOT, entry)];
  while (todo.length > 0) {
    const file = todo.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const s of specifiers(readFileSync(file, 'utf8')))
      if (s.startsWith('.')) todo.push(resolve(dirname(file), s));
      else packages.add(s);
  }
  return { modules: seen.size, packages };
};

describe('hyperprop/model', () => {
  it('reaches no package (no fast-check, no effect, no node: module) from its entry', () => {
    const entry = pkg.exports['./model']!['hyperprop-source'];
    expect(entry).toBe('./model/index.ts');
    const { modules, packages } = external(entry);
    expect(modules).toBeGreaterThan(20); // the walk did follow the graph
    expect([...packages]).toEqual([]);
  });

  it('the same walk from the whole package finds fast-check and effect (so the walk can see them)', () => {
    const { packages } = external(pkg.exports['.']!['hyperprop-source']);
    expect(packages).toContain('fast-check');
    // effect is the counterexample files' schema (the CLI's), outside the index's graph.
    expect(external('cli/counterexample.ts').packages).toContain('effect/Schema');
  });
});
