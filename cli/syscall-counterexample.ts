/**
 * Counterexample files of the system-call level: the same conventions as the machine level's
 * (cli/counterexample.ts: effect Schema, size and depth limits, content-named atomic writes, data
 * only — a design is a built-in's name), with the level's own scenario: guests (quota, interface)
 * and their calls. `hyperprop replay` and the corpus replay of `hyperprop check` read both kinds.
 */
import * as JSONSchema from 'effect/JSONSchema';
import * as ParseResult from 'effect/ParseResult';
import * as Schema from 'effect/Schema';
import type { SyscallScenario } from '../generators/syscall.ts';
import { type Op, opProblem } from '../model/ops.ts';
import type { SyscallDesign } from '../model/syscall/designs.ts';
import { SYSCALL_DESIGNS } from '../model/syscall/presets.ts';
import type { LevelCounterexample } from '../properties/level.ts';
import type { PropertyFailure } from '../properties/property.ts';
import { recordSyscallTrace } from '../properties/record/syscall.ts';
import { checkText } from '../properties/record/text.ts';
import type { TraceRecord } from '../properties/record/types.ts';
import { distinguishingSyscallFailure } from '../properties/syscall/check.ts';
import { SYSCALL_PROPERTY_NAMES, type SyscallPropertyName } from '../properties/syscall/properties.ts';
import {
  CounterexampleSchema,
  contentFileName,
  type DesignRef,
  DesignRefSchema,
  DivergenceSchema,
  divergenceOf,
  int,
  loadJsonFile,
  MODEL_VERSION,
  OpSchema,
  type Problem,
  Text,
  U32,
  writeAtomically,
} from './counterexample.ts';
import { SEED_MAX } from './limits.ts';

export const SYSCALL_FORMAT = 'hyperprop-syscall-counterexample';

const k = <K extends string>(kind: K) => ({ kind: Schema.Literal(kind) });
const page = int(0, 63);

/** One call of a guest (model/syscall/calls.ts). */
export const CallSchema = Schema.Union(
  Schema.Struct({ ...k('mmap'), page }),
  Schema.Struct({ ...k('munmap'), page }),
  Schema.Struct({ ...k('load'), page, word: int(0, 1023) }),
  Schema.Struct({ ...k('store'), page, word: int(0, 1023), value: U32 }),
  Schema.Struct({ ...k('read'), file: int(0, 63) }),
  Schema.Struct({ ...k('write'), file: int(0, 63), value: U32 }),
  Schema.Struct(k('getpids')),
  Schema.Struct(k('spawn')),
  Schema.Struct({ ...k('send'), port: int(0, 63), value: U32 }),
  Schema.Struct({ ...k('recv'), port: int(0, 63) }),
  Schema.Struct({ ...k('alloc'), pages: int(1, 1024) }),
  Schema.Struct(k('yield')),
  Schema.Struct(k('exit')),
  Schema.Struct(k('crash')),
  Schema.Struct({ ...k('privileged'), op: OpSchema }),
  Schema.Struct({ ...k('foreign'), nr: int(0, 0xffff), args: Schema.Tuple(U32, U32, U32) }),
).annotations({ identifier: 'Call', description: 'a system call, user instruction or kernel-mode instruction' });

/** A system-call-level counterexample file. */
export const SyscallCounterexampleSchema = Schema.Struct({
  format: Schema.Literal(SYSCALL_FORMAT),
  formatVersion: Schema.Literal(1),
  modelVersion: Text(100),
  design: DesignRefSchema,
  property: Schema.Literal(...SYSCALL_PROPERTY_NAMES),
  seed: int(0, SEED_MAX),
  path: Schema.String.pipe(Schema.maxLength(100_000), Schema.pattern(/^(\d+(:\d+)*)?$/)),
  guests: Schema.Array(Schema.Struct({ quota: int(1, 1024), abi: Schema.Literal('host', 'foreign') })).pipe(
    Schema.minItems(1),
    Schema.maxItems(8),
  ),
  ops: Schema.Array(Schema.Struct({ guest: int(0, 7), call: CallSchema })).pipe(
    Schema.minItems(1),
    Schema.maxItems(10_000),
  ),
  divergence: DivergenceSchema,
  /** Found by `check --baseline`: only a failure this design does not explain was kept (replay applies it again). */
  baseline: Schema.optionalWith(DesignRefSchema, { exact: true }),
}).annotations({ identifier: 'SyscallCounterexample', title: 'hyperprop system-call-level counterexample' });

export type SyscallCounterexampleFile = typeof SyscallCounterexampleSchema.Type;

/**
 * The JSON Schema of a counterexample file of either level (a corpus holds both), made from the
 * two schemas that decode them: published as counterexamples/schema.json.
 */
export const counterexampleFileJsonSchema = (): object =>
  JSONSchema.make(
    Schema.Union(CounterexampleSchema, SyscallCounterexampleSchema).annotations({
      title: 'hyperprop counterexample file',
      description:
        'A shrunk failing scenario: of the hosted machine (format hyperprop-counterexample) or of the system-call level (hyperprop-syscall-counterexample), replayable with `hyperprop replay FILE`.',
    }),
  );

