/**
 * Text that came from a file or a design reaches the terminal escaped: names, messages and versions
 * full of control characters (terminal escapes that retitle the window or clear the screen, carriage
 * returns, newlines that would forge an "all held" line, bidirectional overrides) stay one escaped
 * line each, in the function that escapes, in a report built from them, and in the real command's
 * output for hostile counterexample files, hostile corpus file names and a design with a hostile name.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeCounterexample, toCounterexampleFile } from '../../cli/counterexample.ts';
import { visible } from '../../cli/escape.ts';
import { type CheckReport, renderText, summarize } from '../../cli/report.ts';
import type { ItemResult } from '../../cli/work.ts';
import { plainGuestSpec } from '../../generators/reference.ts';
import { DEFAULT_GEOMETRY } from '../../model/geometry.ts';
import { FIXTURES, hasStackTrace, hyperprop, ROOT, tempDir } from './support.ts';

/**
 * What a terminal acts on, listed here from the standards rather than from the code under test:
 * C0 controls U+0000..U+001F and DEL (ECMA-48), C1 controls U+0080..U+009F, LINE and PARAGRAPH
 * SEPARATOR, the bidirectional marks, embeddings, overrides and isolates (Unicode UAX #9), the BOM,
 * and lone surrogates (not encodable as UTF-8).
 */
const isActive = (code: number): boolean =>
  code <= 0x1f ||
  (code >= 0x7f && code <= 0x9f) ||
  code === 0x2028 ||
  code === 0x2029 ||
  code === 0x200e ||
  code === 0x200f ||
  (code >= 0x202a && code <= 0x202e) ||
  (code >= 0x2066 && code <= 0x2069) ||
  code === 0xfeff;

/** The first active character of `s` (code units, so lone surrogates count), or undefined. */
const activeIn = (s: string): string | undefined => {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (isActive(c)) return `U+${c.toString(16).padStart(4, '0')} at ${i}`;
    if (c >= 0xd800 && c <= 0xdbff) {
      const n = s.charCodeAt(i + 1);
      if (n >= 0xdc00 && n <= 0xdfff) i++;
      else return `lone high surrogate at ${i}`;
    } else if (c >= 0xdc00 && c <= 0xdfff) return `lone low surrogate at ${i}`;
  }
  return undefined;
};

/** Strings a hostile file would hold: biased towards controls and escapes, with plain text between. */
const hostile: fc.Arbitrary<string> = fc
  .array(
    fc.oneof(
      fc.constantFrom(
        '\x1b]0;pwned\x07',
        '\x1b[2J\x1b[H',
        '\r',
        '\n',
        '\nall held: 9 held, 0 failed\n',
        '\u202e',
        '\u2028',
        '\x9b31m',
        '\ud800',
        '\x00',
        '\x7f',
        '\t',
      ),
      fc.string({ unit: 'binary', maxLength: 8 }),
      fc.string({ maxLength: 8 }),
    ),
    { minLength: 1, maxLength: 6 },
  )
  .map((parts) => parts.join(''))
  .filter((s) => s !== '');

/** Every line of a command's output is free of active characters. */
const clean = (text: string) => {
  for (const line of text.split('\n')) expect(activeIn(line), JSON.stringify(line)).toBeUndefined();
};

describe('visible()', () => {
  it('10,000 generated strings: no active character, one line; text without any is unchanged', () => {
    fc.assert(
      fc.property(fc.oneof(hostile, fc.string({ unit: 'binary' }), fc.string({ unit: 'binary-ascii' })), (s) => {
        const v = visible(s);
        expect(activeIn(v)).toBeUndefined();
        expect(v).not.toContain('\n');
        if (activeIn(s) === undefined) expect(v).toBe(s);
      }),
      { numRuns: 10_000, seed: 18 },
    );
  });

  it('shows what it escaped', () => {
    expect(visible('a\x1b]0;x\x07\nb\u202e')).toBe('a\\x1b]0;x\\x07\\nb\\u202e');
  });
});

describe('a report built from hostile names and messages', () => {
  it('has the same lines as one built from plain text, and none holds an active character', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(hostile, hostile, hostile), { minLength: 1, maxLength: 4 }), (items) => {
        const report = (text: (s: string) => string): CheckReport => {
          const results: ItemResult[] = items.map(([name, message, file], i) => ({
            index: i,
            design: text(name),
            designRef: { kind: 'file', name: text(name), path: text(file), sha256: '0'.repeat(64) },
            property: 'equivalence',
            status: i % 2 ? 'error' : 'failed',
            runs: 1,
            seed: 1,
            durationMs: 1,
            ...(i % 2
              ? { error: { kind: 'threw' as const, message: text(message), op: text(message) } }
              : {
                  counterexample: {
                    file: text(file),
                    path: '0',
                    runsToFailure: 1,
                    shrinks: 0,
                    operations: 1,
                    guests: 1,
                    divergence: { step: 0, message: text(message) },
                    rendering: 'trace',
                  },
                }),
          }));
          const corpus = items.map(([name, , file]) => ({
            file: text(file),
            design: text(name),
            property: 'equivalence' as const,
            status: 'error' as const,
            error: { kind: 'time-limit' as const, message: text(name) },
            durationMs: 1,
          }));
          return {
            tool: 'hyperprop',
            version: '0',
            seed: 1,
            runs: 1,
            designs: [],
            properties: ['equivalence'],
            corpus,
            results,
            summary: summarize(corpus, results),
            durationMs: 1,
          };
        };
        const hostileText = renderText(report((s) => s));
        const plainText = renderText(report(() => 'x'));
        expect(hostileText.split('\n')).toHaveLength(plainText.split('\n').length);
        for (const line of hostileText.split('\n')) expect(activeIn(line)).toBeUndefined();
      }),
      { numRuns: 300, seed: 18 },
    );
  });
});

