/**
 * Designs named on the command line: a preset by name, or a user's design file (a `.ts` or `.js`
 * module exporting a `Design` as `design` or as its default export), loaded with a dynamic
 * import and validated with `isDesign`. Its path and sha256 go into counterexamples.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { relative, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PRESETS } from '../model/designs/presets.ts';
import { type Design, isDesign } from '../model/host/design.ts';
import { isSyscallDesign, type SyscallDesign } from '../model/syscall/designs.ts';
import { SYSCALL_DESIGNS } from '../model/syscall/presets.ts';
import type { DesignRef } from './counterexample.ts';
import { exportedDesign, importDesignFile } from './design-import.ts';
import { errorLine, visible } from './escape.ts';

/** The three configurations every suite runs (DESIGN.md §3), those of them that exist. */
export const DEFAULT_DESIGN_NAMES: readonly string[] = ['shadow', 'ept', 'passthrough'];

export const defaultDesigns = (): string[] => DEFAULT_DESIGN_NAMES.filter((n) => Object.hasOwn(PRESETS, n));

export interface LoadedDesign {
  /** A hosted-machine design (absent on values made before designs of other levels could load). */
  readonly level?: 'machine';
  readonly design: Design;
  readonly ref: DesignRef;
  /** What to pass to load it again (a preset's name, a file's absolute path). */
  readonly spec: string;
}

/** A system-call-level design (model/syscall/designs.ts `SyscallDesign`), a built-in by name or from a file. */
export interface LoadedSyscallDesign {
  readonly level: 'syscall';
  readonly design: SyscallDesign;
  readonly ref: DesignRef;
  readonly spec: string;
}

/** A design of any level, as `--design` names it. */
export type LoadedAnyDesign = LoadedDesign | LoadedSyscallDesign;

/** The level of a loaded design. */
export const levelOf = (d: LoadedAnyDesign): 'machine' | 'syscall' => d.level ?? 'machine';

/** Bad input: one line for the user (never a stack trace). */
export class UsageError extends Error {}

const looksLikeFile = (s: string) => /[\\/]/.test(s) || /\.(m?ts|m?js|cts|cjs)$/.test(s);

/**
 * One line for a design file that does not load, keeping where the problem is: the first
 * `file:line:col` (or `file:line`) the error's message or stack names in that file, then its message.
 */
export const loadErrorLine = (e: unknown, file: string): string => {
  const message = e instanceof Error ? e.message : String(e);
  const stack = e instanceof Error ? (e.stack ?? '') : '';
  const url = pathToFileURL(file).href;
  let place: string | undefined;
  // esbuild (through tsx) names the place in the message with a 0-based column: `/x.ts:2:12: ERROR: …`.
  const esbuild = new RegExp(`^\\s*${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:(\\d+):(\\d+): `, 'm').exec(message);
  if (esbuild) place = `${file}:${esbuild[1]}:${Number(esbuild[2]) + 1}`;
  for (const text of place ? [] : [message, stack]) {
    for (const name of [file, url]) {
      const at = text.indexOf(`${name}:`);
      if (at < 0) continue;
      const m = /^:(\d+)(?::(\d+))?/.exec(text.slice(at + name.length));
      if (m) {
        place = `${file}:${m[1]}${m[2] ? `:${m[2]}` : ''}`;
        break;
      }
    }
    if (place) break;
  }
  // Node does not say where a JavaScript module's syntax error is: its parser alone (--check runs nothing) does.
  if (!place && e instanceof SyntaxError && /\.[mc]?js$/.test(file)) place = syntaxErrorPlace(file);
  // esbuild (through tsx) puts the location in the message: `Transform failed with 1 error:\n/x.ts:1:24: ERROR: …`.
  const lines = message.split('\n').map((l) => l.trim());
  const located = lines.find((l) => l.startsWith(`${file}:`));
  const text = located
    ? located.slice(located.indexOf(': ', file.length) + 2).replace(/^ERROR: /, '')
    : (lines.find((l) => l !== '' && !/^Transform failed with/.test(l)) ?? message);
  const what = `${e instanceof Error && !located && e.name !== 'Error' && !text.startsWith(e.name) ? `${e.name}: ` : ''}${text}`;
  return errorLine(place ? `${posix(place)}: ${what}` : what);
};

