/**
 * `hyperprop conform --replay FILE` reads a saved finding as data, checked field by field before
 * anything runs (it used to trust the file and fail deep inside with a message quoting the text):
 * every finding a campaign can save passes the check; broken ones are refused, and say where.
 */
import { describe, expect, it } from 'vitest';
import { findingProblem, findingToJson } from '../../cli/conform.ts';
import { sampleSequences } from '../../conformance/generate.ts';

describe('conformance findings as files', () => {
  const saved = sampleSequences(18, 200).map((sequence, i) =>
    JSON.parse(JSON.stringify(findingToJson({ kind: i % 2 ? 'disagree' : 'crash', accel: 'tcg', sequence }, 18))),
  );

  it('every finding a campaign saves (200 sampled sequences) passes the check', () => {
    for (const f of saved) expect(findingProblem(f)).toBeUndefined();
  });

  it('broken findings are refused at the field that is wrong', () => {
    const f = saved[0];
    const cases: [unknown, string][] = [
      [null, ''],
      [{ ...f, format: 'other' }, 'format'],
      [{ ...f, machine: 'x' }, 'machine'],
      [{ ...f, machine: { ...f.machine, geometry: { ...f.machine.geometry, dirEntries: 0 } } }, 'machine.geometry'],
      [{ ...f, machine: { ...f.machine, cpu: { ...f.machine.cpu, cpl: 4 } } }, 'machine.cpu'],
      [{ ...f, machine: { ...f.machine, memory: [[3, 1]] } }, 'machine.memory[0]'],
      [{ ...f, machine: { ...f.machine, tlb: { translations: 'x', pdes: [] } } }, 'machine.tlb'],
      [{ ...f, ops: [] }, 'ops'],
      [{ ...f, ops: [{ kind: 'exec', code: 'process.exit(0)' }] }, 'ops[0]'],
      [{ ...f, ops: [{ kind: 'load', dst: 9, va: 0 }] }, 'ops[0]'],
    ];
    for (const [value, where] of cases)
      expect(findingProblem(value)?.where, JSON.stringify(value)?.slice(0, 80)).toBe(where);
  });
});