const decodeEither = Schema.decodeUnknownEither(SyscallCounterexampleSchema, {
  onExcessProperty: 'error',
  errors: 'first',
});

/** Is this JSON value meant as a system-call-level counterexample (by its `format`)? */
export const isSyscallCounterexampleJson = (json: unknown): boolean =>
  typeof json === 'object' && json !== null && (json as { format?: unknown }).format === SYSCALL_FORMAT;

/** Is this file a system-call-level counterexample? (Unreadable files are not: the machine level reports them.) */
export const isSyscallCounterexampleFile = (file: string): boolean => {
  const p = loadJsonFile(file);
  return p.ok && isSyscallCounterexampleJson(p.json);
};

/** Read, decode and validate a system-call-level counterexample file. */
export const loadSyscallCounterexample = (
  file: string,
):
  | { readonly ok: true; readonly value: SyscallCounterexampleFile }
  | { readonly ok: false; readonly problem: Problem } => {
  const p = loadJsonFile(file);
  return p.ok ? decodeSyscallCounterexample(p.json) : p;
};

/** Decode and validate a parsed JSON value as a system-call-level counterexample. */
export const decodeSyscallCounterexample = (
  json: unknown,
):
  | { readonly ok: true; readonly value: SyscallCounterexampleFile }
  | { readonly ok: false; readonly problem: Problem } => {
  const r = decodeEither(json);
  if (r._tag === 'Left') {
    const [issue] = ParseResult.ArrayFormatter.formatErrorSync(r.left);
    const where = (issue?.path ?? []).map((x) => (typeof x === 'number' ? `[${x}]` : `.${String(x)}`)).join('');
    return {
      ok: false,
      problem: { where: where.replace(/^\./, ''), message: issue?.message ?? 'does not match the schema' },
    };
  }
  const c = r.right;
  for (const [where, ref] of [
    ['design', c.design],
    ['baseline', c.baseline],
  ] as const)
    if (ref?.kind === 'preset' && !Object.hasOwn(SYSCALL_DESIGNS, ref.name))
      return {
        ok: false,
        problem: { where: `${where}.name`, message: `no system-call-level design named '${ref.name}'` },
      };
  for (const [i, o] of c.ops.entries()) {
    if (o.guest >= c.guests.length)
      return { ok: false, problem: { where: `ops[${i}].guest`, message: `guest ${o.guest} does not exist` } };
    const op = o.call.kind === 'privileged' ? opProblem(o.call.op as Op) : undefined;
    if (op) return { ok: false, problem: { where: `ops[${i}].call.op`, message: op } };
  }
  if (c.divergence.step >= c.ops.length)
    return { ok: false, problem: { where: 'divergence.step', message: 'past the last operation' } };
  return { ok: true, value: c };
};

/** The scenario a file describes. */
export const syscallScenarioOf = (c: SyscallCounterexampleFile): SyscallScenario => ({
  guests: c.guests,
  ops: c.ops as SyscallScenario['ops'],
});

/** Save a checker's counterexample (content-named, atomically): the file's path. */
export const saveSyscallCounterexample = (
  dir: string,
  design: DesignRef,
  property: SyscallPropertyName,
  c: Pick<LevelCounterexample<SyscallScenario>, 'seed' | 'path' | 'scenario' | 'failure'>,
  baseline?: DesignRef,
): string => {
  const file: SyscallCounterexampleFile = {
    format: SYSCALL_FORMAT,
    formatVersion: 1,
    modelVersion: MODEL_VERSION,
    design,
    property,
    seed: c.seed,
    path: c.path,
    guests: c.scenario.guests,
    ops: c.scenario.ops as SyscallCounterexampleFile['ops'],
    divergence: divergenceOf(c.failure),
    ...(baseline ? { baseline } : {}),
  };
  const encoded = Schema.encodeSync(SyscallCounterexampleSchema)(file);
  const body = `${JSON.stringify(encoded, null, 2)}\n`;
  // Named by what it is (design, property, guests, calls), not by the seed that found it.
  const identity = JSON.stringify([encoded.format, encoded.design, encoded.property, encoded.guests, encoded.ops]);
  return writeAtomically(dir, contentFileName(design.name, property, identity), body);
};

/**
 * Replay a decoded file on `design` (the built-in it names, or the design file given with
 * --design): the property's verdict now (a failure `baseline` explains does not count, as in
 * `check --baseline`), the trace record and its text.
 */
export const replaySyscall = (
  c: SyscallCounterexampleFile,
  design: SyscallDesign = SYSCALL_DESIGNS[c.design.name]!,
  baseline?: SyscallDesign,
): { readonly failure: PropertyFailure | undefined; readonly rendering: string; readonly trace: TraceRecord } => {
  const scenario = syscallScenarioOf(c);
  const failure = distinguishingSyscallFailure(design, c.property, scenario, baseline);
  const trace = recordSyscallTrace(design, scenario, failure, c.property);
  return { failure, rendering: checkText(trace), trace };
};
