/**
 * The report of `hyperprop check` and its three reporters: text (a summary table and each
 * failure's trace), JSON (the report itself) and JUnit XML (a test suite per design, a test case
 * per property, one suite for the regression corpus).
 */
import type { PropertyFailure, PropertyName } from '../properties/property.ts';
import type { TraceRecord } from '../properties/record/types.ts';
import type { SyscallPropertyName } from '../properties/syscall/properties.ts';
import type { DesignRef } from './counterexample.ts';
import { visible } from './escape.ts';
import { errorPlace, type ItemError, type ItemResult, type Shard } from './work.ts';

export type Reporter = 'text' | 'json' | 'junit';
export const REPORTERS: readonly Reporter[] = ['text', 'json', 'junit'];

/** A saved counterexample replayed before the check. */
export interface CorpusResult {
  readonly file: string;
  readonly design: string;
  readonly property: PropertyName | SyscallPropertyName;
  /**
   * still-failing: the property fails on it; fixed: it holds now; skipped: its design or property is
   * not in this run; error: its replay did not finish (the design misbehaved, or it ran past its budget).
   */
  readonly status: 'still-failing' | 'fixed' | 'skipped' | 'error';
  readonly error?: ItemError;
  readonly divergence?: PropertyFailure;
  readonly rendering?: string;
  /** The replayed run step by step as plain data (properties/record/), for a counterexample that still fails. */
  readonly trace?: TraceRecord;
  readonly durationMs: number;
}

export interface CheckReport {
  readonly tool: 'hyperprop';
  readonly version: string;
  readonly seed: number;
  readonly runs: number;
  readonly timeLimitSeconds?: number;
  readonly shard?: Shard;
  readonly designs: readonly DesignRef[];
  /** `--baseline`: a failure counted only where this design does not fail the same way at the same step or earlier. */
  readonly baseline?: DesignRef;
  readonly properties: readonly (PropertyName | SyscallPropertyName)[];
  readonly corpus: readonly CorpusResult[];
  readonly results: readonly ItemResult[];
  readonly summary: {
    readonly passed: number;
    readonly failed: number;
    readonly corpusStillFailing: number;
    readonly corpusFixed: number;
    readonly corpusSkipped: number;
    /** Items with no verdict: the design misbehaved (threw, broke the host, hung) or ran out of time. */
    readonly errors: number;
    readonly corpusErrors: number;
  };
  readonly durationMs: number;
}

export const summarize = (corpus: readonly CorpusResult[], results: readonly ItemResult[]): CheckReport['summary'] => ({
  passed: results.filter((r) => r.status === 'passed').length,
  failed: results.filter((r) => r.status === 'failed').length,
  corpusStillFailing: corpus.filter((c) => c.status === 'still-failing').length,
  corpusFixed: corpus.filter((c) => c.status === 'fixed').length,
  corpusSkipped: corpus.filter((c) => c.status === 'skipped').length,
  errors: results.filter((r) => r.status === 'error').length,
  corpusErrors: corpus.filter((c) => c.status === 'error').length,
});

/** Did everything hold? (No property failed, no saved counterexample still fails, no design misbehaved.) */
export const allHeld = (r: CheckReport): boolean =>
  r.summary.failed === 0 &&
  r.summary.corpusStillFailing === 0 &&
  (r.summary.errors ?? 0) === 0 &&
  (r.summary.corpusErrors ?? 0) === 0;

/** An ERROR in one line: what happened and where. */
export const errorText = (e: ItemError): string => {
  const place = errorPlace(e);
  return visible(`${e.message}${place ? ` ${place}` : ''}`);
};

/** The command that replays a saved file: a design file's counterexample needs its --design. */
export const replayHint = (file: string, ref: DesignRef, baseline?: DesignRef): string =>
  `npx hyperprop replay ${shellWord(file)}${[ref, baseline].map((x) => (x?.kind === 'file' ? ` --design ${shellWord(x.path)}` : '')).join('')}`;

