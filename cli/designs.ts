/**
 * Designs named on the command line: a preset by name, or a user's design file (a `.ts` or `.js`
 * module exporting a `Design` as `design` or as its default export), loaded with a dynamic
 * import and validated with `isDesign`. Its path and sha256 go into counterexamples.
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { relative, resolve, sep } from 'node:path';
import { PRESETS } from '../model/designs/presets.ts';
import { type Design, isDesign } from '../model/host/design.ts';
import { SYSCALL_DESIGNS } from '../model/syscall/presets.ts';
import type { DesignRef } from './counterexample.ts';
import { exportedDesign, importDesignFile } from './design-import.ts';

/** The three configurations every suite runs (DESIGN.md §3), those of them that exist. */
export const DEFAULT_DESIGN_NAMES: readonly string[] = ['shadow', 'ept', 'passthrough'];

export const defaultDesigns = (): string[] => DEFAULT_DESIGN_NAMES.filter((n) => Object.hasOwn(PRESETS, n));

export interface LoadedDesign {
  readonly design: Design;
  readonly ref: DesignRef;
  /** What to pass to load it again (a preset's name, a file's absolute path). */
  readonly spec: string;
}

/** Bad input: one line for the user (never a stack trace). */
export class UsageError extends Error {}

const looksLikeFile = (s: string) => /[\\/]/.test(s) || /\.(m?ts|m?js|cts|cjs)$/.test(s);

const firstLine = (e: unknown): string => {
  const m = e instanceof Error ? e.message : String(e);
  const lines = m.split('\n').filter((l) => l.trim() !== '');
  // A compiler's "Transform failed with 1 error:" says where on the line after it.
  const line =
    (lines[0]?.trim().endsWith(':') && lines[1] ? `${lines[0].trim()} ${lines[1]}` : lines[0]) ?? 'unknown error';
  return line.length > 300 ? `${line.slice(0, 299)}…` : line.trim();
};

export const sha256File = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

const posix = (p: string) => p.split(sep).join('/');

/** Load a design by preset name or file path; throws `UsageError` with one line on bad input. */
export const loadDesign = async (spec: string): Promise<LoadedDesign> => {
  if (Object.hasOwn(PRESETS, spec)) {
    const design = PRESETS[spec]!;
    return { design, ref: { kind: 'preset', name: spec }, spec };
  }
  if (!looksLikeFile(spec))
    throw new UsageError(
      `unknown design '${spec}': presets are ${Object.keys(PRESETS).join(', ')}; system-call-level designs are ${Object.keys(SYSCALL_DESIGNS).join(', ')}; a design file is a path such as ./my-design.ts`,
    );
  const abs = resolve(spec);
  try {
    if (!statSync(abs).isFile()) throw new UsageError(`design file ${spec}: not a regular file`);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`design file ${spec}: no such file`);
  }
  const sha256 = sha256File(abs);
  let mod: Record<string, unknown>;
  try {
    mod = await importDesignFile(abs);
  } catch (e) {
    throw new UsageError(`design file ${spec} does not load: ${firstLine(e)}`);
  }
  const candidate = exportedDesign(mod);
  if (!isDesign(candidate))
    throw new UsageError(
      `design file ${spec} does not export a design: export one as \`design\` (or as the default export) with name, description, axes and the functions of the Design API`,
    );
  const rel = posix(relative(process.cwd(), abs));
  return {
    design: candidate,
    ref: { kind: 'file', name: candidate.name, path: rel.startsWith('..') ? posix(abs) : rel, sha256 },
    spec: abs,
  };
};

/** A display name: the design's own, with the file's path for a design file. */
export const designLabel = (ref: DesignRef): string => (ref.kind === 'preset' ? ref.name : `${ref.name} (${ref.path})`);

/** Does a counterexample's design reference denote this loaded design? (Preset by name, file by content.) */
export const sameDesign = (ref: DesignRef, loaded: LoadedDesign): boolean =>
  ref.kind === 'preset'
    ? loaded.ref.kind === 'preset' && loaded.ref.name === ref.name
    : loaded.ref.kind === 'file' && loaded.ref.sha256 === ref.sha256;
