/**
 * The second frozen unseen set (mutants/unseen2/). As for the first set (unseen.test.ts), its kill
 * rate is measured, never asserted. What is asserted keeps the measurement honest:
 *
 * - each hand witness is exactly as long as the minimum its mutant states (`minimal`), and the
 *   mutant fails its own property on it at the last operation (properties are prefix-closed, so a
 *   failure earlier would mean a shorter witness exists and `minimal` is wrong);
 * - the correct base preset passes the witness, for the mutant's property and every other one, so
 *   the failure is the mutation's doing and never the base's;
 * - the set is apart from the catalog and from the first set, spread over the bases and areas its
 *   brief names, and every entry translates to a catalog entry the runner (and `hyperprop mutants
 *   --set unseen2`) accepts.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { MUTANTS } from '../../mutants/catalog.ts';
import { UNSEEN_MUTANTS } from '../../mutants/unseen/index.ts';
import { UNSEEN2, unseen2MutantByName, unseenSetMutantByName } from '../../mutants/unseen-catalog.ts';
import { UNSEEN2_MUTANTS } from '../../mutants/unseen2/index.ts';
import { expectBasePassesWitness, witnessFailure } from './witness.ts';

const cli = (args: readonly string[]) =>
  spawnSync(process.execPath, ['--conditions=hyperprop-source', 'scripts/hyperprop-sources.js', ...args], {
    encoding: 'utf8',
  });

describe('the second unseen set', () => {
  it('holds at least 24 mutants, uniquely named after their base, none in the catalog or the first set', () => {
    expect(UNSEEN2_MUTANTS.length).toBeGreaterThanOrEqual(24);
    const names = UNSEEN2_MUTANTS.map((m) => m.name);
    expect(new Set(names).size).toBe(names.length);
    for (const m of UNSEEN2_MUTANTS) expect(m.name.startsWith(`${m.base}-`), m.name).toBe(true);
    const taken = new Set([...MUTANTS.map((m) => m.name), ...UNSEEN_MUTANTS.map((m) => m.name)]);
    expect(names.filter((n) => taken.has(n))).toEqual([]);
  });

  it('spreads over the bases and areas its brief names: at least two of each', () => {
    const count = (key: (m: (typeof UNSEEN2_MUTANTS)[number]) => string, want: string) =>
      UNSEEN2_MUTANTS.filter((m) => key(m) === want).length;
    for (const b of ['shadow', 'ept', 'passthrough', 'sriov', 'vmdq', 'bt', 'xen-pv'])
      expect(
        count((m) => m.base, b),
        b,
      ).toBeGreaterThanOrEqual(2);
    expect(UNSEEN2_MUTANTS.filter((m) => m.level === 'syscall').length).toBeGreaterThanOrEqual(2);
    for (const a of ['CPU', 'TLB', 'interrupts', 'devices', 'IOMMU / DMA', 'network', 'efficiency', 'system calls'])
      expect(
        count((m) => m.area, a),
        a,
      ).toBeGreaterThanOrEqual(2);
  });

  it('translates one for one into catalog entries, found by name in their own set only', () => {
    expect(UNSEEN2.map((m) => [m.name, m.base, m.property, m.minimalLength])).toEqual(
      UNSEEN2_MUTANTS.map((m) => [m.name, m.base, m.property, m.minimal]),
    );
    for (const m of UNSEEN2) {
      expect(unseen2MutantByName(m.name)).toBe(m);
      expect(unseenSetMutantByName('unseen2', m.name)).toBe(m);
      expect(unseenSetMutantByName('unseen', m.name)).toBeUndefined();
    }
  });

  it('is what `hyperprop mutants --set unseen2 --list` lists; --unseen with another set is refused', () => {
    const listed = execFileSync(
      process.execPath,
      ['--conditions=hyperprop-source', 'scripts/hyperprop-sources.js', 'mutants', '--set', 'unseen2', '--list'],
      { encoding: 'utf8' },
    )
      .trim()
      .split('\n')
      .map((l) => l.split(/\s+/)[0]);
    expect(listed).toEqual(UNSEEN2_MUTANTS.map((m) => m.name));
    const both = cli(['mutants', '--unseen', '--set', 'unseen2', '--list']);
    expect(both.status).toBe(2);
    expect(both.stderr.trim().split('\n')).toHaveLength(1);
  });
});

describe.each(UNSEEN2_MUTANTS.map((m) => [m.name, m] as const))('%s: its hand witness', (_name, m) => {
  it('is as long as the hand-derived minimum', () => {
    expect(m.witness.ops.length).toBe(m.minimal);
  });

  it('passes on the correct base preset, for every property', () => {
    expectBasePassesWitness(m);
  });

  it('fails the mutant’s own property at its last operation', () => {
    const failure = witnessFailure(m);
    expect(failure, m.property).toBeDefined();
    expect(failure!.step).toBe(m.minimal - 1);
  });
});
