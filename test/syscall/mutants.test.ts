/**
 * Every system-call-level mutant is found by its catching property and shrunk to at most 4
 * operations (and never below the hand-derived minimum, which would mean the derivation is
 * wrong), at a CI-sized budget: 2 seeds, 500 sequences each.
 */
import { describe, expect, it } from 'vitest';
import { MUTANTS } from '../../mutants/catalog.ts';
import { SYSCALL_MUTANTS } from '../../mutants/syscall.ts';

describe('system-call-level mutants', () => {
  it('are in the catalog', () => {
    for (const m of SYSCALL_MUTANTS) expect(MUTANTS).toContain(m);
    expect(SYSCALL_MUTANTS.map((m) => m.name).sort()).toEqual([
      'container-no-memory-quota',
      'container-no-pid-namespace',
      'container-runtime-exe-escape',
      'container-shared-directory',
    ]);
  });

  describe.each(SYSCALL_MUTANTS.map((m) => [m.name, m] as const))('%s', (_name, m) => {
    it.each([1, 2])(`is caught by ${m.property} and shrunk to at most 4 operations (seed %i)`, (seed) => {
      if (m.target.level !== 'syscall') throw new Error('a system-call-level mutant');
      const v = m.target.check(m.property, { seed, runs: 500 });
      expect(v.status).toBe('failed');
      expect(v.shrunkLength).toBeLessThanOrEqual(4);
      expect(v.shrunkLength).toBeGreaterThanOrEqual(m.minimalLength);
    });
  });
});
