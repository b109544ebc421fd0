/**
 * The report of `hyperprop check` and its three reporters: text (a summary table and each
 * failure's trace), JSON (the report itself) and JUnit XML (a test suite per design, a test case
 * per property, one suite for the regression corpus).
 */
import type { PropertyFailure, PropertyName } from '../properties/property.ts';
import type { TraceRecord } from '../properties/record/types.ts';
import type { SyscallPropertyName } from '../properties/syscall/properties.ts';
import type { DesignRef } from './counterexample.ts';
import type { ItemResult, Shard } from './work.ts';

export type Reporter = 'text' | 'json' | 'junit';
export const REPORTERS: readonly Reporter[] = ['text', 'json', 'junit'];

/** A saved counterexample replayed before the check. */
export interface CorpusResult {
  readonly file: string;
  readonly design: string;
  readonly property: PropertyName | SyscallPropertyName;
  /** still-failing: the property fails on it; fixed: it holds now; skipped: its design or property is not in this run. */
  readonly status: 'still-failing' | 'fixed' | 'skipped';
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
  readonly properties: readonly (PropertyName | SyscallPropertyName)[];
  readonly corpus: readonly CorpusResult[];
  readonly results: readonly ItemResult[];
  readonly summary: {
    readonly passed: number;
    readonly failed: number;
    readonly corpusStillFailing: number;
    readonly corpusFixed: number;
    readonly corpusSkipped: number;
  };
  readonly durationMs: number;
}

export const summarize = (corpus: readonly CorpusResult[], results: readonly ItemResult[]): CheckReport['summary'] => ({
  passed: results.filter((r) => r.status === 'passed').length,
  failed: results.filter((r) => r.status === 'failed').length,
  corpusStillFailing: corpus.filter((c) => c.status === 'still-failing').length,
  corpusFixed: corpus.filter((c) => c.status === 'fixed').length,
  corpusSkipped: corpus.filter((c) => c.status === 'skipped').length,
});

/** Did everything hold? (No property failed, no saved counterexample still fails.) */
export const allHeld = (r: CheckReport): boolean => r.summary.failed === 0 && r.summary.corpusStillFailing === 0;

const secs = (ms: number) => `${(ms / 1000).toFixed(1)}s`;

/** The summary table: one row per (design, property). */
export const summaryTable = (r: CheckReport): string => {
  const rows = [['design', 'property', 'result', 'runs', 'time', 'counterexample']];
  for (const x of r.results) {
    const c = x.counterexample;
    rows.push([
      x.design,
      x.property,
      x.status === 'passed' ? 'held' : 'FAILED',
      String(x.runs),
      secs(x.durationMs),
      c ? `${c.operations} op(s) at step ${c.divergence.step}${c.file ? `: ${c.file}` : ''}` : '',
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
  if (r.corpus.length > 0) {
    out.push(
      `corpus: ${r.corpus.length} saved counterexample(s): ${s.corpusStillFailing} still failing, ${s.corpusFixed} now hold, ${s.corpusSkipped} not in this run`,
    );
    for (const c of r.corpus.filter((x) => x.status === 'still-failing')) {
      out.push(`STILL FAILING ${c.design} / ${c.property}: ${c.file}`);
      if (c.rendering) out.push(c.rendering.replace(/^/gm, '    '));
    }
    out.push('');
  }
  for (const x of r.results) {
    const c = x.counterexample;
    if (!c) continue;
    out.push(
      `FAILED ${x.design} / ${x.property}: found after ${c.runsToFailure} run(s), shrunk to ${c.operations} operation(s) on ${c.guests} guest(s) (seed ${x.seed}, path ${c.path})`,
    );
    if (c.file) out.push(`  saved ${c.file}; replay with: npx hyperprop replay ${c.file}`);
    out.push(c.rendering.replace(/^/gm, '    '));
    out.push('');
  }
  out.push(summaryTable(r));
  out.push('');
  out.push(
    `${allHeld(r) ? 'all held' : 'FAILED'}: ${s.passed} held, ${s.failed} failed${r.corpus.length ? `, ${s.corpusStillFailing} saved counterexample(s) still failing` : ''}; seed ${r.seed}${r.shard ? `, shard ${r.shard.index}/${r.shard.count}` : ''}; ${secs(r.durationMs)}`,
  );
  return `${out.join('\n')}\n`;
};

export const renderJson = (r: CheckReport): string => `${JSON.stringify(r, null, 2)}\n`;

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
  readonly skipped?: string;
}

const suite = (name: string, cases: readonly Case[]): string => {
  const failures = cases.filter((c) => c.failure).length;
  const skipped = cases.filter((c) => c.skipped !== undefined).length;
  const time = cases.reduce((a, c) => a + c.time, 0);
  const body = cases.map((c) => {
    const open = `    <testcase${attrs({ classname: c.classname, name: c.name, time: c.time.toFixed(3) })}`;
    if (c.failure)
      return `${open}>\n      <failure${attrs({ message: c.failure.message, type: 'PropertyFailure' })}>${xmlEscape(c.failure.body)}</failure>\n    </testcase>`;
    if (c.skipped !== undefined) return `${open}>\n      <skipped${attrs({ message: c.skipped })}/>\n    </testcase>`;
    return `${open}/>`;
  });
  return [
    `  <testsuite${attrs({ name, tests: cases.length, failures, errors: 0, skipped, time: time.toFixed(3) })}>`,
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
          })),
      ),
    );
  const s = r.summary;
  const tests = r.results.length + r.corpus.length;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites${attrs({ name: 'hyperprop', tests, failures: s.failed + s.corpusStillFailing, errors: 0, time: (r.durationMs / 1000).toFixed(3) })}>`,
    ...suites,
    '</testsuites>',
    '',
  ].join('\n');
};

export const renderReport = (r: CheckReport, reporter: Reporter): string =>
  reporter === 'json' ? renderJson(r) : reporter === 'junit' ? renderJunit(r) : renderText(r);
