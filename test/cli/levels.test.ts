/**
 * A user's own designs checked whole from the command line (issue 27): a system-call-level design
 * file, an `ept`-based design file whose network is flawed (found by a plain `check --design FILE`:
 * network scenarios run by default for a design with a network), and `check --baseline`. Every
 * design file is written here, in a temporary folder, against the public API (index.ts), and run
 * through the real command.
 *
 * The flaws are one change each, written by hand; what each must break follows from the model's
 * rules, not from a run of the checker:
 * - a container whose groups all get guest 0's network namespace: one guest's `send` reaches
 *   another's `recv`, which its own kernel alone answers -EAGAIN (isolation, equivalence);
 * - an `ept` bridge that looks up an arriving frame's destination one MAC too high: a frame from the
 *   world for guest 0 (MAC 0x10) reaches guest 1 (0x11), where the ideal switch gives it to guest 0;
 * - `bt` whose guest switch keeps the untagged TLB (bt has no VPID: SDM Vol. 3 §28.1: without VPIDs
 *   the TLB must be flushed on a switch of address space): the next guest uses the previous guest's
 *   translations, so it reaches a frame that is not its own (resource control). `bt` itself holds
 *   resource control, so its baseline does not explain this failure.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hasStackTrace, hyperprop, ROOT, tempDir } from './support.ts';

const API = JSON.stringify(join(ROOT, 'index.ts'));

/** A design file in `dir` (its text imports the public API). */
const designFile = (dir: string, name: string, text: string): string => {
  const file = join(dir, name);
  writeFileSync(file, `import * as api from ${API};\n${text}\n`);
  return file;
};

/** The report's row of (design, property): `held`, `FAILED` or `ERROR`. */
const verdict = (stdout: string, design: string, property: string): string | undefined =>
  new RegExp(`^${design}\\s+${property}\\s+(\\S+)`, 'm').exec(stdout)?.[1];

