/**
 * `hyperprop conform` refuses what it cannot run and never mistakes QEMU's own failures for
 * findings (issue 27): `--accel kvm` with KVM made unusable (HYPERPROP_KVM_DEVICE pointing at a
 * missing file) is one line and exit 2 before any QEMU starts; a QEMU that fails to start or dies
 * (HYPERPROP_QEMU pointing at a script) is a harness error, exit 3, with QEMU's first error line,
 * and no finding file is saved. The scripts stand in for QEMU, so none of this needs a real QEMU.
 */
import { chmodSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hasStackTrace, hyperprop, tempDir } from './support.ts';

/** A stand-in QEMU: answers --version (so it counts as installed), logs every other start to `log`, then runs `body`. */
const fakeQemu = (dir: string, body: string): { bin: string; log: string } => {
  const bin = join(dir, 'fake-qemu');
  const log = join(dir, 'qemu-started.log');
  writeFileSync(
    bin,
    `#!/bin/sh\nif [ "$1" = "--version" ]; then echo "QEMU emulator version 0 (stand-in)"; exit 0; fi\necho "$@" >> '${log}'\n${body}\n`,
  );
  chmodSync(bin, 0o755);
  return { bin, log };
};

const noFindings = (out: string) => !existsSync(out) || readdirSync(out).length === 0;

describe('conform: what it cannot run', () => {
  it('--accel kvm with no KVM device: one line naming the device, exit 2, no QEMU started, nothing saved', async () => {
    const dir = tempDir();
    const { bin, log } = fakeQemu(dir, 'exit 0');
    const out = join(dir, 'findings');
    const missing = join(dir, 'no-such-kvm');
    const r = await hyperprop(['conform', '--accel', 'kvm', '--runs', '5', '--seed', '1', '--out', out], dir, {
      HYPERPROP_KVM_DEVICE: missing,
      HYPERPROP_QEMU: bin,
    });
    expect(r.status).toBe(2);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^hyperprop conform: --accel kvm: KVM is unusable here: .*no-such-kvm does not exist/);
    expect(hasStackTrace(r.stderr)).toBe(false);
    expect(r.stdout).toBe('');
    // Not even `--version`: the script logs every start except that, and the device check comes first.
    expect(existsSync(log)).toBe(false);
    expect(noFindings(out)).toBe(true);
  });

  it('--accel kvm with a device QEMU cannot use: the probe boot fails, so the run is refused (exit 2, nothing saved)', async () => {
    const dir = tempDir();
    // The device opens (a plain file), but QEMU under KVM fails as it does without a KVM module.
    const { bin, log } = fakeQemu(
      dir,
      'echo "Could not access KVM kernel module: No such file or directory" >&2\necho "qemu-system-i386: -accel kvm: failed to initialize kvm" >&2\nexit 1',
    );
    const dev = join(dir, 'kvm');
    writeFileSync(dev, '');
    const out = join(dir, 'findings');
    const r = await hyperprop(['conform', '--accel', 'kvm', '--runs', '5', '--seed', '1', '--out', out], dir, {
      HYPERPROP_KVM_DEVICE: dev,
      HYPERPROP_QEMU: bin,
    });
    expect(r.status).toBe(2);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('KVM is unusable here');
    expect(lines[0]).toContain('Could not access KVM kernel module: No such file or directory');
    // Exactly one start: the probe, under KVM; no campaign boot followed.
    expect(readFileSync(log, 'utf8').trimEnd().split('\n')).toHaveLength(1);
    expect(readFileSync(log, 'utf8')).toContain('-accel kvm');
    expect(noFindings(out)).toBe(true);
  });

  for (const [what, body, how] of [
    [
      'fails to start',
      'echo "qemu-system-i386: stand-in cannot open its ROM" >&2\necho "a second line" >&2\nexit 1',
      'exit status 1',
    ],
    ['dies (killed by a signal)', 'echo "qemu-system-i386: stand-in dies" >&2\nkill -9 $$', 'killed by a signal'],
  ] as const) {
    it(`a QEMU that ${what} is a harness error with its own message: exit 3, nothing counted, nothing saved`, async () => {
      const dir = tempDir();
      const { bin } = fakeQemu(dir, body);
      const out = join(dir, 'findings');
      const summary = join(dir, 'summary.json');
      const r = await hyperprop(
        ['conform', '--accel', 'tcg', '--runs', '5', '--seed', '1', '--out', out, '--json', summary],
        dir,
        { HYPERPROP_QEMU: bin },
      );
      expect(r.status).toBe(3);
      const last = r.stderr.trimEnd().split('\n').at(-1)!;
      expect(last).toMatch(/^hyperprop conform: harness error: QEMU \(.*fake-qemu\) /);
      expect(last).toContain(how);
      const first = body.split('\n')[0]!.replace(/^echo "(.*)" >&2$/, '$1');
      expect(last).toContain(first);
      expect(last).not.toContain('a second line');
      expect(hasStackTrace(r.stderr)).toBe(false);
      expect(noFindings(out)).toBe(true);
      const s = JSON.parse(readFileSync(summary, 'utf8'));
      // Nothing ran, so no accelerator is named and nothing is counted as a crash or disagreement.
      expect(s).toMatchObject({ accel: 'none', sequences: 0, crashes: 0, disagreements: 0, findings: [] });
      expect(s.harnessError).toContain(first);
    });
  }
});
