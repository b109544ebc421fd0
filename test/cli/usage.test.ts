/**
 * The small things a careless user meets (issue 18's LOW items): the replay hint of a design file's
 * counterexample, a design/property mix with no work, outputs checked before the run, a syntax error's
 * place, symbolic links and unknown presets in the corpus, "not JSON" without the file's text,
 * --version, one error prefix, and limits that the options and the schema share.
 */
import { readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeCounterexample, toCounterexampleFile } from '../../cli/counterexample.ts';
import { plainGuestSpec } from '../../generators/reference.ts';
import { DEFAULT_GEOMETRY } from '../../model/geometry.ts';
import { MAX_GUESTS } from '../../model/host/layout.ts';
import { FIXTURES, hasStackTrace, hyperprop, ROOT, type Run, tempDir } from './support.ts';

const oneLine = (r: Run, pattern: RegExp) => {
  expect(r.status, r.stderr).toBe(2);
  expect(hasStackTrace(r.stderr)).toBe(false);
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
};

const counterexample = (guests = 1, seed = 1) =>
  toCounterexampleFile({ kind: 'preset', name: 'classic' }, 'equivalence', {
    seed,
    path: '0',
    scenario: {
      geometry: DEFAULT_GEOMETRY,
      guests: Array.from({ length: guests }, () => plainGuestSpec(DEFAULT_GEOMETRY, 3)),
      ops: [{ guest: 0, op: { kind: 'sldt', dst: 0 } }],
    },
    failure: { step: 0, guest: 0, message: 'recorded' },
  });