/** `file:line:col` of a JavaScript file's syntax error, from Node's parser (`node --check`: parses, runs nothing). */
const syntaxErrorPlace = (file: string): string | undefined => {
  const r = spawnSync(process.execPath, ['--check', file], { encoding: 'utf8', timeout: 10_000 });
  const m = new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:(\\d+)\\n[^\\n]*\\n( *)\\^`).exec(
    r.stderr ?? '',
  );
  return m ? `${file}:${m[1]}:${m[2]!.length + 1}` : undefined;
};

export const sha256File = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

const posix = (p: string) => p.split(sep).join('/');

/**
 * The preset of this name, or undefined: a lookup in the preset table and nothing else. A name read
 * from a file (a counterexample's `design.name`) goes through here only, so no file ever makes the
 * command load code (a name that looks like a path is simply not a preset).
 */
export const presetDesign = (name: string): LoadedDesign | undefined =>
  Object.hasOwn(PRESETS, name) ? { design: PRESETS[name]!, ref: { kind: 'preset', name }, spec: name } : undefined;

/** A design file named on the command line, before it is loaded: where it is and what it holds. */
export interface DesignFile {
  /** Its absolute path (what a worker loads). */
  readonly spec: string;
  /** As a counterexample records it: relative to the working folder when inside it. */
  readonly path: string;
  readonly sha256: string;
}

/**
 * A design file named on the command line, checked (it exists, it is a regular file) and hashed,
 * not loaded: loading runs it. Throws `UsageError` with one line when `spec` is neither a preset
 * nor such a file.
 */
export const designFile = (spec: string): DesignFile => {
  if (!looksLikeFile(spec))
    throw new UsageError(
      `unknown design '${visible(spec)}': presets are ${Object.keys(PRESETS).join(', ')}; system-call-level designs are ${Object.keys(SYSCALL_DESIGNS).join(', ')}; a design file is a path such as ./my-design.ts`,
    );
  const abs = resolve(spec);
  try {
    if (!statSync(abs).isFile()) throw new UsageError(`design file ${visible(spec)}: not a regular file`);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`design file ${visible(spec)}: no such file`);
  }
  const rel = posix(relative(process.cwd(), abs));
  return { spec: abs, path: rel.startsWith('..') ? posix(abs) : rel, sha256: sha256File(abs) };
};

/**
 * The built-in system-call-level design of this name, or undefined (a lookup, as `presetDesign`).
 */
export const syscallPresetDesign = (name: string): LoadedSyscallDesign | undefined =>
  Object.hasOwn(SYSCALL_DESIGNS, name)
    ? { level: 'syscall', design: SYSCALL_DESIGNS[name]!, ref: { kind: 'preset', name }, spec: name }
    : undefined;

/** The one line for a design file that exports no design of any level. */
const noDesignLine = (spec: string) =>
  `design file ${visible(spec)} does not export a design: export one as \`design\` (or as the default export): a hosted-machine Design (name, description, axes and the functions of the Design API) or a system-call-level SyscallDesign (name, description, structure, abi, boot, call, kernels)`;

/**
 * Load a design of any level by name (a preset, a built-in system-call-level design) or file path,
 * its level recognised from what the file exports (`isDesign`, `isSyscallDesign`); throws
 * `UsageError` with one line on bad input. Only for what the user typed on the command line: a
 * design file is imported, that is run (the command does it in worker threads only, pool.ts).
 */
export const loadAnyDesign = async (spec: string): Promise<LoadedAnyDesign> => {
  const preset = presetDesign(spec) ?? syscallPresetDesign(spec);
  if (preset) return preset;
  const file = designFile(spec);
  let mod: Record<string, unknown>;
  try {
    mod = await importDesignFile(file.spec);
  } catch (e) {
    throw new UsageError(`design file ${visible(spec)} does not load: ${loadErrorLine(e, file.spec)}`);
  }
  const candidate = exportedDesign(mod);
  const ref = (name: string): DesignRef => ({
    kind: 'file',
    name: visible(name),
    path: file.path,
    sha256: file.sha256,
  });
  if (isDesign(candidate)) return { level: 'machine', design: candidate, ref: ref(candidate.name), spec: file.spec };
  if (isSyscallDesign(candidate))
    return { level: 'syscall', design: candidate, ref: ref(candidate.name), spec: file.spec };
  throw new UsageError(noDesignLine(spec));
};

/**
 * Load a hosted-machine design by preset name or file path; throws `UsageError` with one line on
 * bad input, a design of another level included (see `loadAnyDesign`).
 */
export const loadDesign = async (spec: string): Promise<LoadedDesign> => {
  const d = await loadAnyDesign(spec);
  if (d.level === 'syscall')
    throw new UsageError(
      `design ${visible(spec)} is a system-call-level design (${visible(d.design.name)}): it takes the system-call properties, not a hosted machine's`,
    );
  return d;
};

/** A display name: the design's own, with the file's path for a design file. */
export const designLabel = (ref: DesignRef): string => (ref.kind === 'preset' ? ref.name : `${ref.name} (${ref.path})`);

/** Does a counterexample's design reference denote this loaded design? (Preset by name, file by content.) */
export const sameDesign = (ref: DesignRef, loaded: Pick<LoadedDesign, 'ref'>): boolean =>
  ref.kind === 'preset'
    ? loaded.ref.kind === 'preset' && loaded.ref.name === ref.name
    : loaded.ref.kind === 'file' && loaded.ref.sha256 === ref.sha256;
