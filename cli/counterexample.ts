/**
 * The counterexample file (DESIGN.md §6): one schema, written with effect's Schema module, that
 * decodes, validates and encodes every file, and whose JSON Schema is published (with the
 * system-call level's, cli/syscall-counterexample.ts) as `counterexamples/schema.json`. A file is data: the design is a preset's name or a design file's
 * path and sha256 (never loaded from the file: the user names the design file on the command
 * line), the initial machine is each guest's boot description, and every operation is checked
 * against the modelled subset (`opProblem`) before anything runs it.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ParseResult from 'effect/ParseResult';
import * as Schema from 'effect/Schema';
import type { Scenario } from '../generators/host.ts';
import type { GuestSpec } from '../generators/reference.ts';
import { UNMODELED_FLAGS } from '../model/bits.ts';
import { bootFrames } from '../model/boot.ts';
import { MAX_DEVICES } from '../model/devices.ts';
import { type Geometry, geometryProblem } from '../model/geometry.ts';
import { type Op, opProblem } from '../model/ops.ts';
import type { Counterexample } from '../properties/check.ts';
import { PROPERTY_NAMES, type PropertyFailure, type PropertyName } from '../properties/property.ts';
import { visible } from './escape.ts';
import { MAX_FILE_GUESTS, SEED_MAX } from './limits.ts';
import { PACKAGE_VERSION } from './version.ts';

/** The file format's version: bumped when a file of the old format no longer decodes. */
export const FORMAT_VERSION = 1;
/** Files larger than this are refused before they are read or parsed. */
export const MAX_COUNTEREXAMPLE_BYTES = 1024 * 1024;

/** The model's version: the package's. A file from another version still replays (a note says so). */
export const MODEL_VERSION: string = PACKAGE_VERSION;

// ---------------------------------------------------------------------------------------------
// The schema.

export const int = (min: number, max: number) => Schema.Int.pipe(Schema.between(min, max));
export const U32 = int(0, 0xffff_ffff).annotations({ identifier: 'U32', description: 'an unsigned 32-bit integer' });
const Aligned = U32.pipe(Schema.multipleOf(4)).annotations({
  identifier: 'LinearAddress',
  description: 'a 4-aligned 32-bit linear address',
});
const Reg = Schema.Literal(0, 1, 2, 3).annotations({ identifier: 'Reg', description: 'EAX=0, ECX=1, EDX=2, EBX=3' });
export const Text = (max: number) => Schema.String.pipe(Schema.maxLength(max));

const k = <K extends string>(kind: K) => ({ kind: Schema.Literal(kind) });
const vaOp = <K extends string>(kind: K) => Schema.Struct({ ...k(kind), va: Aligned });
const srcOp = <K extends string>(kind: K) => Schema.Struct({ ...k(kind), src: Reg });
const dstOp = <K extends string>(kind: K) => Schema.Struct({ ...k(kind), dst: Reg });
const bare = <K extends string>(kind: K) => Schema.Struct(k(kind));

/** One guest operation (model/ops.ts), field by field; `opProblem` checks the rest. */
export const OpSchema = Schema.Union(
  Schema.Struct({ ...k('movImm'), dst: Reg, imm: U32 }),
  Schema.Struct({ ...k('add'), dst: Reg, src: Reg }),
  Schema.Struct({ ...k('load'), dst: Reg, va: Aligned }),
  Schema.Struct({ ...k('store'), va: Aligned, src: Reg }),
  Schema.Struct({ ...k('movToCr0'), value: U32 }),
  Schema.Struct({ ...k('movToCr3'), value: U32 }),
  Schema.Struct({ ...k('movFromCr'), dst: Reg, cr: Schema.Literal(0, 2, 3) }),
  bare('clts'),
  Schema.Struct({ ...k('invlpg'), va: U32 }),
  bare('cli'),
  bare('sti'),
  bare('hlt'),
  vaOp('lgdt'),
  vaOp('lidt'),
  srcOp('lldt'),
  srcOp('ltr'),
  Schema.Struct({ ...k('in'), port: int(0, 255) }),
  Schema.Struct({ ...k('out'), port: int(0, 255) }),
  vaOp('sgdt'),
  vaOp('sidt'),
  dstOp('sldt'),
  dstOp('str'),
  dstOp('smsw'),
  dstOp('pushf'),
  Schema.Struct({ ...k('popf'), image: U32 }),
  dstOp('movFromCs'),
  Schema.Struct({ ...k('lar'), dst: Reg, src: Reg }),
  Schema.Struct({ ...k('lsl'), dst: Reg, src: Reg }),
  srcOp('verr'),
  srcOp('verw'),
  Schema.Struct({ ...k('int'), vector: int(0, 255) }),
  Schema.Struct({ ...k('iret'), cs: int(0, 0xffff), eflags: U32 }),
  bare('ud2'),
  bare('timer'),
  Schema.Struct({ ...k('dmaComplete'), device: int(0, 255) }),
  Schema.Struct({ ...k('frameIn'), frame: U32 }),
).annotations({ identifier: 'Op', description: 'a guest operation (model/ops.ts)' });

