/**
 * The frozen unseen set (mutants/unseen/, issue 20 "Measuring generality honestly"). Its kill rate is
 * measured (bench/RESULTS.md "Unseen mutants"), never asserted here: a mutant today's generators miss
 * is what the measurement is for. What is asserted is what keeps that measurement honest:
 *
 * - each hand witness is exactly as long as the minimum its mutant states (`minimal`);
 * - the correct base preset passes the witness, for the mutant's own property and every other one, so
 *   a failure on it is the mutation's doing and never the base's;
 * - the set is apart from the catalog (whose tests assert a 100% kill) and every entry translates to
 *   a catalog entry the runner accepts.
 */
import {
  checkScenario,
  checkSyscallScenario,
  PRESETS,
  PROPERTY_NAMES,
  SYSCALL_PROPERTY_NAMES,
  syscall,
} from 'hyperprop';
import { describe, expect, it } from 'vitest';
import { MUTANTS } from '../../mutants/catalog.ts';
import { UNSEEN_MUTANTS } from '../../mutants/unseen/index.ts';
import { UNSEEN } from '../../mutants/unseen-catalog.ts';

describe('the unseen set', () => {
  it('holds at least 20 mutants, uniquely named after their base, none of them in the catalog', () => {
    expect(UNSEEN_MUTANTS.length).toBeGreaterThanOrEqual(20);
    const names = UNSEEN_MUTANTS.map((m) => m.name);
    expect(new Set(names).size).toBe(names.length);
    for (const m of UNSEEN_MUTANTS) expect(m.name.startsWith(`${m.base}-`), m.name).toBe(true);
    const catalog = new Set(MUTANTS.map((m) => m.name));
    expect(names.filter((n) => catalog.has(n))).toEqual([]);
  });

  it('spreads over the presets: every correct machine preset but classic has a mutant', () => {
    const bases = new Set(UNSEEN_MUTANTS.map((m) => m.base));
    for (const b of ['shadow', 'ept', 'passthrough', 'sriov', 'bt', 'xen-pv', 'vmdq'])
      expect(bases.has(b), b).toBe(true);
  });

  it('translates one for one into catalog entries (same names, properties and minimal lengths)', () => {
    expect(UNSEEN.map((m) => [m.name, m.base, m.property, m.minimalLength])).toEqual(
      UNSEEN_MUTANTS.map((m) => [m.name, m.base, m.property, m.minimal]),
    );
  });
});

describe.each(UNSEEN_MUTANTS.map((m) => [m.name, m] as const))('%s: its hand witness', (_name, m) => {
  it('is as long as the hand-derived minimum', () => {
    expect(m.witness.ops.length).toBe(m.minimal);
  });

  it('passes on the correct base preset, for the mutant’s property and every other', () => {
    if (m.level === 'syscall') {
      const base = syscall.SYSCALL_DESIGNS[m.base];
      expect(base, m.base).toBeDefined();
      expect(SYSCALL_PROPERTY_NAMES).toContain(m.property);
      for (const p of SYSCALL_PROPERTY_NAMES) expect(checkSyscallScenario(base!, p, m.witness), p).toBeUndefined();
    } else {
      const base = PRESETS[m.base];
      expect(base, m.base).toBeDefined();
      expect(PROPERTY_NAMES).toContain(m.property);
      for (const p of PROPERTY_NAMES) expect(checkScenario(base!, p, m.witness), p).toBeUndefined();
    }
  });
});
