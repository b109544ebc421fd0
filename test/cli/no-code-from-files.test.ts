/**
 * A counterexample file is data: no field of any file the command reads makes it load or run code.
 * Scripts that would write a marker file are planted next to hostile files naming them (as a
 * preset's name, as a design file's path, by absolute, relative and bare name and as a file: URL,
 * in every script flavour a loader would import); every verb that reads files reads them, and the
 * marker must never appear. (Before the fix, `replay` of a file whose preset name was a path
 * imported that path and then said "no preset named …": issue 18, item 1.)
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeEach, describe, expect, it } from 'vitest';
import { encodeCounterexample, toCounterexampleFile } from '../../cli/counterexample.ts';
import { plainGuestSpec } from '../../generators/reference.ts';
import { DEFAULT_GEOMETRY } from '../../model/geometry.ts';
import { hasStackTrace, hyperprop, tempDir } from './support.ts';

const MARKER = 'PWNED';

/** A folder with marker-writing scripts of every flavour; returns their absolute paths. */
const plantScripts = (dir: string): string[] => {
  const marker = JSON.stringify(join(dir, MARKER));
  const cjs = `require('node:fs').writeFileSync(${marker}, 'ran');\nmodule.exports = {};\n`;
  const esm = `import { writeFileSync } from 'node:fs';\nwriteFileSync(${marker}, 'ran');\nexport const design = {};\n`;
  const files: [string, string][] = [
    ['evil.cjs', cjs],
    ['evil.js', cjs],
    ['evil.mjs', esm],
    ['evil.ts', esm],
    ['evil.mts', esm],
    ['evil.cts', cjs],
  ];
  for (const [name, body] of files) writeFileSync(join(dir, name), body);
  return files.map(([name]) => join(dir, name));
};

/** Ways a file could name a script: every flavour by absolute path; the first also relative, bare, as a URL. */
const namesFor = (dir: string, scripts: readonly string[]): string[] => {
  const base = scripts[0]!.slice(dir.length + 1);
  return [...scripts, `./${base}`, base, pathToFileURL(scripts[0]!).href, `${dir}/../${dir.split('/').pop()}/${base}`];
};

/** Run `tasks` two at a time (the machine is shared: no burst of processes). */
const inTurn = async <T>(tasks: readonly (() => Promise<T>)[]): Promise<T[]> => {
  const out: T[] = new Array(tasks.length);
  let next = 0;
  const lane = async () => {
    while (next < tasks.length) {
      const i = next++;
      out[i] = await tasks[i]!();
    }
  };
  await Promise.all([lane(), lane()]);
  return out;
};

const valid = toCounterexampleFile({ kind: 'preset', name: 'classic' }, 'equivalence', {
  seed: 1,
  path: '0',
  scenario: {
    geometry: DEFAULT_GEOMETRY,
    guests: [plainGuestSpec(DEFAULT_GEOMETRY, 0)],
    ops: [{ guest: 0, op: { kind: 'sldt', dst: 0 } }],
  },
  failure: { step: 0, guest: 0, message: 'recorded' },
});

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

interface Hostile {
  /** Machine-level files naming a script as a preset (one per name). */
  readonly presets: string[];
  /** Machine-level files naming a script as a design file, system-call-level files, conformance findings. */
  readonly others: string[];
  readonly findings: string[];
}

