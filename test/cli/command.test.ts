/**
 * The real `hyperprop` command, spawned: every verb, every exit code, every reporter; JUnit that
 * parses as XML; shards that together do exactly the unsharded work; the same seed giving the same
 * JSON report; bad input answered with one line and exit 2, never a stack trace.
 */
import { copyFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import { schemaText } from '../../cli/list.ts';
import { FIXTURES, hasStackTrace, hyperprop, ROOT, tempDir } from './support.ts';

/** A JSON report without its timings. */
const untimed = (json: string) => JSON.stringify(JSON.parse(json, (k, v) => (k === 'durationMs' ? undefined : v)));

/** Results keyed by work item, for comparing shards with the whole. */
const byItem = (json: string) => {
  const r = JSON.parse(untimed(json)) as { results: { design: string; property: string; index: number }[] };
  return new Map(r.results.map((x) => [`${x.design}/${x.property}`, JSON.stringify(x)]));
};

const oneLineError = (r: { status: number | null; stdout: string; stderr: string }, pattern: RegExp) => {
  expect(r.status).toBe(2);
  expect(hasStackTrace(r.stderr)).toBe(false);
  expect(hasStackTrace(r.stdout)).toBe(false);
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
};

describe('hyperprop check', () => {
  const out = tempDir();
  const common = ['--seed', '7', '--runs', '10', '--no-corpus', '--out', out];

  it('text reporter: exit 0 when every property holds, a summary table, no progress bar off a terminal', async () => {
    const [r, fromFile] = await Promise.all([
      hyperprop(['check', '--design', 'shadow', '--property', 'efficiency', '--property', 'equivalence', ...common]),
      // A design file whose design is its default export.
      hyperprop(['check', '--design', join(FIXTURES, 'no-invlpg-sync.ts'), '--property', 'efficiency', ...common]),
    ]);
    expect(fromFile.status).toBe(0);
    expect(fromFile.stdout).toMatch(/shadow-no-invlpg-sync\s+efficiency\s+held/);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/design\s+property\s+result\s+runs/);
    expect(r.stdout).toMatch(/shadow\s+efficiency\s+held\s+10/);
    expect(r.stdout).toMatch(/^all held: 2 held, 0 failed; seed 7/m);
    expect(r.stderr).not.toMatch(/[\r\u2591\u2588]/);
  });

  it('json reporter: same seed, byte-identical reports (timings aside); workers and shards change nothing', async () => {
    const args = [
      'check',
      '--design',
      'classic',
      '--design',
      'ept',
      '--property',
      'equivalence',
      '--property',
      'efficiency',
      ...common,
    ];
    const [a, b, s1, s2, w] = await Promise.all([
      hyperprop([...args, '--reporter', 'json']),
      hyperprop([...args, '--reporter', 'json']),
      hyperprop([...args, '--reporter', 'json', '--shard', '1/2']),
      hyperprop([...args, '--reporter', 'json', '--shard', '2/2']),
      hyperprop([...args, '--reporter', 'json', '--workers', '2']),
    ]);
    expect(a.status).toBe(1);
    expect(untimed(a.stdout)).toBe(untimed(b.stdout));
    expect(untimed(w.stdout)).toBe(untimed(a.stdout));
    const whole = byItem(a.stdout);
    const one = byItem(s1.stdout);
    const two = byItem(s2.stdout);
    expect(whole.size).toBe(4);
    expect(one.size + two.size).toBe(whole.size);
    expect([...one.keys()].some((k) => two.has(k))).toBe(false);
    expect(new Map([...one, ...two])).toEqual(whole);
    expect([s1.status, s2.status].sort()).toEqual([0, 1]);
    const report = JSON.parse(a.stdout);
    expect(report.summary).toMatchObject({ passed: 3, failed: 1 });
    const failed = report.results.find((x: { status: string }) => x.status === 'failed');
    expect(failed).toMatchObject({ design: 'classic', property: 'equivalence' });
    expect(failed.counterexample.file).toMatch(/classic\.equivalence\.[0-9a-f]{16}\.json$/);
  });

  it('junit reporter: exit 1 on a failure, the XML parses, a failure element per failing property', async () => {
    const r = await hyperprop([
      'check',
      '--design',
      'classic',
      '--design',
      'shadow',
      '--property',
      'equivalence',
      '--reporter',
      'junit',
      ...common,
    ]);
    expect(r.status).toBe(1);
    expect(XMLValidator.validate(r.stdout)).toBe(true);
    const xml = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(r.stdout);
    const suites = [xml.testsuites.testsuite].flat();
    expect(xml.testsuites.tests).toBe('2');
    expect(xml.testsuites.failures).toBe('1');
    expect(suites.map((s: { name: string }) => s.name)).toEqual(['classic', 'shadow']);
    expect(suites[0].testcase.failure.message).toContain('bare metal does not permit');
    expect(suites[1].testcase.failure).toBeUndefined();
  });

  it('replays the corpus first: a saved counterexample that still fails is reported; one that holds now is not', async () => {
    const corpus = tempDir();
    const saved = readdirSync(out).filter((f) => f.startsWith('classic.equivalence.'));
    expect(saved.length).toBeGreaterThan(0);
    copyFileSync(join(out, saved[0]!), join(corpus, 'a.json'));
    // The same scenario on ept, where equivalence holds.
    const onEpt = JSON.parse(readFileSync(join(out, saved[0]!), 'utf8'));
    onEpt.design = { kind: 'preset', name: 'ept' };
    writeFileSync(join(corpus, 'b.json'), JSON.stringify(onEpt));
    const r = await hyperprop([
      'check',
      '--design',
      'classic',
      '--design',
      'ept',
      '--property',
      'efficiency',
      '--property',
      'equivalence',
      '--seed',
      '3',
      '--runs',
      '5',
      '--no-out',
      '--corpus',
      corpus,
      '--reporter',
      'json',
    ]);
    const report = JSON.parse(r.stdout);
    expect(report.corpus.map((c: { status: string }) => c.status)).toEqual(['still-failing', 'fixed']);
    expect(r.status).toBe(1);
    const onlyEpt = await hyperprop([
      'check',
      '--design',
      'ept',
      '--property',
      'efficiency',
      '--seed',
      '3',
      '--runs',
      '5',
      '--no-out',
      '--corpus',
      corpus,
    ]);
    expect(onlyEpt.stdout).toMatch(
      /corpus: 2 saved counterexample\(s\): 0 still failing, 0 now hold, 2 not in this run/,
    );
    expect(onlyEpt.status).toBe(0);
  });

  it('checks a design file (named export) and records its path and sha256', async () => {
    const r = await hyperprop([
      'check',
      '--design',
      join(FIXTURES, 'shared-vpid.ts'),
      '--property',
      'resource-control',
      '--seed',
      '5',
      '--runs',
      '50',
      '--no-corpus',
      '--out',
      out,
      '--reporter',
      'json',
    ]);
    expect(r.status).toBe(1);
    const report = JSON.parse(r.stdout);
    expect(report.designs[0]).toMatchObject({
      kind: 'file',
      name: 'ept-shared-vpid',
      sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    const file = report.results[0].counterexample.file as string;
    // Replay needs the design file named on the command line: the counterexample never names code to run.
    const [without, withDesign] = await Promise.all([
      hyperprop(['replay', file]),
      hyperprop(['replay', file, '--design', join(FIXTURES, 'shared-vpid.ts')]),
    ]);
    oneLineError(without, /found on design file .*shared-vpid\.ts .*pass --design/);
    expect(withDesign.status).toBe(1);
    expect(withDesign.stdout).toContain('still fails: resource-control');
  });

  it('bad usage and bad input: one line, exit 2', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
    writeFileSync(join(dir, 'syntax.ts'), 'export const design = {{;\n');
    writeFileSync(join(dir, 'not-a-design.ts'), 'export const design = { name: "x" };\nexport default 42;\n');
    writeFileSync(join(dir, 'throws.ts'), 'throw new Error("boom at load");\n');
    const runs = await Promise.all([
      hyperprop(['check', '--design', 'nosuch']),
      hyperprop(['check', '--property', 'liveness']),
      hyperprop(['check', '--shard', '3/2']),
      hyperprop(['check', '--runs', 'many']),
      hyperprop(['check', '--reporter', 'tap']),
      hyperprop(['check', '--design', join(dir, 'syntax.ts')]),
      hyperprop(['check', '--design', join(dir, 'not-a-design.ts')]),
      hyperprop(['check', '--design', join(dir, 'throws.ts')]),
      hyperprop(['check', '--design', join(dir, 'missing.ts')]),
      hyperprop(['frobnicate']),
      hyperprop(['replay', join(dir, 'missing.json')]),
    ]);
    const expected = [
      /unknown design 'nosuch': presets are shadow, ept/,
      /unknown property 'liveness': properties are equivalence/,
      /--shard must be K\/N/,
      /--runs must be an integer/,
      /argument 'tap' is invalid/,
      /design file .*syntax\.ts does not load: /,
      /design file .*not-a-design\.ts does not export a design/,
      // Where it threw, then what: file:line:col of the throw in the design file.
      /design file .*throws\.ts does not load: .*throws\.ts:1:\d+: boom at load$/,
      /design file .*missing\.ts: no such file/,
      /unknown command 'frobnicate'/,
      /missing\.json: no such file/,
    ];
    runs.forEach((r, i) => {
      oneLineError(r, expected[i]!);
    });
  });
});

describe('hyperprop replay, list, classify, schema', () => {
  it('replay: the trace step by step, the divergence marked; exit 1 while it fails, 0 once it holds', async () => {
    const out = tempDir();
    const found = await hyperprop([
      'check',
      '--design',
      'classic',
      '--property',
      'equivalence',
      '--seed',
      '11',
      '--runs',
      '20',
      '--no-corpus',
      '--out',
      out,
      '--reporter',
      'json',
    ]);
    const file = JSON.parse(found.stdout).results[0].counterexample.file as string;
    const fixed = join(out, 'fixed.json');
    const c = JSON.parse(readFileSync(file, 'utf8'));
    writeFileSync(fixed, JSON.stringify({ ...c, design: { kind: 'preset', name: 'ept' } }));
    const [text, json, holds] = await Promise.all([
      hyperprop(['replay', file]),
      hyperprop(['replay', file, '--reporter', 'json']),
      hyperprop(['replay', fixed]),
    ]);
    expect(text.status).toBe(1);
    expect(text.stdout).toMatch(/^>>\s+\d+\s+guest 0\s+\S+/m);
    expect(text.stdout).toMatch(/design: {4}/);
    expect(text.stdout).toMatch(/reference: \d+ permitted behaviour\(s\), the design’s state is NOT among them/);
    expect(text.stdout).toContain('^^ first divergence: ');
    expect(text.stdout).toContain('(the divergence recorded)');
    const [r] = JSON.parse(json.stdout);
    expect(r).toMatchObject({ status: 'fails', sameDivergence: true, recorded: c.divergence });
    expect(holds.status).toBe(0);
    expect(holds.stdout).toContain('now holds: equivalence on ept');
  });

  it('list, classify and schema', async () => {
    const [list, listJson, cls, schema] = await Promise.all([
      hyperprop(['list']),
      hyperprop(['list', '--reporter', 'json']),
      hyperprop(['classify', '--samples', '20']),
      hyperprop(['schema']),
    ]);
    expect(list.status).toBe(0);
    expect(list.stdout).toMatch(/^ {2}\* shadow\s+VT-x/m);
    expect(list.stdout).toMatch(/^\s+isolation\s+nothing one guest/m);
    const l = JSON.parse(listJson.stdout);
    expect(l.designs.filter((d: { default: boolean }) => d.default).map((d: { name: string }) => d.name)).toEqual(
      ['shadow', 'ept', 'passthrough'].filter((n) => l.designs.some((d: { name: string }) => d.name === n)),
    );
    expect(cls.status).toBe(0);
    expect(cls.stdout).toMatch(/^popf\s.*sensitive-unprivileged$/m);
    expect(schema.status).toBe(0);
    const published = await schemaText();
    expect(schema.stdout).toBe(published);
    expect(readFileSync(join(ROOT, 'counterexamples/schema.json'), 'utf8')).toBe(published);
  });
});