/** A path as one shell word (quoted when it needs to be), escaped for the terminal. */
const shellWord = (s: string): string => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${visible(s).replace(/'/g, "'\\''")}'`);

/** Multi-line text (a trace's rendering) with every line escaped: its lines stay lines, nothing else acts. */
const visibleLines = (s: string): string => s.split('\n').map(visible).join('\n');

const secs = (ms: number) => `${(ms / 1000).toFixed(1)}s`;

/** The summary table: one row per (design, property). */
export const summaryTable = (r: CheckReport): string => {
  const rows = [['design', 'property', 'result', 'runs', 'time', 'counterexample']];
  for (const x of r.results) {
    const c = x.counterexample;
    rows.push([
      visible(x.design),
      visible(x.property),
      x.status === 'passed' ? 'held' : x.status === 'error' ? 'ERROR' : 'FAILED',
      String(x.runs),
      secs(x.durationMs),
      c
        ? `${c.operations} op(s) at step ${c.divergence.step}${c.file ? `: ${visible(c.file)}` : ''}`
        : x.error
          ? visible(errorPlace(x.error) || x.error.kind)
          : '',
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return rows
    .map((row) =>
      row
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
};

export const renderText = (r: CheckReport): string => {
  const out: string[] = [];
  const s = r.summary;
  if (r.baseline) {
    const b =
      r.baseline.kind === 'preset' ? r.baseline.name : `${visible(r.baseline.name)} (${visible(r.baseline.path)})`;
    out.push(
      `baseline ${b}: a failure counts only where ${b} does not fail the same property the same way at the same step, or earlier`,
    );
    out.push('');
  }
  if (r.corpus.length > 0) {
    out.push(
      `corpus: ${r.corpus.length} saved counterexample(s): ${s.corpusStillFailing} still failing, ${s.corpusFixed} now hold, ${s.corpusSkipped} not in this run${s.corpusErrors ? `, ${s.corpusErrors} ERROR` : ''}`,
    );
    for (const c of r.corpus.filter((x) => x.status === 'still-failing')) {
      out.push(`STILL FAILING ${visible(c.design)} / ${visible(c.property)}: ${visible(c.file)}`);
      if (c.rendering) out.push(visibleLines(c.rendering).replace(/^/gm, '    '));
    }
    for (const c of r.corpus.filter((x) => x.status === 'error'))
      out.push(
        `ERROR ${visible(c.design)} / ${visible(c.property)}: ${visible(c.file)}: ${c.error ? errorText(c.error) : 'no result'}`,
      );
    out.push('');
  }
  for (const x of r.results.filter((y) => y.status === 'error'))
    out.push(
      `ERROR ${visible(x.design)} / ${visible(x.property)} (seed ${x.seed}): ${x.error ? errorText(x.error) : 'no result'}`,
    );
  if (s.errors > 0) out.push('');
  for (const x of r.results) {
    const c = x.counterexample;
    if (!c) continue;
    out.push(
      `FAILED ${visible(x.design)} / ${visible(x.property)}: found after ${c.runsToFailure} run(s), shrunk to ${c.operations} operation(s) on ${c.guests} guest(s) (seed ${x.seed}, path ${visible(c.path)})`,
    );
    if (c.file) out.push(`  saved ${visible(c.file)}; replay with: ${replayHint(c.file, x.designRef, r.baseline)}`);
    out.push(visibleLines(c.rendering).replace(/^/gm, '    '));
    out.push('');
  }
  out.push(summaryTable(r));
  out.push('');
  out.push(
    `${allHeld(r) ? 'all held' : 'FAILED'}: ${s.passed} held, ${s.failed} failed${s.errors ? `, ${s.errors} ERROR` : ''}${r.corpus.length ? `, ${s.corpusStillFailing} saved counterexample(s) still failing` : ''}${s.corpusErrors ? `, ${s.corpusErrors} not replayed (ERROR)` : ''}; seed ${r.seed}${r.shard ? `, shard ${r.shard.index}/${r.shard.count}` : ''}; ${secs(r.durationMs)}`,
  );
  return `${out.join('\n')}\n`;
};

// Outside JSON's strings there are only brackets, numbers, words and whitespace: every character a
// terminal acts on that JSON.stringify leaves as is (DEL, C1 controls, line separators, bidirectional
// marks) is in a string, where `\uXXXX` is the same character to a JSON reader.
const JSON_ACTIVE = /[\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g;

/** The report as JSON, with nothing in it a terminal would act on (it is the same JSON value). */
export const renderJson = (r: CheckReport): string =>
  `${JSON.stringify(r, null, 2).replace(JSON_ACTIVE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}\n`;

// ---------------------------------------------------------------------------------------------
// JUnit XML.

/** Text for XML: characters XML 1.0 cannot hold are dropped, markup is escaped. */
export const xmlEscape = (s: string): string =>
  s
    // biome-ignore lint/suspicious/noControlCharactersInRegex: removing exactly the characters XML 1.0 forbids
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '')
    .replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');

const attrs = (a: Record<string, string | number>) =>
  Object.entries(a)
    .map(([k, v]) => ` ${k}="${xmlEscape(String(v))}"`)
    .join('');

interface Case {
  readonly classname: string;
  readonly name: string;
  readonly time: number;
  readonly failure?: { readonly message: string; readonly body: string };
  /** No verdict: the design misbehaved or ran out of time (JUnit's `error`, apart from failures). */
  readonly error?: { readonly message: string; readonly body: string };
  readonly skipped?: string;
}

const suite = (name: string, cases: readonly Case[]): string => {
  const failures = cases.filter((c) => c.failure).length;
  const errors = cases.filter((c) => c.error).length;
  const skipped = cases.filter((c) => c.skipped !== undefined).length;
  const time = cases.reduce((a, c) => a + c.time, 0);
  const body = cases.map((c) => {
    const open = `    <testcase${attrs({ classname: c.classname, name: c.name, time: c.time.toFixed(3) })}`;
    if (c.failure)
      return `${open}>\n      <failure${attrs({ message: c.failure.message, type: 'PropertyFailure' })}>${xmlEscape(c.failure.body)}</failure>\n    </testcase>`;
    if (c.error)
      return `${open}>\n      <error${attrs({ message: c.error.message, type: 'DesignError' })}>${xmlEscape(c.error.body)}</error>\n    </testcase>`;
    if (c.skipped !== undefined) return `${open}>\n      <skipped${attrs({ message: c.skipped })}/>\n    </testcase>`;
    return `${open}/>`;
  });
  return [
    `  <testsuite${attrs({ name, tests: cases.length, failures, errors, skipped, time: time.toFixed(3) })}>`,
    ...body,
    '  </testsuite>',
  ].join('\n');
};

export const renderJunit = (r: CheckReport): string => {
  const suites: string[] = [];
  if (r.corpus.length > 0)
    suites.push(
      suite(
        'corpus',
        r.corpus.map((c) => ({
          classname: `hyperprop.corpus.${c.design}`,
          name: `${c.property} ${c.file}`,
          time: c.durationMs / 1000,
          ...(c.status === 'still-failing'
            ? { failure: { message: c.divergence?.message ?? 'still fails', body: c.rendering ?? '' } }
            : {}),
          ...(c.status === 'skipped' ? { skipped: 'design or property not in this run' } : {}),
          ...(c.status === 'error' && c.error
            ? { error: { message: errorText(c.error), body: errorText(c.error) } }
            : {}),
        })),
      ),
    );
  const designs = [...new Set(r.results.map((x) => x.design))];
  for (const d of designs)
    suites.push(
      suite(
        d,
        r.results
          .filter((x) => x.design === d)
          .map((x) => ({
            classname: `hyperprop.${d}`,
            name: x.property,
            time: x.durationMs / 1000,
            ...(x.counterexample
              ? {
                  failure: {
                    message: x.counterexample.divergence.message,
                    body: `seed ${x.seed}, path ${x.counterexample.path}${x.counterexample.file ? `, saved ${x.counterexample.file}` : ''}\n${x.counterexample.rendering}`,
                  },
                }
              : {}),
            ...(x.error
              ? {
                  error: {
                    message: errorText(x.error),
                    body: `seed ${x.seed}: ${x.error.kind}: ${errorText(x.error)}`,
                  },
                }
              : {}),
          })),
      ),
    );
  const s = r.summary;
  const tests = r.results.length + r.corpus.length;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites${attrs({ name: 'hyperprop', tests, failures: s.failed + s.corpusStillFailing, errors: s.errors + s.corpusErrors, time: (r.durationMs / 1000).toFixed(3) })}>`,
    ...suites,
    '</testsuites>',
    '',
  ].join('\n');
};

export const renderReport = (r: CheckReport, reporter: Reporter): string =>
  reporter === 'json' ? renderJson(r) : reporter === 'junit' ? renderJunit(r) : renderText(r);
