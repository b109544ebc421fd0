/**
 * A counterexample is named by what it is (design, property, initial machine, operations), not by
 * how it was found: two seeds that shrink to the same counterexample save one file. (Before, the
 * seed and the fast-check path were hashed too, so the README's CI recipe filled the corpus with
 * copies of one bug.)
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { counterexampleFileName, toCounterexampleFile } from '../../cli/counterexample.ts';
import { PRESETS } from '../../model/index.ts';
import { check } from '../../properties/check.ts';
import { hyperprop, tempDir } from './support.ts';

describe('counterexamples named by content', () => {
  it('the name ignores seed, path, model version and divergence text, and follows design, property, machine and operations', () => {
    const [r] = check(PRESETS.classic!, { properties: ['equivalence'], runs: 20, seed: 2 });
    const c = toCounterexampleFile({ kind: 'preset', name: 'classic' }, 'equivalence', r!.counterexample!);
    const name = counterexampleFileName(c);
    expect(counterexampleFileName({ ...c, seed: 99, path: '7:7', modelVersion: '9.9.9' })).toBe(name);
    expect(counterexampleFileName({ ...c, divergence: { ...c.divergence, message: 'other words' } })).toBe(name);
    expect(counterexampleFileName({ ...c, design: { kind: 'preset', name: 'bt' } })).not.toBe(name);
    expect(counterexampleFileName({ ...c, property: 'efficiency' })).not.toBe(name);
    const regs = c.initial.guests[0]!.regs;
    const guests = [{ ...c.initial.guests[0]!, regs: [regs[0] ^ 1, regs[1], regs[2], regs[3]] as const }];
    expect(counterexampleFileName({ ...c, initial: { ...c.initial, guests } })).not.toBe(name);
    expect(counterexampleFileName({ ...c, ops: [...c.ops, c.ops[0]!] })).not.toBe(name);
  });

  it('two seeds that shrink to the same counterexample save one file', async () => {
    // Find two seeds whose shrunk scenarios are equal, by comparing the scenarios themselves.
    const seen = new Map<string, number>();
    let pair: [number, number] | undefined;
    for (let seed = 1; seed <= 12 && !pair; seed++) {
      const [r] = check(PRESETS.classic!, { properties: ['equivalence'], runs: 20, seed });
      const s = r!.counterexample?.scenario;
      if (!s) continue;
      const key = JSON.stringify(s);
      const before = seen.get(key);
      if (before !== undefined) pair = [before, seed];
      else seen.set(key, seed);
    }
    expect(pair).toBeDefined();
    const out = tempDir();
    const run = (seed: number) =>
      hyperprop([
        'check',
        '--design',
        'classic',
        '--property',
        'equivalence',
        '--runs',
        '20',
        '--seed',
        String(seed),
        '--no-corpus',
        '--out',
        out,
        '--reporter',
        'json',
      ]);
    const [a, b] = await Promise.all([run(pair![0]), run(pair![1])]);
    expect([a.status, b.status]).toEqual([1, 1]);
    const fileOf = (stdout: string) => JSON.parse(stdout).results[0].counterexample.file as string;
    expect(fileOf(a.stdout)).toBe(fileOf(b.stdout));
    expect(readdirSync(out)).toEqual([fileOf(a.stdout).split('/').pop()]);
    // The file is whole (atomic writes): one of the two finders' seeds, a valid document.
    expect(pair).toContain(JSON.parse(readFileSync(fileOf(a.stdout), 'utf8')).seed);
  }, 120_000);
});