/** The operation kinds the schema knows (a test checks it against the model's OP_KINDS). */
export const SCHEMA_OP_KINDS: readonly string[] = OpSchema.members.map((m) => m.fields.kind.literals[0] as string);

const GeometrySchema = Schema.Struct({
  dirEntries: int(1, 64),
  tableEntries: int(1, 64),
  frames: int(1, 65_536),
  wordsPerPage: int(1, 1024),
}).annotations({ identifier: 'Geometry', description: 'the window of x86 paging in use (model/geometry.ts)' });

const GuestSpecSchema = Schema.Struct({
  cpl: Schema.Literal(0, 1, 2, 3),
  eflags: U32,
  wp: Schema.Boolean,
  ts: Schema.Boolean,
  regs: Schema.Tuple(U32, U32, U32, U32),
  pteFlags: Schema.Array(int(0, 0xfff)).pipe(Schema.maxItems(4096)),
  pdeFlags: Schema.Array(int(0, 0xfff)).pipe(Schema.maxItems(64)),
  /** DMA engines the guest boots with (model/devices.ts); absent: none. */
  devices: Schema.optionalWith(int(0, MAX_DEVICES), { exact: true }),
  nic: Schema.optionalWith(int(0, 0xff), { exact: true }),
}).annotations({ identifier: 'GuestSpec', description: 'how a guest boots (generators/reference.ts bootGuest)' });

export const DesignRefSchema = Schema.Union(
  Schema.Struct({ kind: Schema.Literal('preset'), name: Text(100) }),
  Schema.Struct({
    kind: Schema.Literal('file'),
    name: Text(200),
    path: Text(4096),
    sha256: Schema.String.pipe(Schema.pattern(/^[0-9a-f]{64}$/)),
  }),
).annotations({
  identifier: 'DesignRef',
  description:
    'a preset by name, or a design file by path and sha256 (replay never loads it from here: pass --design FILE)',
});

export const DivergenceSchema = Schema.Struct({
  step: int(0, 100_000),
  guest: Schema.optionalWith(int(0, 63), { exact: true }),
  message: Text(20_000),
  expected: Schema.optionalWith(Text(20_000), { exact: true }),
  actual: Schema.optionalWith(Text(20_000), { exact: true }),
}).annotations({
  identifier: 'Divergence',
  description: 'the first failing step: what went wrong, what the reference permitted, what the design produced',
});

/** A counterexample file. */
export const CounterexampleSchema = Schema.Struct({
  format: Schema.Literal('hyperprop-counterexample'),
  formatVersion: Schema.Literal(FORMAT_VERSION),
  modelVersion: Text(100),
  design: DesignRefSchema,
  property: Schema.Literal(...PROPERTY_NAMES),
  seed: int(0, SEED_MAX),
  path: Schema.String.pipe(Schema.maxLength(100_000), Schema.pattern(/^(\d+(:\d+)*)?$/)),
  initial: Schema.Struct({
    geometry: GeometrySchema,
    guests: Schema.Array(GuestSpecSchema).pipe(Schema.minItems(1), Schema.maxItems(MAX_FILE_GUESTS)),
  }),
  ops: Schema.Array(Schema.Struct({ guest: int(0, MAX_FILE_GUESTS - 1), op: OpSchema })).pipe(
    Schema.minItems(1),
    Schema.maxItems(10_000),
  ),
  divergence: DivergenceSchema,
  /** Found by `check --baseline`: only a failure this design does not explain was kept (replay applies it again). */
  baseline: Schema.optionalWith(DesignRefSchema, { exact: true }),
}).annotations({
  identifier: 'Counterexample',
  title: 'hyperprop counterexample',
  description: 'A shrunk failing scenario of one property on one design, replayable with `hyperprop replay FILE`.',
});