/** Hostile files (both levels, and conformance findings) naming the scripts in `dir`. */
const plantFiles = (dir: string, scripts: readonly string[]): Hostile => {
  const h: Hostile = { presets: [], others: [], findings: [] };
  let n = 0;
  const put = (into: string[], value: unknown) => {
    const f = join(dir, `hostile-${n++}.json`);
    writeFileSync(f, JSON.stringify(value));
    into.push(f);
  };
  const machine = JSON.parse(encodeCounterexample(valid));
  for (const name of namesFor(dir, scripts)) {
    put(h.presets, { ...machine, design: { kind: 'preset', name } });
    put(h.others, { ...machine, design: { kind: 'file', name, path: name, sha256: sha(name) } });
    put(h.others, {
      format: 'hyperprop-syscall-counterexample',
      formatVersion: 1,
      modelVersion: '0.1.0',
      design: { kind: 'preset', name },
      property: 'isolation',
      seed: 1,
      path: '0',
      guests: [{ quota: 4, abi: 'host' }],
      ops: [{ guest: 0, call: { kind: 'getpids' } }],
      divergence: { step: 0, message: 'recorded' },
    });
    // A conformance finding whose every text field names the script.
    put(h.findings, {
      format: 'hyperprop-conformance-finding/1',
      kind: name,
      accel: name,
      seed: 1,
      machine: name,
      ops: [name],
    });
  }
  return h;
};

const noStack = (r: { stdout: string; stderr: string }) => {
  expect(hasStackTrace(r.stderr)).toBe(false);
  expect(hasStackTrace(r.stdout)).toBe(false);
};

describe('no file the command reads makes it run code', () => {
  const dir = tempDir();
  const scripts = plantScripts(dir);
  const files = plantFiles(dir, scripts);
  const all = [...files.presets, ...files.others, ...files.findings];
  const marker = join(dir, MARKER);
  // Each verb is judged on its own.
  beforeEach(() => rmSync(marker, { force: true }));

  it('the planted scripts do write the marker when run (the test can fail)', async () => {
    const probe = tempDir();
    const [script] = plantScripts(probe);
    const { execFileSync } = await import('node:child_process');
    execFileSync(process.execPath, [script!]);
    expect(existsSync(join(probe, MARKER))).toBe(true);
  });

  it('replay: the files naming a script as a preset (one line each), then every hostile file at once: exit 2, no marker', async () => {
    // Every file naming a script as a preset, in one run: each gets its line.
    const one = await hyperprop(['replay', ...files.presets], dir);
    expect(one.status).toBe(2);
    noStack(one);
    const lines = one.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(files.presets.length);
    for (const line of lines)
      expect(line).toMatch(/^hyperprop replay: .*hostile-\d+\.json: at design\.name: no preset named/);
    expect(existsSync(marker)).toBe(false);
    const [text, json] = await inTurn([
      () => hyperprop(['replay', ...files.others, ...files.findings, ...files.presets], dir),
      () => hyperprop(['replay', '--reporter', 'json', '--design', 'classic', ...all], dir),
    ]);
    for (const r of [text!, json!]) {
      expect(r.status).toBe(2);
      noStack(r);
    }
    expect(existsSync(marker)).toBe(false);
  });

  it("check's corpus replay: the hostile files in the corpus (machine and system-call level): no marker", async () => {
    const corpus = join(tempDir(), 'corpus');
    mkdirSync(corpus);
    for (const f of [...files.presets, ...files.others])
      writeFileSync(join(corpus, f.split('/').pop()!), readFileSync(f));
    expect(readdirSync(corpus).length).toBeGreaterThan(0);
    const r = await hyperprop(
      [
        'check',
        '--design',
        'classic',
        '--design',
        'container',
        '--runs',
        '1',
        '--seed',
        '1',
        '--no-out',
        '--corpus',
        corpus,
      ],
      dir,
    );
    noStack(r);
    expect(existsSync(marker)).toBe(false);
  });

  it('conform --replay of a hostile finding: exit 2 with one line, no marker', async () => {
    const runs = await inTurn(
      files.findings.slice(0, 2).map((f) => () => hyperprop(['conform', '--replay', f, '--accel', 'tcg'], dir)),
    );
    for (const r of runs) {
      noStack(r);
      expect(r.status).toBe(2);
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    }
    expect(existsSync(marker)).toBe(false);
  });

  it('mutants take names from the catalog only: a mutant named like a script is unknown, no marker', async () => {
    const r = await hyperprop(['mutants', scripts[0]!], dir);
    expect(r.status).toBe(2);
    noStack(r);
    expect(existsSync(marker)).toBe(false);
  });
});