describe('issue 18, the small things', () => {
  it('the "replay with:" line of a design file counterexample names its --design, and runs as printed', async () => {
    const dir = tempDir();
    const r = await hyperprop(
      [
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
        'found',
      ],
      dir,
    );
    expect(r.status).toBe(1);
    const hint = /replay with: npx hyperprop (replay \S+ --design \S+)$/m.exec(r.stdout);
    expect(hint, r.stdout).not.toBeNull();
    expect(hint![1]).toContain(join(FIXTURES, 'shared-vpid.ts'));
    const again = await hyperprop(hint![1]!.split(' '), dir);
    expect(again.status).toBe(1);
    expect(again.stdout).toContain('still fails: resource-control');
  }, 120_000);

  it('a design/property mix that selects no work: exit 2, one line', async () => {
    const [a, b] = await Promise.all([
      hyperprop(['check', '--design', 'container', '--property', 'efficiency']),
      hyperprop(['check', '--design', 'classic', '--property', 'fault-containment']),
    ]);
    oneLine(a, /^hyperprop check: no work: no design of this run has the property efficiency \(container takes /);
    oneLine(b, /^hyperprop check: no work: no design of this run has the property fault-containment \(classic takes /);
  }, 60_000);

  it('--output and --out are checked before the run (a run of a million scenarios never starts)', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'a-file'), '');
    const long = ['check', '--design', 'classic', '--runs', '1000000', '--no-corpus'];
    const [output, out, mutants] = await Promise.all([
      hyperprop([...long, '--output', join(dir, 'missing/report.xml'), '--no-out'], dir),
      hyperprop([...long, '--out', join(dir, 'a-file')], dir),
      hyperprop(['mutants', '--runs', '1000000', '--output', join(dir, 'missing/m.txt')], dir),
    ]);
    oneLine(output, /^hyperprop check: --output .*missing\/report\.xml: its folder .*missing does not exist$/);
    oneLine(out, /^hyperprop check: --out .*a-file: is a file, not a folder$/);
    oneLine(mutants, /^hyperprop mutants: --output .*missing\/m\.txt: its folder .*missing does not exist$/);
  }, 60_000);

  it("a syntax error in a design file keeps its place: file:line:column (.ts through tsx, .mjs through Node's parser)", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
    // The second `{` of line 3 is its 24th character: `export const design = ` is 22, then `{{`.
    const source = 'const a = 1;\nconst b = 2;\nexport const design = {{;\n';
    writeFileSync(join(dir, 'broken.ts'), source);
    writeFileSync(join(dir, 'broken.mjs'), source);
    const [ts, mjs] = await Promise.all([
      hyperprop(['check', '--design', './broken.ts'], dir),
      hyperprop(['check', '--design', './broken.mjs'], dir),
    ]);
    oneLine(ts, /^hyperprop check: design file \S*broken\.ts does not load: \S*broken\.ts:3:24: /);
    oneLine(mjs, /^hyperprop check: design file \S*broken\.mjs does not load: \S*broken\.mjs:3:24: SyntaxError: /);
  }, 60_000);

  it('the corpus: a symbolic link is refused with one line; so is a file naming a preset this version lacks', async () => {
    const linked = tempDir();
    writeFileSync(join(linked, 'real.json'), encodeCounterexample(counterexample()));
    const corpusA = tempDir();
    symlinkSync(join(linked, 'real.json'), join(corpusA, 'link.json'));
    const corpusB = tempDir();
    writeFileSync(
      join(corpusB, 'gone.json'),
      encodeCounterexample({ ...counterexample(), design: { kind: 'preset', name: 'retired-preset' } }),
    );
    const args = ['check', '--design', 'classic', '--property', 'equivalence', '--runs', '1', '--no-out', '--corpus'];
    const [a, b] = await Promise.all([hyperprop([...args, corpusA]), hyperprop([...args, corpusB])]);
    oneLine(a, /^hyperprop check: corpus entry .*link\.json is a symbolic link: the corpus holds regular files only/);
    oneLine(
      b,
      /^hyperprop check: bad counterexample in the corpus: .*gone\.json: at design\.name: no preset named 'retired-preset'/,
    );
  }, 60_000);

  it('"not JSON" says where, never what the file holds', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'a.json'), '{"design": "TOKEN-SECRET-123');
    writeFileSync(join(dir, 'b.json'), 'TOKEN-SECRET-456 is not json');
    const r = await hyperprop(['replay', 'a.json', 'b.json'], dir);
    expect(r.status).toBe(2);
    expect(r.stderr).not.toContain('SECRET');
    expect(r.stderr.trimEnd().split('\n')).toEqual([
      expect.stringMatching(/^hyperprop replay: a\.json: not JSON/),
      expect.stringMatching(/^hyperprop replay: b\.json: not JSON/),
    ]);
  }, 60_000);

  it('--version, and one error prefix for every verb: hyperprop VERB: (hyperprop: before a verb)', async () => {
    const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    const runs = await Promise.all([
      hyperprop(['--version']),
      hyperprop(['frobnicate']),
      hyperprop(['check', '--runs', 'many']),
      hyperprop(['replay', 'missing.json']),
      hyperprop(['mutants', 'no-such-mutant']),
      hyperprop(['schema', '--write', '/no/such/folder/schema.json']),
      hyperprop(['conform', '--accel', 'warp']),
    ]);
    expect(runs[0]!.status).toBe(0);
    expect(runs[0]!.stdout.trim()).toBe(version);
    const prefixes = ['hyperprop: ', 'hyperprop check: ', 'hyperprop replay: ', 'hyperprop mutants: '];
    const expected = [...prefixes, 'hyperprop schema: ', 'hyperprop conform: '];
    runs.slice(1).forEach((r, i) => {
      oneLine(r, new RegExp(`^${expected[i]!}\\S`));
    });
  }, 60_000);

  it("--seed's range is the schema's (0..2^31-1); the schema's guest limit is the hosted machine's (8)", async () => {
    const dir = tempDir();
    const put = (name: string, value: object) => {
      writeFileSync(join(dir, name), JSON.stringify(value));
      return name;
    };
    const files = [
      put('seed-max.json', counterexample(1, 2 ** 31 - 1)),
      put('seed-over.json', counterexample(1, 2 ** 31)),
      put('guests-max.json', counterexample(MAX_GUESTS)),
      put('guests-over.json', counterexample(MAX_GUESTS + 1)),
    ];
    const [over, max, bad, good] = await Promise.all([
      hyperprop(['check', '--seed', String(2 ** 31), '--design', 'classic']),
      hyperprop([
        'check',
        '--seed',
        String(2 ** 31 - 1),
        '--design',
        'classic',
        '--property',
        'efficiency',
        '--runs',
        '1',
        '--no-corpus',
        '--no-out',
      ]),
      hyperprop(['replay', files[1]!, files[3]!], dir),
      hyperprop(['replay', files[0]!, files[2]!], dir),
    ]);
    oneLine(
      over,
      /^hyperprop check: option '--seed <n>' argument '2147483648' is invalid\. --seed must be an integer in 0\.\.2147483647$/,
    );
    expect(max.status).toBe(0);
    expect(bad.status).toBe(2);
    expect(bad.stderr.trimEnd().split('\n')).toEqual([
      expect.stringMatching(/^hyperprop replay: seed-over\.json: at seed: /),
      expect.stringMatching(/^hyperprop replay: guests-over\.json: at initial\.guests: /),
    ]);
    // Both replay: classic fails SLDT at CPL 3 (SLDT does not trap there: SDM Vol. 2B, SLDT).
    expect(good.status).toBe(1);
    expect(good.stdout).toContain('2 of 2 counterexample(s) still fail');
  }, 60_000);
});