export type CounterexampleFile = typeof CounterexampleSchema.Type;
export type DesignRef = CounterexampleFile['design'];

// ---------------------------------------------------------------------------------------------
// Decoding and validation.

/** What is wrong with a file, and where (a JSON path such as `ops[3].op.va`, or empty). */
export interface Problem {
  readonly where: string;
  readonly message: string;
}

export type Decoded =
  | { readonly ok: true; readonly value: CounterexampleFile }
  | { readonly ok: false; readonly problem: Problem };

const decodeEither = Schema.decodeUnknownEither(CounterexampleSchema, { onExcessProperty: 'error', errors: 'first' });

const pathText = (path: readonly PropertyKey[]): string =>
  path.reduce<string>(
    (acc, p) =>
      typeof p === 'number' ? `${acc}[${p}]` : `${acc}${acc ? '.' : ''}${JSON.stringify(String(p)).slice(1, -1)}`,
    '',
  );

const oneLine = (s: string, max = 300): string => {
  const t = s.replace(/\s+/g, ' ').trim();
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
};

/** Relations the schema cannot state field by field: tables fit the geometry, indices exist, ops are in the subset. */
const semanticProblem = (c: CounterexampleFile): Problem | undefined => {
  const g = c.initial.geometry;
  const gp = geometryProblem(g);
  if (gp) return { where: 'initial.geometry', message: gp };
  const need = bootFrames(g).firstSpare;
  if (g.frames < need)
    return { where: 'initial.geometry.frames', message: `the boot layout needs at least ${need} frames` };
  if (g.dirEntries < 2 && g.tableEntries < 2)
    return { where: 'initial.geometry', message: 'the window needs at least 2 pages' };
  for (const [i, spec] of c.initial.guests.entries()) {
    const where = `initial.guests[${i}]`;
    if (spec.pteFlags.length !== g.dirEntries * g.tableEntries)
      return {
        where: `${where}.pteFlags`,
        message: `needs ${g.dirEntries * g.tableEntries} entries (one per window page)`,
      };
    if (spec.pdeFlags.length !== g.dirEntries)
      return { where: `${where}.pdeFlags`, message: `needs ${g.dirEntries} entries (one per window PDE)` };
    if ((spec.eflags & UNMODELED_FLAGS) !== 0)
      return { where: `${where}.eflags`, message: 'sets TF, NT, RF, VM, VIF or VIP, outside the subset' };
  }
  for (const [i, o] of c.ops.entries()) {
    if (o.guest >= c.initial.guests.length)
      return {
        where: `ops[${i}].guest`,
        message: `guest ${o.guest} does not exist (${c.initial.guests.length} guests)`,
      };
    const p = opProblem(o.op as Op);
    if (p) return { where: `ops[${i}].op`, message: p };
  }
  if (c.divergence.step >= c.ops.length)
    return {
      where: 'divergence.step',
      message: `step ${c.divergence.step} is past the last operation (${c.ops.length})`,
    };
  return undefined;
};

/** The file's format nests 5 levels; anything much deeper is refused before decoding (no deep recursion). */
export const MAX_DEPTH = 16;

const tooDeep = (json: unknown): string | undefined => {
  const stack: [unknown, number, string][] = [[json, 0, '']];
  while (stack.length > 0) {
    const [v, depth, where] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth >= MAX_DEPTH) return where;
    if (Array.isArray(v))
      v.forEach((x, i) => {
        stack.push([x, depth + 1, `${where}[${i}]`]);
      });
    else
      for (const key of Object.keys(v))
        stack.push([(v as Record<string, unknown>)[key], depth + 1, `${where}${where ? '.' : ''}${key}`]);
  }
  return undefined;
};