describe('hyperprop check --design FILE of the system-call level', () => {
  const dir = tempDir();
  const copy = designFile(
    dir,
    'my-container.ts',
    "export const design = api.syscall.containerDesign({ name: 'my-container', description: 'an unmodified copy of container' });",
  );
  const flaw = designFile(
    dir,
    'shared-netns.ts',
    [
      '// One change: every guest’s process group is put in guest 0’s network namespace.',
      'export const design = api.syscall.containerDesign({',
      "  name: 'shared-netns',",
      "  description: 'container with one network namespace for all guests',",
      "  group: (g, guest) => ({ ...api.syscall.containerGroup(g, guest), netns: 'c0' }),",
      '});',
    ].join('\n'),
  );

  it('an unmodified copy of container holds what container holds (isolation, resource control)', async () => {
    const r = await hyperprop(
      [
        'check',
        '--design',
        copy,
        '--property',
        'isolation',
        '--property',
        'resource-control',
        '--seed',
        '1',
        '--no-corpus',
        '--no-out',
      ],
      dir,
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(verdict(r.stdout, 'my-container', 'isolation')).toBe('held');
    expect(verdict(r.stdout, 'my-container', 'resource-control')).toBe('held');
  }, 120_000);

  it('a shared network namespace fails isolation with a 2-call trace, saved, and replays only with --design FILE', async () => {
    const out = join(dir, 'out');
    const r = await hyperprop(
      ['check', '--design', flaw, '--property', 'isolation', '--seed', '1', '--no-corpus', '--out', out],
      dir,
    );
    expect(r.status).toBe(1);
    expect(verdict(r.stdout, 'shared-netns', 'isolation')).toBe('FAILED');
    // Shrunk to the two calls that show it: a send by one guest, the other's recv on the same port.
    expect(r.stdout).toMatch(/shrunk to 2 operation\(s\) on 2 guest\(s\)/);
    expect(r.stdout).toMatch(/guest \d: send\(port=0/);
    expect(r.stdout).toMatch(/guest \d: recv\(port=0\)/);
    const [saved] = readdirSync(out).filter((f) => f.endsWith('.json'));
    const file = join(out, saved!);
    const c = JSON.parse(readFileSync(file, 'utf8'));
    expect(c.format).toBe('hyperprop-syscall-counterexample');
    expect(c.design).toMatchObject({ kind: 'file', name: 'shared-netns' });
    // The file names its design; replay never loads it from there.
    const [alone, withFile, onCopy] = await Promise.all([
      hyperprop(['replay', file], dir),
      hyperprop(['replay', file, '--design', flaw], dir),
      hyperprop(['replay', file, '--design', copy], dir),
    ]);
    expect(alone.status).toBe(2);
    expect(alone.stderr.trim().split('\n')).toHaveLength(1);
    expect(alone.stderr).toMatch(/pass --design .*shared-netns\.ts/);
    expect(withFile.status).toBe(1);
    expect(withFile.stdout).toMatch(/still fails: isolation at step 1 \(the divergence recorded\)/);
    // On the unmodified copy (another file: the replay says so) the same calls hold.
    expect(onCopy.status).toBe(0);
    expect(onCopy.stdout).toMatch(/note: the design file differs/);
    expect(onCopy.stdout).toMatch(/now holds: isolation/);
  }, 120_000);

  it('with --baseline container, the copy holds every property and the flaw is still found', async () => {
    const [onCopy, onFlaw] = await Promise.all([
      hyperprop(
        [
          'check',
          '--design',
          copy,
          '--baseline',
          'container',
          '--runs',
          '30',
          '--seed',
          '1',
          '--no-corpus',
          '--no-out',
        ],
        dir,
      ),
      hyperprop(
        [
          'check',
          '--design',
          flaw,
          '--baseline',
          'container',
          '--property',
          'isolation',
          '--seed',
          '1',
          '--no-corpus',
          '--no-out',
        ],
        dir,
      ),
    ]);
    // container fails equivalence (kernel-mode instructions) and fault containment (README): its copy
    // fails them the same way at the same step, so nothing counts.
    expect(onCopy.status).toBe(0);
    expect(onCopy.stdout).toMatch(/all held: 4 held, 0 failed/);
    expect(onCopy.stdout).toMatch(/^baseline container: /m);
    expect(onFlaw.status).toBe(1);
    expect(verdict(onFlaw.stdout, 'shared-netns', 'isolation')).toBe('FAILED');
  }, 120_000);
});

describe('network scenarios by default for a design with a network', () => {
  const dir = tempDir();
  const flaw = designFile(
    dir,
    'bridge-off-by-one.ts',
    [
      'const bridge = api.bridgeBackEnd();',
      '// One change: an arriving frame’s destination is looked up one MAC too high.',
      'export const design = api.composeDesign({',
      '  ...api.ept,',
      "  name: 'bridge-off-by-one',",
      "  description: 'ept whose bridge hands a frame from the world to the next guest',",
      '  network: { ...bridge, receive: (d, h, f) => bridge.receive(d, h, api.frame(api.frameSrc(f), api.frameDst(f) + 1, f & 0xffff)) },',
      '});',
    ].join('\n'),
  );

  it('a plain check --design FILE fails on the bridge flaw; --no-network does not look', async () => {
    const args = ['check', '--design', flaw, '--property', 'equivalence', '--seed', '1', '--no-corpus', '--no-out'];
    const [plain, off] = await Promise.all([hyperprop(args, dir), hyperprop([...args, '--no-network'], dir)]);
    expect(plain.status).toBe(1);
    expect(verdict(plain.stdout, 'bridge-off-by-one', 'equivalence')).toBe('FAILED');
    // The shrunk trace is one frame arriving from the world.
    expect(plain.stdout).toMatch(/shrunk to 1 operation\(s\)/);
    expect(off.status).toBe(0);
    expect(verdict(off.stdout, 'bridge-off-by-one', 'equivalence')).toBe('held');
  }, 120_000);
});

describe('hyperprop check --baseline', () => {
  const dir = tempDir();
  const copy = designFile(
    dir,
    'my-bt.ts',
    "export const design = api.composeDesign({ ...api.bt, name: 'my-bt', description: 'an unmodified copy of bt' });",
  );
  const flaw = designFile(
    dir,
    'bt-keeps-tlb.ts',
    [
      '// One change: the guest switch keeps the untagged TLB it should flush.',
      'export const design = api.composeDesign({',
      '  ...api.bt,',
      "  name: 'bt-keeps-tlb',",
      "  description: 'bt whose guest switch does not flush the TLB',",
      '  switchTo: (h, to) => ({ ...api.bt.switchTo(h, to), tlb: h.tlb }),',
      '});',
    ].join('\n'),
  );

  it('an unmodified copy of bt fails its documented user-mode equivalence without a baseline, and nothing with --baseline bt', async () => {
    const base = ['check', '--design', copy, '--seed', '1', '--no-corpus', '--no-out'];
    const [without, against] = await Promise.all([
      hyperprop([...base, '--property', 'equivalence'], dir),
      // Fewer runs for the copy against its baseline: every failure of the copy is explained, whatever the count.
      hyperprop([...base, '--baseline', 'bt', '--runs', '30'], dir),
    ]);
    expect(without.status).toBe(1);
    expect(verdict(without.stdout, 'my-bt', 'equivalence')).toBe('FAILED');
    expect(against.stderr).toBe('');
    expect(against.status).toBe(0);
    expect(against.stdout).toMatch(/all held: 4 held, 0 failed/);
  }, 180_000);

  it('a one-change flaw of bt is reported against --baseline bt, saved with it, and replay applies it', async () => {
    const out = join(dir, 'out');
    const r = await hyperprop(
      [
        'check',
        '--design',
        flaw,
        '--baseline',
        'bt',
        '--property',
        'resource-control',
        '--runs',
        '400',
        '--seed',
        '1',
        '--no-corpus',
        '--out',
        out,
      ],
      dir,
    );
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/^baseline bt: /m);
    expect(verdict(r.stdout, 'bt-keeps-tlb', 'resource-control')).toBe('FAILED');
    const [saved] = readdirSync(out).filter((f) => f.endsWith('.json'));
    const file = join(out, saved!);
    expect(JSON.parse(readFileSync(file, 'utf8')).baseline).toEqual({ kind: 'preset', name: 'bt' });
    const replay = await hyperprop(['replay', file, '--design', flaw], dir);
    expect(replay.status).toBe(1);
    expect(replay.stdout).toMatch(/note: found against baseline bt, applied again/);
    expect(replay.stdout).toMatch(/still fails: resource-control/);
  }, 180_000);

  it('bad baselines get one line and exit 2', async () => {
    writeFileSync(join(dir, 'nothing.ts'), 'export const unrelated = 1;\n');
    const runs = await Promise.all([
      hyperprop(['check', '--baseline', 'nosuch', '--no-corpus'], dir),
      hyperprop(['check', '--baseline', join(dir, 'nothing.ts'), '--no-corpus'], dir),
      hyperprop(['check', '--baseline', 'container', '--design', 'ept', '--no-corpus'], dir),
    ]);
    for (const r of runs) {
      expect(r.status).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(hasStackTrace(r.stderr)).toBe(false);
    }
    expect(runs[0]!.stderr).toMatch(/--baseline: unknown design 'nosuch'/);
    expect(runs[1]!.stderr).toMatch(/--baseline: design file .*nothing\.ts does not export a design/);
    expect(runs[2]!.stderr).toMatch(/--baseline container is a system-call-level design and ept is not/);
  }, 60_000);
});
