/**
 * What `hyperprop merge` (cli/merge.ts) does: read each shard's JSON report, validated with an effect
 * Schema (a file that is not a shard report, shards of different runs, a shard missing or given twice:
 * one line each, never a partial result), and join them into the unsharded run's report.
 */
import { readFileSync, statSync } from 'node:fs';
import * as ParseResult from 'effect/ParseResult';
import * as Schema from 'effect/Schema';
import { jsonErrorPlace } from './counterexample.ts';
import { UsageError } from './designs.ts';
import { visible } from './escape.ts';
import { type CheckReport, summarize } from './report.ts';

/** A report bigger than this is refused before it is read (a shard's failures render to text; 64 MiB is ample). */
export const MAX_REPORT_BYTES = 64 * 1024 * 1024;

const Int = Schema.Number.pipe(Schema.int());
const Divergence = Schema.Struct({
  step: Int,
  guest: Schema.optionalWith(Int, { exact: true }),
  message: Schema.String,
  expected: Schema.optionalWith(Schema.String, { exact: true }),
  actual: Schema.optionalWith(Schema.String, { exact: true }),
});

/** An item's ERROR (cli/work.ts ItemError): what the reporters print of it. */
const ItemErrorSchema = Schema.Struct({
  kind: Schema.Literal('threw', 'malformed-state', 'hung', 'time-limit', 'crashed', 'error'),
  message: Schema.String,
  call: Schema.optionalWith(Schema.String, { exact: true }),
  step: Schema.optionalWith(Int, { exact: true }),
  guest: Schema.optionalWith(Int, { exact: true }),
  op: Schema.optionalWith(Schema.String, { exact: true }),
});
/** The design an item ran (the text reporter's replay hint reads a design file's path). */
const DesignRefSchema = Schema.Union(
  Schema.Struct({ kind: Schema.Literal('preset'), name: Schema.String }),
  Schema.Struct({ kind: Schema.Literal('file'), name: Schema.String, path: Schema.String }),
);

/**
 * What merging and the reporters read of a report (cli/report.ts's CheckReport); fields not named
 * here are kept as they are.
 */
const ReportSchema = Schema.Struct({
  tool: Schema.Literal('hyperprop'),
  version: Schema.String,
  seed: Int,
  runs: Int,
  timeLimitSeconds: Schema.optionalWith(Int, { exact: true }),
  shard: Schema.optionalWith(Schema.Struct({ index: Int, count: Int }), { exact: true }),
  designs: Schema.Array(Schema.Struct({ kind: Schema.Literal('preset', 'file'), name: Schema.String })),
  properties: Schema.Array(Schema.String),
  corpus: Schema.Array(
    Schema.Struct({
      file: Schema.String,
      design: Schema.String,
      property: Schema.String,
      status: Schema.Literal('still-failing', 'fixed', 'skipped', 'error'),
      error: Schema.optionalWith(ItemErrorSchema, { exact: true }),
      divergence: Schema.optionalWith(Divergence, { exact: true }),
      rendering: Schema.optionalWith(Schema.String, { exact: true }),
      durationMs: Schema.Number,
    }),
  ),
  results: Schema.Array(
    Schema.Struct({
      index: Int,
      design: Schema.String,
      designRef: DesignRefSchema,
      property: Schema.String,
      status: Schema.Literal('passed', 'failed', 'error'),
      error: Schema.optionalWith(ItemErrorSchema, { exact: true }),
      runs: Int,
      seed: Int,
      durationMs: Schema.Number,
      counterexample: Schema.optionalWith(
        Schema.Struct({
          file: Schema.optionalWith(Schema.String, { exact: true }),
          path: Schema.String,
          runsToFailure: Int,
          shrinks: Int,
          operations: Int,
          guests: Int,
          divergence: Divergence,
          rendering: Schema.String,
        }),
        { exact: true },
      ),
    }),
  ),
  durationMs: Schema.Number,
});

const decode = Schema.decodeUnknownEither(ReportSchema, { onExcessProperty: 'preserve', errors: 'first' });

const where = (path: readonly PropertyKey[]): string =>
  path.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : `${acc}${acc ? '.' : ''}${String(p)}`), '');

