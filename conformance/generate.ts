/**
 * Conformance sequences, from the reference's own generators (generators/reference.ts): a varied
 * booted machine reachable by a short prefix (stale TLB entries, rewritten tables), and 1..30
 * operations of every instruction kind, made runnable by `prepareSequence`.
 */
import fc from 'fast-check';
import { arbMachine, arbOp, DEFAULT_KIND_WEIGHTS } from '../generators/reference.ts';
import { DEFAULT_GEOMETRY, type Geometry } from '../model/geometry.ts';
import { INSTRUCTION_KINDS, type Op } from '../model/ops.ts';
import type { Machine } from '../model/state.ts';
import type { Sequence } from './kernel.ts';
import { machineEmbedProblem } from './kernel.ts';
import { prepareSequence } from './prepare.ts';

/** Kind weights for conformance: the reference's, with the sensitive-but-unprivileged and I/O kinds a little heavier. */
export const CONFORMANCE_WEIGHTS = Object.freeze({
  ...DEFAULT_KIND_WEIGHTS,
  sgdt: 2,
  sidt: 2,
  lar: 2,
  lsl: 2,
  verr: 2,
  verw: 2,
  pushf: 2,
  popf: 3,
  in: 2,
  out: 2,
  cli: 2,
  sti: 2,
});

/** A raw generated sequence (before `prepareSequence`). */
export const arbRawSequence = (
  g: Geometry = DEFAULT_GEOMETRY,
  maxOps = 30,
): fc.Arbitrary<{ machine: Machine; ops: Op[] }> =>
  fc.record({
    machine: arbMachine(g, 4).filter((m) => machineEmbedProblem(m) === undefined),
    ops: fc.array(arbOp(g, INSTRUCTION_KINDS, CONFORMANCE_WEIGHTS), { minLength: 1, maxLength: maxOps }),
  });

/** A runnable conformance sequence (its prefix the harness can run; at least one operation). */
export const arbSequence = (g: Geometry = DEFAULT_GEOMETRY, maxOps = 30): fc.Arbitrary<Sequence> =>
  arbRawSequence(g, maxOps)
    .map(({ machine, ops }) => prepareSequence(machine, ops))
    .filter((s): s is NonNullable<typeof s> => s !== undefined && s.ops.length > 0)
    .map(({ machine, ops }) => ({ machine, ops }));

/** `n` sequences from a seed, reproducibly (sequence i of a seed is always the same). */
export const sampleSequences = (seed: number, n: number, g: Geometry = DEFAULT_GEOMETRY, maxOps = 30): Sequence[] =>
  fc.sample(arbSequence(g, maxOps), { seed, numRuns: n });
