/**
 * hyperprop/vitest's pieces, in this repository's own vitest: one property of one design run as
 * `hyperprop check` runs it, the failure message (what failed, the seed and path, how to replay,
 * then the shrunk trace with the first divergence), and the saved counterexample replaying with the
 * real command. (A user's vitest suite through the packed package: test/package/.)
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { composeDesign, ept } from 'hyperprop';
import { checkDesign, designRef, runProperty } from 'hyperprop/vitest';
import { describe, expect, it } from 'vitest';
import { design as sharedVpid } from '../cli/fixtures/shared-vpid.ts';
import { FIXTURES, hyperprop, tempDir } from '../cli/support.ts';

const FILE = join(FIXTURES, 'shared-vpid.ts');

describe('hyperprop/vitest', () => {
  it('a flawed design: the message says what failed, the seed, how to replay, and the trace; the file replays', async () => {
    const out = tempDir();
    const { result, message } = await runProperty(sharedVpid, 'equivalence', { seed: 1, runs: 50, file: FILE, out });
    expect(result.status).toBe('failed');
    const lines = message!.split('\n');
    expect(lines[0]).toMatch(
      /^equivalence FAILED on ept-shared-vpid: found after \d+ run\(s\), shrunk to \d+ operation\(s\) on \d+ guest\(s\)$/,
    );
    expect(lines[1]).toMatch(
      /^seed 1, path [\d:]+; replay: npx hyperprop replay \S+\.json --design \S+shared-vpid\.ts$/,
    );
    expect(message).toContain('<-- first divergence');
    expect(message).toContain(result.counterexample!.rendering);
    // The saved file names the design file by content, so replay matches it without a note.
    const saved = JSON.parse(readFileSync(result.counterexample!.file!, 'utf8'));
    expect(saved.design).toMatchObject({ kind: 'file', name: 'ept-shared-vpid' });
    const r = await hyperprop(['replay', result.counterexample!.file!, '--design', FILE]);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/still fails: equivalence at step \d+ \(the divergence recorded\)/);
    expect(r.stdout).not.toMatch(/^note:/m);
  });

  it('a design that holds: no message; same seed, same result', async () => {
    const a = await runProperty(ept, 'isolation', { seed: 3, runs: 20, out: false });
    const b = await runProperty(ept, 'isolation', { seed: 3, runs: 20, out: false });
    expect(a.message).toBeUndefined();
    expect(a.result.status).toBe('passed');
    expect({ ...a.result, durationMs: 0 }).toEqual({ ...b.result, durationMs: 0 });
  });

  it('a preset is named by its name; a design of the user own needs the file that exports it, unless nothing is saved', () => {
    expect(designRef(ept, undefined)).toEqual({ kind: 'preset', name: 'ept' });
    const mine = composeDesign({ ...ept, name: 'ept', description: 'not the preset, though named so' });
    expect(designRef(mine, undefined)).toBeUndefined();
    expect(designRef(sharedVpid, FILE)).toMatchObject({ kind: 'file', path: 'test/cli/fixtures/shared-vpid.ts' });
    expect(() => checkDesign(mine)).toThrow(/checkDesign: 'ept' is not a preset: pass file/);
    expect(() => checkDesign(ept, { properties: ['speed' as 'efficiency'] })).toThrow(/unknown property 'speed'/);
  });
});
