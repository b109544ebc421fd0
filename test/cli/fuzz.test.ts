/**
 * The loader against 10,000 generated malformed files (truncated, mistyped, hostile, oversized,
 * not UTF-8, deeply nested, with `__proto__` keys): never a stack trace, never an exception, always
 * one line naming the file and the problem, and exit 2 from the real command; nothing polluted.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type CounterexampleFile,
  decodeCounterexample,
  encodeCounterexample,
  loadCounterexample,
  MAX_COUNTEREXAMPLE_BYTES,
  problemLine,
  toCounterexampleFile,
} from '../../cli/counterexample.ts';
import { plainGuestSpec } from '../../generators/reference.ts';
import { DEFAULT_GEOMETRY } from '../../model/geometry.ts';
import { hasStackTrace, hyperprop, tempDir } from './support.ts';

const FILES = 10_000;

const valid: CounterexampleFile = toCounterexampleFile({ kind: 'preset', name: 'classic' }, 'equivalence', {
  seed: 1,
  path: '0:1',
  scenario: {
    geometry: DEFAULT_GEOMETRY,
    guests: [plainGuestSpec(DEFAULT_GEOMETRY, 0), plainGuestSpec(DEFAULT_GEOMETRY, 3)],
    ops: [
      { guest: 0, op: { kind: 'movImm', dst: 1, imm: 42 } },
      { guest: 1, op: { kind: 'sldt', dst: 0 } },
      { guest: 0, op: { kind: 'store', va: 0x1000, src: 1 } },
    ],
  },
  failure: { step: 1, guest: 1, message: 'after SLDT EAX …', expected: 'EAX 0x30', actual: 'EAX 0' },
});

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Every path to a value in a JSON value. */
const paths = (v: Json, at: (string | number)[] = []): (string | number)[][] => {
  const here = [at];
  if (Array.isArray(v)) return [...here, ...v.flatMap((x, i) => paths(x, [...at, i]))];
  if (v !== null && typeof v === 'object')
    return [...here, ...Object.entries(v).flatMap(([k, x]) => paths(x, [...at, k]))];
  return here;
};

const setAt = (v: Json, path: readonly (string | number)[], f: (old: Json) => Json | undefined): Json => {
  if (path.length === 0) return f(v) ?? null;
  const [head, ...rest] = path;
  if (Array.isArray(v)) {
    const copy = v.slice();
    const next = setAt(copy[head as number]!, rest, f);
    copy[head as number] = next;
    if (rest.length === 0 && f(v[head as number]!) === undefined) copy.splice(head as number, 1);
    return copy;
  }
  const o = { ...(v as Record<string, Json>) };
  if (rest.length === 0 && f(o[head as string]!) === undefined) delete o[head as string];
  else o[head as string] = setAt(o[head as string]!, rest, f);
  return o;
};

/** A value of another JSON type than `old`, one the schema never accepts where `old` stood. */
const otherType = (old: Json, pick: number): Json => {
  const bad: Json[] =
    typeof old === 'number'
      ? ['7', null, true, {}, [], 1.5, Number.NaN]
      : typeof old === 'string'
        ? [5, null, {}, [], false]
        : typeof old === 'boolean'
          ? [0, 'true', null, []]
          : Array.isArray(old)
            ? [{}, 'x', 0, null]
            : [[], 'x', 0, null];
  return bad[pick % bad.length]!;
};

const base = JSON.parse(encodeCounterexample(valid)) as Json;
const basePaths = paths(base);
const requiredPaths = basePaths.filter((p) => p.length === 1 || (p.length >= 2 && typeof p[p.length - 1] === 'string'));
const enc = new TextEncoder();

