/** The system-call-level designs through the real `hyperprop` command: check, list, bad input. */

import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hyperprop, tempDir } from '../cli/support.ts';

const untimed = (json: string) => JSON.stringify(JSON.parse(json, (k, v) => (k === 'durationMs' ? undefined : v)));

describe('hyperprop at the system-call level', () => {
  it('check --workers 2 runs system-call-level items in the worker threads too, with the same report', async () => {
    const args = ['check', '--design', 'container', '--design', 'ept', '--property', 'isolation'];
    const rest = ['--property', 'equivalence', '--runs', '40', '--seed', '3', '--no-corpus', '--no-out'];
    const [one, two] = await Promise.all([
      hyperprop([...args, ...rest, '--reporter', 'json']),
      hyperprop([...args, ...rest, '--reporter', 'json', '--workers', '2']),
    ]);
    expect(one.status, one.stderr).toBe(1); // a container fails equivalence (its own kernel: README)
    expect(untimed(two.stdout)).toBe(untimed(one.stdout));
    const rows = JSON.parse(one.stdout).results.map(
      (r: { design: string; property: string }) => `${r.design}/${r.property}`,
    );
    expect(rows).toEqual(['ept/isolation', 'ept/equivalence', 'container/isolation', 'container/equivalence']);
  });

  it('check --design container: isolation and resource control hold (exit 0)', async () => {
    const r = await hyperprop([
      'check',
      '--design',
      'container',
      '--property',
      'isolation',
      '--property',
      'resource-control',
      '--runs',
      '60',
      '--seed',
      '3',
      '--no-corpus',
    ]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^container\s+isolation\s+held\s+60/m);
    expect(r.stdout).toMatch(/^container\s+resource-control\s+held\s+60/m);
  });

  it('check --design container: fault containment fails with the shrunk crash shown (exit 1)', async () => {
    const r = await hyperprop([
      'check',
      '--design',
      'container',
      '--property',
      'fault-containment',
      '--runs',
      '200',
      '--seed',
      '3',
      '--no-corpus',
      '--no-out',
    ]);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/^container\s+fault-containment\s+FAILED/m);
    expect(r.stdout).toMatch(/crash\(\)/);
    expect(r.stdout).toMatch(/finds its kernel down/);
  });

  it('list shows the designs and fault containment; an unknown design or property is one line, exit 2', async () => {
    const [list, design, property] = await Promise.all([
      hyperprop(['list', '--reporter', 'json']),
      hyperprop(['check', '--design', 'containr']),
      hyperprop(['check', '--design', 'container', '--property', 'fault']),
    ]);
    const l = JSON.parse(list.stdout) as { syscallDesigns: { name: string }[]; syscallProperties: { name: string }[] };
    expect(l.syscallDesigns.map((d) => d.name)).toEqual(['container', 'vm-shadow', 'vm-ept', 'api-translation']);
    expect(l.syscallProperties.map((p) => p.name)).toContain('fault-containment');
    for (const r of [design, property]) {
      expect(r.status).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });

  it('saves a failure as a counterexample file that replay runs again (exit 1) and that the corpus replays', async () => {
    const cwd = tempDir();
    const check = await hyperprop(
      [
        'check',
        '--design',
        'container',
        '--property',
        'fault-containment',
        '--runs',
        '200',
        '--seed',
        '3',
        '--out',
        'cx',
      ],
      cwd,
    );
    expect(check.status).toBe(1);
    const [file] = readdirSync(join(cwd, 'cx'));
    expect(file).toMatch(/^container\.fault-containment\.[0-9a-f]{16}\.json$/);
    const saved = JSON.parse(readFileSync(join(cwd, 'cx', file!), 'utf8'));
    expect(saved.ops.map((o: { call: { kind: string } }) => o.call.kind)).toContain('crash');
    const [replay, corpus] = await Promise.all([
      hyperprop(['replay', join('cx', file!)], cwd),
      hyperprop(
        ['check', '--design', 'vm-ept', '--property', 'fault-containment', '--runs', '5', '--corpus', 'cx', '--no-out'],
        cwd,
      ),
    ]);
    expect(replay.status).toBe(1);
    expect(replay.stdout).toMatch(/still fails: fault-containment at step \d+ \(the divergence recorded\)/);
    // The saved scenario is the container's; a run of vm-ept alone skips it.
    expect(corpus.stdout).toMatch(/1 not in this run/);
    writeFileSync(join(cwd, 'cx', file!), JSON.stringify({ ...saved, guests: [] }));
    const bad = await hyperprop(['replay', join('cx', file!)], cwd);
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
  });
});
