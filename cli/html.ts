/**
 * `replay --html` and `check --html`: a counterexample as one self-contained HTML page. The page
 * holds the trace record (properties/record/types.ts) as JSON, the viewer's script and styles
 * (cli/html/viewer.js, viewer.css: plain files, inlined here at run time), and the text trace for
 * browsers without scripts. It fetches nothing: a Content-Security-Policy forbids every request.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { replayText } from '../properties/record/text.ts';
import type { TraceRecord } from '../properties/record/types.ts';
import type { ReplayResult } from './replay.ts';
import type { CheckReport } from './report.ts';

/** What the page says about where the trace comes from. */
export interface PageMeta {
  /** The counterexample file, if it was saved. */
  readonly source?: string;
  readonly seed?: number;
  readonly notes?: readonly string[];
}

/** The folder of the page's assets (copied beside the compiled module when the package is built). */
const ASSETS = new URL('./html/', import.meta.url);
let assets: { readonly script: string; readonly style: string } | undefined;
const loadAssets = () => {
  assets ??= {
    script: readFileSync(new URL('viewer.js', ASSETS), 'utf8'),
    style: readFileSync(new URL('viewer.css', ASSETS), 'utf8'),
  };
  return assets;
};

const escapeHtml = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** JSON that can sit inside a <script> element: no `<` survives (so no `</script>` nor `<!--`). */
const scriptJson = (x: unknown): string =>
  JSON.stringify(x)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');

/** The page of one trace: one HTML document, everything inlined. */
export const tracePage = (trace: TraceRecord, meta: PageMeta = {}): string => {
  const { script, style } = loadAssets();
  const title = `${trace.design.name}${trace.property ? ` / ${trace.property}` : ''}: ${
    trace.divergence ? `fails at step ${trace.divergence.step}` : 'holds'
  } — hyperprop`;
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    // Nothing may be fetched: no script, style, image, font or connection from anywhere.
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'">`,
    '<meta name="generator" content="hyperprop">',
    '<link rel="icon" href="data:,">',
    `<title>${escapeHtml(title)}</title>`,
    `<style>\n${style}</style>`,
    '</head>',
    '<body>',
    `<noscript><pre>${escapeHtml(replayText(trace))}</pre></noscript>`,
    `<script type="application/json" id="trace-data">${scriptJson({ meta, trace })}</script>`,
    `<script>\n${script}</script>`,
    '</body>',
    '</html>',
    '',
  ].join('\n');
};

/** Write one page (and its folder). */
export const writeTracePage = (file: string, trace: TraceRecord, meta: PageMeta = {}): void => {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, tracePage(trace, meta));
};

/** A page's file name for a counterexample file (or a design and property when nothing was saved). */
const pageName = (file: string | undefined, fallback: string): string =>
  `${(file ? basename(file).replace(/\.json$/, '') : fallback).replace(/[^\w.-]/g, '_')}.html`;

/**
 * `replay --html PATH`: one counterexample's page at PATH; several, a page each in the folder PATH.
 * Says on standard error where the pages went.
 */
export const writeReplayPages = (path: string, results: readonly ReplayResult[]): void => {
  const written: string[] = [];
  for (const r of results) {
    // A replay stopped as ERROR (a misbehaving design, or past its time budget) has no trace to show.
    if (!r.trace) continue;
    const file = results.length === 1 ? path : join(path, pageName(r.file, `${r.design}.${r.property}`));
    writeTracePage(file, r.trace, { source: r.file, notes: r.notes });
    written.push(file);
  }
  process.stderr.write(
    results.length === 1 ? `page written to ${path}\n` : `${written.length} page(s) written to ${path}\n`,
  );
};

/** `check --html DIR`: a page for every failure of the run and every saved counterexample that still fails. */
export const writeCheckPages = (dir: string, report: CheckReport): void => {
  let n = 0;
  for (const c of report.corpus) {
    if (c.status !== 'still-failing' || !c.trace) continue;
    writeTracePage(join(dir, `corpus.${pageName(c.file, `${c.design}.${c.property}`)}`), c.trace, {
      source: c.file,
    });
    n++;
  }
  for (const x of report.results) {
    const c = x.counterexample;
    if (!c?.trace) continue;
    writeTracePage(join(dir, pageName(c.file, `${x.design}.${x.property}`)), c.trace, {
      ...(c.file ? { source: c.file } : {}),
      seed: x.seed,
    });
    n++;
  }
  mkdirSync(dir, { recursive: true });
  process.stderr.write(`${n} page(s) written to ${dir}\n`);
};