/** Decode and validate a parsed JSON value. */
export const decodeCounterexample = (json: unknown): Decoded => {
  const deep = tooDeep(json);
  if (deep !== undefined)
    return { ok: false, problem: { where: oneLine(deep, 120), message: `nested more than ${MAX_DEPTH} levels deep` } };
  let r: ReturnType<typeof decodeEither>;
  try {
    r = decodeEither(json);
  } catch (e) {
    return {
      ok: false,
      problem: { where: '', message: `cannot decode (${oneLine(e instanceof Error ? e.message : String(e), 160)})` },
    };
  }
  if (r._tag === 'Left') {
    const [issue] = ParseResult.ArrayFormatter.formatErrorSync(r.left);
    return {
      ok: false,
      problem: { where: pathText(issue?.path ?? []), message: oneLine(issue?.message ?? 'does not match the schema') },
    };
  }
  const p = semanticProblem(r.right);
  return p ? { ok: false, problem: p } : { ok: true, value: r.right };
};

/** A file's JSON value, or what is wrong with its bytes. */
export type ParsedJson =
  | { readonly ok: true; readonly json: unknown }
  | { readonly ok: false; readonly problem: Problem };

/** Where `JSON.parse(text)` failed (` (at line L, column C)`), from its error: never the text itself; nothing when it gives no position. */
export const jsonErrorPlace = (text: string, e: unknown): string => {
  const m = /position (\d+)/.exec(e instanceof Error ? e.message : '');
  if (m) {
    const at = Math.min(Number(m[1]), text.length);
    const before = text.slice(0, at);
    const line = before.split('\n').length;
    return ` (at line ${line}, column ${at - before.lastIndexOf('\n')})`;
  }
  return /end of JSON input/.test(e instanceof Error ? e.message : '') ? ' (it ends too early)' : '';
};

/** Parse a file's bytes as JSON (the size limit applies here too). */
export const parseJsonBytes = (bytes: Uint8Array): ParsedJson => {
  if (bytes.length > MAX_COUNTEREXAMPLE_BYTES)
    return {
      ok: false,
      problem: { where: '', message: `${bytes.length} bytes, over the ${MAX_COUNTEREXAMPLE_BYTES}-byte limit` },
    };
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return { ok: false, problem: { where: '', message: 'not UTF-8 text' } };
  }
  if (text.trim() === '') return { ok: false, problem: { where: '', message: 'empty file' } };
  try {
    return { ok: true, json: JSON.parse(text) };
  } catch (e) {
    // Where, never what: the parser's message quotes the file's text (a secret, if the file is one).
    return { ok: false, problem: { where: '', message: `not JSON${jsonErrorPlace(text, e)}` } };
  }
};

/** Decode and validate a file's bytes (the size limit applies here too). */
export const parseCounterexample = (bytes: Uint8Array): Decoded => {
  const p = parseJsonBytes(bytes);
  return p.ok ? decodeCounterexample(p.json) : p;
};

/** Read a file's JSON value: the size is checked before anything is read. */
export const loadJsonFile = (file: string): ParsedJson => {
  let size: number;
  try {
    const st = statSync(file);
    if (!st.isFile()) return { ok: false, problem: { where: '', message: 'not a regular file' } };
    size = st.size;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return {
      ok: false,
      problem: { where: '', message: code === 'ENOENT' ? 'no such file' : `cannot read (${code ?? 'error'})` },
    };
  }
  if (size > MAX_COUNTEREXAMPLE_BYTES)
    return {
      ok: false,
      problem: { where: '', message: `${size} bytes, over the ${MAX_COUNTEREXAMPLE_BYTES}-byte limit` },
    };
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    return {
      ok: false,
      problem: { where: '', message: `cannot read (${(e as NodeJS.ErrnoException).code ?? 'error'})` },
    };
  }
  return parseJsonBytes(bytes);
};