/** Malformed files, each broken in one way that the format does not allow. */
const arbMalformed: fc.Arbitrary<Uint8Array> = fc.oneof(
  // A value of the wrong type anywhere.
  fc
    .tuple(fc.nat(basePaths.length - 1), fc.nat())
    .map(([i, pick]) => enc.encode(JSON.stringify(setAt(base, basePaths[i]!, (old) => otherType(old, pick))))),
  // A required key missing.
  fc
    .nat(requiredPaths.length - 1)
    .filter((i) => !['guest', 'expected', 'actual'].includes(String(requiredPaths[i]!.at(-1))))
    .map((i) => enc.encode(JSON.stringify(setAt(base, requiredPaths[i]!, () => undefined)))),
  // An unknown key (hostile names included) in any object.
  fc
    .tuple(
      fc.constantFrom(...basePaths.filter((p) => p.length === 0 || typeof p.at(-1) === 'string')),
      fc.constantFrom('__proto__', 'constructor', 'prototype', 'eval', 'require', 'extra'),
    )
    .map(([p, key]) => {
      const text = JSON.stringify(setAt(base, p, (old) => old));
      // Insert the key textually at the root object: JSON.stringify would drop `__proto__`.
      return enc.encode(text.replace(/^\{/, `{"${key}":{"polluted":"yes","toString":1},`));
    }),
  // Hostile or out-of-range operations.
  fc
    .constantFrom<Json>(
      { kind: 'load', dst: 0, va: 3 },
      { kind: 'load', dst: 7, va: 0 },
      { kind: 'movToCr0', value: 0 },
      { kind: 'popf', image: 0x100 },
      { kind: 'exec', code: 'process.exit(0)' },
      { kind: 'movImm', dst: 0, imm: 4294967296 },
      { kind: 'int', vector: 256 },
      { kind: 'timer', extra: 1 },
      { kind: '__proto__' },
      { kind: 'require', module: 'child_process' },
      'load',
      null,
    )
    .map((op) => enc.encode(JSON.stringify(setAt(base, ['ops', 1, 'op'], () => op)))),
  // Relations the fields break: guests that do not exist, a step past the end, too small a machine.
  fc
    .constantFrom<[(string | number)[], Json]>(
      [['ops', 0, 'guest'], 5],
      [['divergence', 'step'], 3],
      [['initial', 'geometry', 'frames'], 4],
      [['initial', 'guests'], []],
      [['ops'], []],
      [['formatVersion'], 2],
      [['design', 'kind'], 'code'],
      [['design'], { kind: 'file', name: 'x', path: 'x.ts', sha256: 'not-a-hash' }],
      [['initial', 'guests', 0, 'pteFlags'], [7]],
      [['initial', 'guests', 0, 'eflags'], 0x100],
      [['path'], '1:x'],
    )
    .map(([p, v]) => enc.encode(JSON.stringify(setAt(base, p, () => v)))),
  // Truncated anywhere.
  fc.nat().map((n) => {
    const text = JSON.stringify(base);
    return enc.encode(text.slice(0, n % (text.length - 1)));
  }),
  // Not JSON, not UTF-8, empty, deeply nested.
  fc.uint8Array({ minLength: 0, maxLength: 64 }).map((b) => Uint8Array.from([0xff, 0xfe, ...b])),
  fc.string({ maxLength: 40 }).map((s) => enc.encode(`${s}{`)),
  fc.integer({ min: 1000, max: 100_000 }).map((n) => enc.encode(`${'['.repeat(n)}${']'.repeat(n)}`)),
  fc.constantFrom(enc.encode(''), enc.encode('   \n'), enc.encode('null'), enc.encode('[]'), enc.encode('"x"')),
);

describe('loading malformed counterexample files', () => {
  it(`${FILES} generated malformed files: one line each naming file and problem, exit 2, nothing polluted`, async () => {
    const dir = tempDir();
    const samples = fc.sample(arbMalformed, { seed: 20251125, numRuns: FILES });
    // A few over-large files too (the size is checked before reading).
    for (const i of [17, 4242, 9000]) samples[i] = enc.encode(`{"pad":"${'x'.repeat(MAX_COUNTEREXAMPLE_BYTES)}"}`);
    const names = samples.map((bytes, i) => {
      const name = `f${i}.json`;
      writeFileSync(join(dir, name), bytes);
      return name;
    });
    const protoKeys = Object.getOwnPropertyNames(Object.prototype).sort();
    // In this process: the same loader the command uses.
    for (const name of names) {
      let result: ReturnType<typeof loadCounterexample> | undefined;
      expect(() => {
        result = loadCounterexample(join(dir, name));
      }).not.toThrow();
      expect(result!.ok, name).toBe(false);
      if (!result!.ok) {
        expect(result!.problem.message.length).toBeGreaterThan(0);
        expect(problemLine(name, result!.problem)).not.toContain('\n');
      }
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(protoKeys);
    expect(decodeCounterexample(JSON.parse(encodeCounterexample(valid))).ok).toBe(true);
    // The real command, over every file in one process.
    const r = await hyperprop(['replay', ...names], dir);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(hasStackTrace(r.stderr)).toBe(false);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(FILES);
    lines.forEach((line, i) => {
      expect(line.startsWith(`hyperprop replay: f${i}.json: `), line).toBe(true);
      expect(line.length).toBeGreaterThan(`hyperprop replay: f${i}.json: `.length + 3);
    });
    // 10,000 files written, loaded in process and then by the command: ~40 s alone, ~100 s on a loaded 2-core machine.
  }, 400_000);
});
