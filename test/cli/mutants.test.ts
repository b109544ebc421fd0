/** `hyperprop mutants`, run as a user runs it: the table, JSON, exit codes, bad usage. */
import { describe, expect, it } from 'vitest';
import { MUTANTS } from '../../mutants/catalog.ts';
import { UNSEEN_MUTANTS } from '../../mutants/unseen/index.ts';
import { hasStackTrace, hyperprop } from './support.ts';

describe('hyperprop mutants', () => {
  it('--list names every mutant of the catalog, one per line, exit 0', async () => {
    const r = await hyperprop(['mutants', '--list']);
    expect(r.status).toBe(0);
    const names = r.stdout
      .trim()
      .split('\n')
      .map((l) => l.split(/\s+/)[0]);
    expect(names).toEqual(MUTANTS.map((m) => m.name));
  });

  it('kills the named mutants for every seed, shrunk to the hand-derived minimum; json and text agree; exit 0', async () => {
    const args = ['mutants', 'ept-timer-not-exiting', 'ept-shared-vpid', '--seeds', '3', '--seed', '5'];
    const j = await hyperprop([...args, '--reporter', 'json']);
    expect(j.stderr).toBe('');
    expect(j.status).toBe(0);
    const report = JSON.parse(j.stdout) as {
      seeds: number;
      mutants: {
        mutant: string;
        killed: number;
        seeds: number;
        shrunkLengths: number[];
        minimalLength: number;
        caughtBy: Record<string, number>;
      }[];
    };
    expect(report.mutants.map((m) => m.mutant)).toEqual(['ept-timer-not-exiting', 'ept-shared-vpid']);
    for (const m of report.mutants) {
      expect(m.killed).toBe(3);
      expect(m.shrunkLengths).toEqual([m.minimalLength, m.minimalLength, m.minimalLength]);
      expect(m.caughtBy).toEqual({ 'resource-control': 3 });
    }
    const t = await hyperprop(args);
    expect(t.status).toBe(0);
    expect(t.stdout).toMatch(/^ept-timer-not-exiting\s+interrupts\s+resource-control\s+3\/3/m);
    expect(t.stdout).toContain('2 mutant(s) x 3 seed(s): 6/6 runs killed');
  });

  it('exit 1 when a mutant survives its budget', async () => {
    // One generated sequence cannot hold the five operations this flaw needs (mutants/mmu.ts).
    const r = await hyperprop(['mutants', 'shadow-no-invlpg-sync', '--runs', '1']);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('SURVIVED: shadow-no-invlpg-sync');
  });

  it('--unseen --list names every mutant of the frozen unseen set and none of the catalog, exit 0', async () => {
    const r = await hyperprop(['mutants', '--unseen', '--list']);
    expect(r.status).toBe(0);
    const names = r.stdout
      .trim()
      .split('\n')
      .map((l) => l.split(/\s+/)[0]);
    expect(names).toEqual(UNSEEN_MUTANTS.map((m) => m.name));
    expect(names.filter((n) => MUTANTS.some((m) => m.name === n))).toEqual([]);
  });

  it('--unseen runs the named unseen mutants through the catalog runner and reports the same JSON, with the set named', async () => {
    // A budget of 2 sequences: whether it is killed is what bench/RESULTS.md measures, not asserted here.
    const r = await hyperprop([
      'mutants',
      '--unseen',
      'ept-notify-port-open',
      '--runs',
      '2',
      '--seeds',
      '2',
      '--reporter',
      'json',
    ]);
    expect([0, 1]).toContain(r.status);
    const report = JSON.parse(r.stdout) as {
      set: string;
      runs: number;
      seeds: number;
      mutants: {
        mutant: string;
        base: string;
        property: string;
        minimalLength: number;
        seeds: number;
        outcomes: unknown[];
      }[];
    };
    expect(report.set).toBe('unseen');
    expect(report.runs).toBe(2);
    expect(
      report.mutants.map((m) => [m.mutant, m.base, m.property, m.minimalLength, m.seeds, m.outcomes.length]),
    ).toEqual([['ept-notify-port-open', 'ept', 'equivalence', 1, 2, 2]]);
  });

  it('--unseen knows only the unseen set, and the catalog only the catalog: bad usage, exit 2', async () => {
    for (const args of [
      ['mutants', '--unseen', MUTANTS[0]!.name],
      ['mutants', UNSEEN_MUTANTS[0]!.name],
    ]) {
      const r = await hyperprop(args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(hasStackTrace(r.stderr)).toBe(false);
    }
  });

  it('bad usage: one line on standard error, exit 2', async () => {
    for (const args of [
      ['mutants', 'no-such-mutant'],
      ['mutants', '--seeds', '0'],
      ['mutants', '--runs', 'many'],
      ['mutants', '--reporter', 'xml'],
    ]) {
      const r = await hyperprop(args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(hasStackTrace(r.stderr)).toBe(false);
    }
  });
});
