/**
 * Round trip: every counterexample the checker finds on the broken designs, saved to a file and
 * replayed by the real command in a new process, gives the same first divergence.
 */
import { join } from 'node:path';
import { check, PRESETS, type PropertyName } from 'hyperprop';
import { describe, expect, it } from 'vitest';
import { type DesignRef, saveCounterexample, toCounterexampleFile } from '../../cli/counterexample.ts';
import { loadDesign } from '../../cli/designs.ts';
import { FIXTURES, hyperprop, tempDir } from './support.ts';

describe('save, replay in a new process, same divergence', () => {
  it('holds for at least 200 counterexamples found across the broken designs', async () => {
    const dir = tempDir();
    const vpidFile = join(FIXTURES, 'shared-vpid.ts');
    const vpid = await loadDesign(vpidFile);
    const timer = await loadDesign(join(FIXTURES, 'timer-not-exiting.ts'));
    // (design, its reference in the file, property, seeds, scenario options): cheap searches first.
    // (design, its reference in the file, property, how many to find, scenario options): cheap searches.
    const plan: [typeof vpid.design, DesignRef, PropertyName, number, object][] = [
      [vpid.design, vpid.ref, 'resource-control', 80, { maxOps: 4, minGuests: 2 }],
      [timer.design, timer.ref, 'resource-control', 60, { maxOps: 8 }],
      [PRESETS.classic!, { kind: 'preset', name: 'classic' }, 'equivalence', 40, { maxOps: 3 }],
      [PRESETS.bt!, { kind: 'preset', name: 'bt' }, 'equivalence', 10, { maxOps: 3 }],
      [PRESETS['xen-pv']!, { kind: 'preset', name: 'xen-pv' }, 'equivalence', 10, { maxOps: 3 }],
    ];
    const saved = new Map<string, object>();
    let found = 0;
    for (const [design, ref, property, want, opts] of plan) {
      let mine = 0;
      for (let seed = 1000; mine < want && seed < 1000 + 2 * want; seed++) {
        const [r] = check(design, { properties: [property], runs: 100, seed, ...opts });
        if (r!.status === 'passed') continue;
        mine++;
        const c = toCounterexampleFile(ref, property, r!.counterexample!);
        saved.set(saveCounterexample(dir, c), c.divergence);
      }
      expect(mine, `${design.name} ${property}`).toBe(want);
      found += mine;
    }
    expect(found).toBeGreaterThanOrEqual(200);
    const files = [...saved.keys()];
    const r = await hyperprop(['replay', '--reporter', 'json', '--design', vpidFile, '--design', timer.spec, ...files]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(1);
    const results = JSON.parse(r.stdout) as {
      file: string;
      status: string;
      failure: object;
      sameDivergence: boolean;
    }[];
    expect(results).toHaveLength(files.length);
    for (const x of results) {
      expect(x.status, x.file).toBe('fails');
      expect(x.failure, x.file).toEqual(saved.get(x.file));
      expect(x.sameDivergence).toBe(true);
    }
  });
});
