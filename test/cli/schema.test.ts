/**
 * The published JSON Schema (counterexamples/schema.json) against real files: the counterexamples
 * `hyperprop check` saves at both levels validate under an independent JSON Schema validator
 * (ajv, draft-07), and files the loader refuses (an unknown operation, an extra field, a wrong
 * format name) do not.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { hyperprop, ROOT, tempDir } from './support.ts';

const schema = JSON.parse(readFileSync(join(ROOT, 'counterexamples/schema.json'), 'utf8'));
const validate = new Ajv({ allErrors: false, strict: false }).compile(schema);

/** The files `hyperprop check ARGS --out DIR` saves. */
const saved = async (args: string[]): Promise<unknown[]> => {
  const out = tempDir();
  const r = await hyperprop(['check', ...args, '--runs', '100', '--seed', '1', '--out', out, '--no-corpus']);
  expect(r.status, r.stderr).toBe(1);
  const files = readdirSync(out).filter((f) => f.endsWith('.json'));
  expect(files.length).toBeGreaterThan(0);
  return files.map((f) => JSON.parse(readFileSync(join(out, f), 'utf8')));
};

describe('counterexamples/schema.json', () => {
  it('accepts the files check saves at the machine level and the system-call level, and refuses broken ones', async () => {
    // classic fails equivalence (POPF, SGDT: README); a container fails equivalence on a kernel-mode instruction.
    const [machine] = await saved(['--design', 'classic', '--property', 'equivalence']);
    const [syscall] = await saved(['--design', 'container', '--property', 'equivalence']);
    for (const file of [machine, syscall]) expect(validate(file), JSON.stringify(validate.errors)).toBe(true);

    const m = machine as { ops: { op: { kind: string } }[]; format: string };
    const s = syscall as { ops: { call: { kind: string } }[] };
    const broken: unknown[] = [
      { ...m, ops: [{ guest: 0, op: { kind: 'wrmsr' } }] },
      { ...m, extra: 1 },
      { ...m, format: 'hyperprop-syscall-counterexample' },
      { ...s, ops: [{ guest: 0, call: { kind: 'ioctl' } }] },
    ];
    for (const file of broken) expect(validate(file)).toBe(false);
  }, 60_000);
});