/** Read, decode and validate a counterexample file: the size is checked before anything is read. */
export const loadCounterexample = (file: string): Decoded => {
  const p = loadJsonFile(file);
  return p.ok ? decodeCounterexample(p.json) : p;
};

/** `FILE: at WHERE: MESSAGE`, the one line a user sees. */
export const problemLine = (file: string, p: Problem): string =>
  visible(`${file}: ${p.where ? `at ${p.where}: ` : ''}${p.message}`);

// ---------------------------------------------------------------------------------------------
// From and to the checker's values.

/** The scenario a file describes (plain data: guests, geometry, operations). */
export const scenarioOf = (c: CounterexampleFile): Scenario => ({
  geometry: c.initial.geometry as Geometry,
  guests: c.initial.guests as readonly GuestSpec[],
  ops: c.ops as Scenario['ops'],
});

export const failureOf = (c: CounterexampleFile): PropertyFailure => c.divergence;

/** A checker's counterexample as a file's value. */
export const toCounterexampleFile = (
  design: DesignRef,
  property: PropertyName,
  c: Pick<Counterexample, 'seed' | 'path' | 'scenario' | 'failure'>,
  baseline?: DesignRef,
): CounterexampleFile => {
  return {
    format: 'hyperprop-counterexample',
    formatVersion: FORMAT_VERSION,
    modelVersion: MODEL_VERSION,
    design,
    property,
    seed: c.seed,
    path: c.path,
    initial: { geometry: c.scenario.geometry, guests: c.scenario.guests },
    ops: c.scenario.ops as CounterexampleFile['ops'],
    divergence: divergenceOf(c.failure),
    ...(baseline ? { baseline } : {}),
  };
};

/** A property failure as a file's divergence (absent fields left out). */
export const divergenceOf = (f: PropertyFailure): CounterexampleFile['divergence'] => ({
  step: f.step,
  ...(f.guest === undefined ? {} : { guest: f.guest }),
  message: f.message,
  ...(f.expected === undefined ? {} : { expected: f.expected }),
  ...(f.actual === undefined ? {} : { actual: f.actual }),
});

const encodeSync = Schema.encodeSync(CounterexampleSchema);

/** The file's text: keys in the schema's order, so equal counterexamples give equal bytes. */
export const encodeCounterexample = (c: CounterexampleFile): string => `${JSON.stringify(encodeSync(c), null, 2)}\n`;

/**
 * A file name from a design's name, a property and a hash of `identity`: what the counterexample
 * is (design, property, initial machine, operations), not how it was found (seed and path) nor
 * what this version said of it, so one bug found from two seeds, or by two shards, is one file.
 */
export const contentFileName = (design: string, property: string, identity: string): string => {
  const slug = (s: string) => s.replace(/[^A-Za-z0-9_-]+/g, '_').slice(0, 40);
  const hash = createHash('sha256').update(identity).digest('hex').slice(0, 16);
  return `${slug(design)}.${property}.${hash}.json`;
};

/** What a counterexample is, as the text its name hashes: design, property, initial machine and operations. */
export const counterexampleIdentity = (c: CounterexampleFile): string =>
  JSON.stringify([c.format, c.design, c.property, c.initial, c.ops]);

/** The file name: design, property and the hash of what it is (equal counterexamples, equal names). */
export const counterexampleFileName = (c: CounterexampleFile, _body?: string): string =>
  contentFileName(c.design.name, c.property, counterexampleIdentity(encodeSync(c)));

/**
 * Save atomically (a uniquely named temporary file, then rename): parallel writers of the same
 * counterexample write the same name, and no reader ever sees half a file.
 */
export const saveCounterexample = (dir: string, c: CounterexampleFile): string => {
  return writeAtomically(dir, counterexampleFileName(c), encodeCounterexample(c));
};

/** Write `body` to `dir/name` atomically (a uniquely named temporary file, then rename). */
export const writeAtomically = (dir: string, name: string, body: string): string => {
  const file = join(dir, name);
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
  try {
    writeFileSync(tmp, body, { flag: 'wx' });
    renameSync(tmp, file);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {}
    throw e;
  }
  return file;
};