describe('the real command on hostile input', () => {
  const valid = toCounterexampleFile({ kind: 'preset', name: 'classic' }, 'equivalence', {
    seed: 1,
    path: '0',
    scenario: {
      geometry: DEFAULT_GEOMETRY,
      guests: [plainGuestSpec(DEFAULT_GEOMETRY, 3)],
      ops: [{ guest: 0, op: { kind: 'sldt', dst: 0 } }],
    },
    failure: { step: 0, guest: 0, message: 'recorded' },
  });

  it('replay of files whose versions, messages, design names and paths hold controls: every line clean', async () => {
    const dir = tempDir();
    const texts = fc.sample(hostile, { seed: 1818, numRuns: 24 });
    const files: string[] = [];
    texts.forEach((t, i) => {
      const c = JSON.parse(encodeCounterexample(valid));
      c.modelVersion = t.slice(0, 100);
      c.divergence = { step: 0, guest: 0, message: t, expected: t, actual: t };
      if (i % 2) c.design = { kind: 'file', name: t.slice(0, 200), path: t, sha256: '1'.repeat(64) };
      const f = join(dir, `h${i}.json`);
      writeFileSync(f, JSON.stringify(c));
      files.push(f);
    });
    // One design file serves every file found on a design file (its own name is plain).
    const r = await hyperprop(['replay', '--design', join(FIXTURES, 'no-invlpg-sync.ts'), ...files], dir);
    expect(hasStackTrace(r.stderr)).toBe(false);
    expect(r.stderr).toBe('');
    expect([0, 1]).toContain(r.status);
    clean(r.stdout);
    const lines = r.stdout.split('\n');
    expect(lines.filter((l) => l.startsWith('== '))).toHaveLength(files.length);
    expect(lines.filter((l) => /counterexample\(s\) still fail/.test(l))).toHaveLength(1);
    expect(lines.some((l) => l.startsWith('all held'))).toBe(false);
  }, 120_000);

  it('files refused for a hostile field: one clean line each', async () => {
    const dir = tempDir();
    const texts = fc.sample(hostile, { seed: 1819, numRuns: 20 });
    const files = texts.map((t, i) => {
      const c = JSON.parse(encodeCounterexample(valid));
      // A preset this version does not have, a property that does not exist, a key that is not allowed.
      if (i % 3 === 0) c.design = { kind: 'preset', name: t.slice(0, 100) };
      else if (i % 3 === 1) c.property = t;
      else c[t] = 1;
      const f = join(dir, `bad${i}.json`);
      writeFileSync(f, JSON.stringify(c));
      return f;
    });
    const r = await hyperprop(['replay', ...files], dir);
    expect(r.status).toBe(2);
    clean(r.stderr);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(files.length);
  }, 120_000);

  it('check: corpus file names and a design name with controls stay one escaped line each', async () => {
    const dir = tempDir();
    const corpus = join(dir, 'corpus');
    mkdirSync(corpus);
    for (const name of ['\x1b[2J\x1b[Hcleared.json', 'new\nline.json', 'bidi\u202eevil.json'])
      writeFileSync(join(corpus, name), encodeCounterexample(valid));
    writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
    const design = join(dir, 'hostile-name.ts');
    const name = 'evil\x1b]0;pwned\x07\nall held: 9 held, 0 failed';
    writeFileSync(
      design,
      `import { shadow } from ${JSON.stringify(join(ROOT, 'model/designs/presets.ts'))};\nexport const design = { ...shadow, name: ${JSON.stringify(name)} };\n`,
    );
    const r = await hyperprop(
      [
        'check',
        '--design',
        'classic',
        '--design',
        design,
        '--property',
        'equivalence',
        '--seed',
        '1',
        '--runs',
        '3',
        '--corpus',
        corpus,
        '--out',
        join(dir, 'out'),
      ],
      dir,
    );
    expect(r.status).toBe(1);
    clean(r.stdout);
    clean(r.stderr);
    expect(r.stdout).toContain(visible(name));
    expect(r.stdout).toContain('STILL FAILING classic / equivalence: ');
    expect(r.stdout.match(/^STILL FAILING /gm)).toHaveLength(3);
    expect(r.stdout).toContain(visible('\x1b[2J\x1b[Hcleared.json'));
    expect(r.stdout.split('\n').filter((l) => /^(all held|FAILED): /.test(l))).toHaveLength(1);
  }, 120_000);
});