/** Read and validate one shard's JSON report; UsageError (one line) when it is not one. */
export const readReport = (file: string): CheckReport => {
  let size: number;
  try {
    const st = statSync(file);
    if (!st.isFile()) throw new UsageError(`${visible(file)}: not a regular file`);
    size = st.size;
  } catch (e) {
    if (e instanceof UsageError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(
      `${visible(file)}: ${code === 'ENOENT' ? 'no such file' : `cannot read (${code ?? 'error'})`}`,
    );
  }
  if (size > MAX_REPORT_BYTES)
    throw new UsageError(`${visible(file)}: ${size} bytes, over the ${MAX_REPORT_BYTES}-byte limit`);
  let json: unknown;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(readFileSync(file));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(`${visible(file)}: ${code ? `cannot read (${code})` : 'not UTF-8 text'}`);
  }
  try {
    json = JSON.parse(text);
  } catch (e) {
    // Where, never what: the parser's message quotes the file's text (a secret, if the file is one).
    throw new UsageError(
      `${visible(file)}: not JSON${jsonErrorPlace(text, e)}; merge reads the reports of \`hyperprop check --reporter json\``,
    );
  }
  const r = decode(json);
  if (r._tag === 'Left') {
    const [issue] = ParseResult.ArrayFormatter.formatErrorSync(r.left);
    const at = where(issue?.path ?? []);
    throw new UsageError(
      `${visible(file)}: not a hyperprop check JSON report (${at ? `at ${visible(at)}: ` : ''}${visible((issue?.message ?? 'does not match').replace(/\s+/g, ' ').slice(0, 200))})`,
    );
  }
  return json as CheckReport;
};

/** What every shard of one run has in common: the run's identity (the shard and what was found aside). */
const runIdentity = (r: CheckReport): string =>
  JSON.stringify([
    r.tool,
    r.version,
    r.seed,
    r.runs,
    r.timeLimitSeconds ?? null,
    r.designs,
    r.properties,
    r.baseline ?? null,
  ]);

/**
 * Merge the reports of shards 1..N of one run into the unsharded run's report: the corpus replays and
 * the work items in the unsharded order (shard K took every N-th from the K-th: `inShard`), the summary
 * recomputed; the duration is the longest shard's (they run side by side). Throws UsageError (one
 * line) unless the reports are exactly the N shards of one run.
 */
export const mergeReports = (
  reports: readonly { readonly file: string; readonly report: CheckReport }[],
): CheckReport => {
  if (reports.length === 0) throw new UsageError('merge needs the JSON reports of the shards');
  const first = reports[0]!;
  for (const { file, report } of reports) {
    if (!report.shard)
      throw new UsageError(
        `${visible(file)}: not a shard's report (no shard: it was run without --shard or a CI shard variable)`,
      );
    if (runIdentity(report) !== runIdentity(first.report))
      throw new UsageError(
        `${visible(file)}: from another run than ${visible(first.file)} (version, seed, runs, time limit, designs and properties must all match)`,
      );
  }
  const count = first.report.shard!.count;
  const byIndex = new Map<number, { file: string; report: CheckReport }>();
  for (const x of reports) {
    const s = x.report.shard!;
    if (s.count !== count)
      throw new UsageError(
        `${visible(x.file)}: shard ${s.index}/${s.count}, but ${visible(first.file)} is one of ${count} shards`,
      );
    const seen = byIndex.get(s.index);
    if (seen)
      throw new UsageError(`${visible(x.file)}: shard ${s.index}/${count} given twice (also ${visible(seen.file)})`);
    byIndex.set(s.index, x);
  }
  const missing = Array.from({ length: count }, (_, i) => i + 1).filter((k) => !byIndex.has(k));
  if (missing.length > 0)
    throw new UsageError(
      `shard(s) ${missing.map((k) => `${k}/${count}`).join(', ')} missing: merge joins all ${count}`,
    );
  const shards = Array.from({ length: count }, (_, i) => byIndex.get(i + 1)!);

  // The corpus: shard K replayed files K-1, K-1+N, K-1+2N, … of the unsharded list.
  const total = shards.reduce((n, s) => n + s.report.corpus.length, 0);
  const corpus: CheckReport['corpus'][number][] = new Array(total);
  for (const [k, s] of shards.entries()) {
    const expected = total > k ? Math.ceil((total - k) / count) : 0;
    if (s.report.corpus.length !== expected)
      throw new UsageError(
        `${visible(s.file)}: ${s.report.corpus.length} corpus replay(s) where shard ${k + 1}/${count} of ${total} takes ${expected}: the shards replayed different corpus folders`,
      );
    s.report.corpus.forEach((c, j) => {
      corpus[j * count + k] = c;
    });
  }
  // The work items carry their position in the unsharded work.
  const results = shards.flatMap((s) => s.report.results).sort((a, b) => a.index - b.index);
  for (let i = 1; i < results.length; i++)
    if (results[i]!.index === results[i - 1]!.index)
      throw new UsageError(`work item ${results[i]!.index} is in two shards' reports`);
  const { shard: _shard, ...whole } = first.report;
  return {
    ...whole,
    corpus,
    results,
    summary: summarize(corpus, results),
    durationMs: Math.max(...shards.map((s) => s.report.durationMs)),
  };
};
