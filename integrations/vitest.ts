/**
 * `hyperprop/vitest`: a design's property suite in the user's own vitest, in a few lines.
 *
 * ```ts
 * import { checkDesign } from 'hyperprop/vitest';
 * import { design } from './my-design.ts';
 *
 * checkDesign(design, { file: './my-design.ts', properties: ['equivalence', 'isolation'], runs: 200 });
 * ```
 *
 * One vitest test per property, each run exactly as `hyperprop check` runs one (design, property)
 * item (cli/work.ts's `runItem`): a failure's message is the shrunk counterexample's trace with its
 * first divergence marked, the counterexample is saved in `counterexamples/` (where `hyperprop
 * check` replays its corpus first and `hyperprop replay` reads it), and the seed is printed.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, it } from 'vitest';
import type { DesignRef } from '../cli/counterexample.ts';
import type { LoadedDesign } from '../cli/designs.ts';
import { type ItemResult, runItem } from '../cli/work.ts';
import { PRESETS } from '../model/designs/presets.ts';
import type { Design } from '../model/host/design.ts';
import { PROPERTY_NAMES, type PropertyName } from '../properties/property.ts';

/** Options of `checkDesign`: which properties, how many scenarios, and the budget of each vitest test. */
export interface CheckDesignOptions {
  /** The properties, one vitest test each (default: every machine-level property). */
  readonly properties?: readonly PropertyName[];
  /** Scenarios per property (default 100). */
  readonly runs?: number;
  /**
   * The seed (default: vitest's `--sequence.seed` when it has one, else from the clock). Printed
   * with every run and in every failure, so a failure is reproduced by passing it here.
   */
  readonly seed?: number;
  /** Milliseconds per property after which generation stops (fast-check's interruptAfterTimeLimit). */
  readonly timeLimit?: number;
  /** Where counterexamples are saved (default `counterexamples`, relative to the working directory; `false`: not saved). */
  readonly out?: string | false;
  /**
   * The module that exports the design (a path relative to the working directory, or a `file:` URL
   * such as `import.meta.url`): a saved counterexample names it by path and sha256, so that
   * `hyperprop replay FILE --design PATH` and `hyperprop check --design PATH` find it. Not needed for
   * a preset, which is named by its name.
   */
  readonly file?: string | URL;
  /** Network scenarios (2 to 4 guests with network cards and the outside world). */
  readonly network?: boolean;
  /** vitest's timeout for each property's test, in milliseconds (default 120,000). */
  readonly timeout?: number;
}

const posix = (p: string) => p.split(sep).join('/');

/** The seed vitest runs with, when it has one (`--sequence.seed`, or a shuffled run's). */
const vitestSeed = (): number | undefined => {
  // vitest keeps its resolved config in the worker's state; it has no public getter for it.
  const state = (globalThis as { __vitest_worker__?: { config?: { sequence?: { seed?: unknown } } } })
    .__vitest_worker__;
  const seed = state?.config?.sequence?.seed;
  return typeof seed === 'number' && Number.isSafeInteger(seed) ? Math.abs(seed) % 2 ** 31 : undefined;
};

/** How a counterexample names the design: a preset by name, else the module given as `file`. */
export const designRef = (design: Design, file: string | URL | undefined): DesignRef | undefined => {
  if (Object.hasOwn(PRESETS, design.name) && PRESETS[design.name] === design)
    return { kind: 'preset', name: design.name };
  if (file === undefined) return undefined;
  const abs = file instanceof URL || file.startsWith('file:') ? fileURLToPath(file) : resolve(file);
  const rel = posix(relative(process.cwd(), abs));
  return {
    kind: 'file',
    name: design.name,
    path: rel.startsWith('..') ? posix(abs) : rel,
    sha256: createHash('sha256').update(readFileSync(abs)).digest('hex'),
  };
};

/** The design's ref for saved counterexamples; throws when a design of the user's own has no `file` and something is to be saved. */
const savedRef = (design: Design, options: CheckDesignOptions): DesignRef | undefined => {
  const ref = designRef(design, options.file);
  if (ref === undefined && options.out !== false)
    throw new Error(
      `checkDesign: '${design.name}' is not a preset: pass file (the module that exports it, e.g. file: './my-design.ts') so that a saved counterexample names it, or out: false`,
    );
  return ref;
};

/** The failure message: what failed, how to reproduce it, then the shrunk trace with the first divergence. */
export const failureMessage = (r: ItemResult, ref: DesignRef | undefined): string => {
  const c = r.counterexample;
  if (!c) return '';
  const replay = c.file
    ? `replay: npx hyperprop replay ${c.file}${ref?.kind === 'file' ? ` --design ${ref.path}` : ''}`
    : 'not saved (out: false)';
  return [
    `${r.property} FAILED on ${r.design}: found after ${c.runsToFailure} run(s), shrunk to ${c.operations} operation(s) on ${c.guests} guest(s)`,
    `seed ${r.seed}, path ${c.path}; ${replay}`,
    c.rendering,
  ].join('\n');
};

/** One property of one design, run as `hyperprop check` runs it: the result, and the failure message if it failed. */
export const runProperty = async (
  design: Design,
  property: PropertyName,
  options: CheckDesignOptions & { readonly seed: number },
): Promise<{ readonly result: ItemResult; readonly message?: string }> => {
  const ref = savedRef(design, options);
  const loaded: LoadedDesign = {
    design,
    // Nothing is saved without a ref (out: false), so the placeholder is never written.
    ref: ref ?? { kind: 'preset', name: design.name },
    spec: design.name,
  };
  const result = await runItem(
    loaded,
    { index: 0, design: 0, property },
    {
      runs: options.runs ?? 100,
      seed: options.seed,
      ...(options.timeLimit === undefined ? {} : { timeLimitMs: options.timeLimit }),
      ...(options.out === false ? {} : { out: options.out ?? 'counterexamples' }),
      ...(options.network ? { network: true } : {}),
    },
  );
  return result.status === 'failed' ? { result, message: failureMessage(result, ref) } : { result };
};

/** A property failure as a test failure: the message is the report; no stack (it would point here, not at the design). */
class PropertyFailed extends Error {
  override name = 'PropertyFailed';
  constructor(message: string) {
    super(message);
    this.stack = `${this.name}: ${message}`;
  }
}

/**
 * Register a vitest suite for `design`: one test per property, named after it, that fails with the
 * shrunk counterexample's trace. Call it at the top level of a test file (or inside a `describe`).
 */
export const checkDesign = (design: Design, options: CheckDesignOptions = {}): void => {
  const properties = options.properties ?? PROPERTY_NAMES;
  for (const p of properties)
    if (!PROPERTY_NAMES.includes(p))
      throw new Error(`checkDesign: unknown property '${p}': properties are ${PROPERTY_NAMES.join(', ')}`);
  savedRef(design, options);
  const seed = options.seed ?? vitestSeed() ?? Date.now() % 2 ** 31;
  describe(`hyperprop ${design.name}`, () => {
    beforeAll(() => {
      console.log(
        `hyperprop ${design.name}: seed ${seed}, ${options.runs ?? 100} scenario(s) per property (the same run again: seed: ${seed} in checkDesign's options, or vitest --sequence.seed=${seed})`,
      );
    });
    for (const property of properties)
      it(
        property,
        async () => {
          const { message } = await runProperty(design, property, { ...options, seed });
          if (message !== undefined) throw new PropertyFailed(message);
        },
        options.timeout ?? 120_000,
      );
  });
};
