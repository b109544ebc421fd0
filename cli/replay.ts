/**
 * `hyperprop replay FILE...`: run saved counterexamples again, deterministically, and print each
 * trace step by step with the divergence marked. Exit 0 when the property now holds on every
 * file, 1 when one still fails, 2 on bad input (every bad file gets one line; nothing runs).
 *
 * A file never names code to run: a preset is looked up by name; a counterexample found on a
 * design file replays only on a design file given with --design (matched by sha256, then by
 * the design's name; a single --design file serves every file).
 */
import type { Command } from 'commander';
import { Option } from 'commander';
import { checkScenario } from '../properties/check.ts';
import type { PropertyFailure } from '../properties/property.ts';
import type { TraceRecord } from '../properties/record/types.ts';
import { EXIT } from './check.ts';
import type { CounterexampleFile } from './counterexample.ts';
import { type LoadedDesign, loadDesign, UsageError } from './designs.ts';
import { replayTrace } from './replay-render.ts';

export interface ReplayResult {
  readonly file: string;
  readonly design: string;
  readonly property: string;
  /** fails: the property still fails; holds: it holds now. */
  readonly status: 'fails' | 'holds';
  readonly failure?: PropertyFailure;
  readonly recorded: PropertyFailure;
  /** The same first divergence as recorded (step, guest and message). */
  readonly sameDivergence: boolean;
  readonly notes: readonly string[];
  readonly rendering: string;
  /** The replayed run step by step as plain data (properties/record/): what `rendering` and `--html` are made from. */
  readonly trace: TraceRecord;
}

const sameFailure = (a: PropertyFailure | undefined, b: PropertyFailure) =>
  a !== undefined && a.step === b.step && a.guest === b.guest && a.message === b.message;

/** Which design replays `c` (throws UsageError when none can), and notes for the reader. */
const designFor = (
  file: string,
  c: CounterexampleFile,
  presets: (name: string) => Promise<LoadedDesign | undefined>,
  files: readonly LoadedDesign[],
): Promise<{ design: LoadedDesign; notes: string[] }> => {
  const ref = c.design;
  if (ref.kind === 'preset')
    return presets(ref.name).then((d) => {
      if (!d) throw new UsageError(`${file}: at design.name: no preset named '${ref.name}' in this version`);
      return { design: d, notes: [] };
    });
  const byHash = files.find((d) => d.ref.kind === 'file' && d.ref.sha256 === ref.sha256);
  if (byHash) return Promise.resolve({ design: byHash, notes: [] });
  const byName = files.filter((d) => d.design.name === ref.name);
  const pick = byName.length === 1 ? byName[0] : files.length === 1 ? files[0] : undefined;
  if (!pick)
    throw new UsageError(
      `${file}: found on design file ${ref.path} (sha256 ${ref.sha256.slice(0, 12)}…); pass --design ${ref.path} to replay it (a counterexample never names code to run)`,
    );
  return Promise.resolve({
    design: pick,
    notes: [
      `the design file differs from the one the counterexample was found on (${ref.path}, sha256 ${ref.sha256.slice(0, 12)}…)`,
    ],
  });
};

export const registerReplay = (program: Command): void => {
  program
    .command('replay')
    .description(
      'replay saved counterexamples: the trace step by step, the divergence marked; exit 0 if the property now holds, 1 if it still fails',
    )
    .argument('<file...>', 'counterexample files')
    .option(
      '--design <file>',
      'the design file a counterexample was found on (repeatable)',
      (v: string, p: string[] | undefined) => [...(p ?? []), v],
    )
    .addOption(new Option('--reporter <r>', 'output format').choices(['text', 'json']).default('text'))
    .option(
      '--html <path>',
      'also write each trace as a self-contained HTML page: this file (with several counterexamples, this folder)',
    )
    .action(async (files: string[], o: { design?: string[]; reporter: 'text' | 'json'; html?: string }) => {
      const { decodeCounterexample, failureOf, loadJsonFile, MODEL_VERSION, problemLine, scenarioOf } = await import(
        './counterexample.ts'
      );
      const { decodeSyscallCounterexample, isSyscallCounterexampleJson, replaySyscall } = await import(
        './syscall-counterexample.ts'
      );
      // Each file is read once; a system-call-level file (by its format) replays on its level.
      const parsed = files.map((file) => ({ file, p: loadJsonFile(file) }));
      const isSyscall = (x: (typeof parsed)[number]) => x.p.ok && isSyscallCounterexampleJson(x.p.json);
      const decoded = parsed
        .filter((x) => !isSyscall(x))
        .map(({ file, p }) => ({ file, d: p.ok ? decodeCounterexample(p.json) : p }));
      const syscallDecoded = parsed
        .filter(isSyscall)
        .map(({ file, p }) => ({ file, d: decodeSyscallCounterexample(p.ok ? p.json : undefined) }));
      const position = new Map(files.map((f, i) => [f, i]));
      const bad = [...decoded, ...syscallDecoded]
        .filter((x) => !x.d.ok)
        .sort((a, b) => position.get(a.file)! - position.get(b.file)!);
      if (bad.length > 0) {
        for (const x of bad)
          if (!x.d.ok) process.stderr.write(`hyperprop replay: ${problemLine(x.file, x.d.problem)}\n`);
        process.exitCode = EXIT.USAGE;
        return;
      }
      const designFiles: LoadedDesign[] = [];
      for (const spec of o.design ?? []) designFiles.push(await loadDesign(spec));
      const presets = async (name: string) => {
        try {
          const d = await loadDesign(name);
          return d.ref.kind === 'preset' ? d : undefined;
        } catch {
          return undefined;
        }
      };
      const chosen = [];
      for (const x of decoded)
        if (x.d.ok)
          chosen.push({ file: x.file, c: x.d.value, ...(await designFor(x.file, x.d.value, presets, designFiles)) });
      const results: ReplayResult[] = chosen.map(({ file, c, design, notes }) => {
        const scenario = scenarioOf(c);
        let failure: PropertyFailure | undefined;
        let rendering: string;
        let trace: TraceRecord;
        try {
          failure = checkScenario(design.design, c.property, scenario);
          ({ rendering, trace } = replayTrace(design.design, scenario, failure, c.property));
        } catch (e) {
          throw new UsageError(
            `${file}: cannot replay on ${design.design.name}: ${e instanceof Error ? e.message : String(e)}`,
          );
        }
        const recorded = failureOf(c);
        const allNotes = [...notes];
        if (c.modelVersion !== MODEL_VERSION)
          allNotes.push(`saved by model version ${c.modelVersion}; this is ${MODEL_VERSION}`);
        return {
          file,
          design: design.design.name,
          property: c.property,
          status: failure ? 'fails' : 'holds',
          ...(failure ? { failure } : {}),
          recorded,
          sameDivergence: sameFailure(failure, recorded),
          notes: allNotes,
          rendering,
          trace,
        };
      });
      for (const x of syscallDecoded) {
        if (!x.d.ok) continue;
        const c = x.d.value;
        const { failure, rendering, trace } = replaySyscall(c);
        results.push({
          file: x.file,
          design: c.design.name,
          property: c.property,
          status: failure ? 'fails' : 'holds',
          ...(failure ? { failure } : {}),
          recorded: c.divergence,
          sameDivergence: sameFailure(failure, c.divergence),
          notes:
            c.modelVersion === MODEL_VERSION
              ? []
              : [`saved by model version ${c.modelVersion}; this is ${MODEL_VERSION}`],
          rendering,
          trace,
        });
      }
      if (o.html !== undefined) (await import('./html.ts')).writeReplayPages(o.html, results);
      if (o.reporter === 'json') process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
      else {
        const out: string[] = [];
        for (const r of results) {
          out.push(`== ${r.file}: ${r.property} on ${r.design}`);
          for (const n of r.notes) out.push(`note: ${n}`);
          out.push(r.rendering);
          out.push(
            r.status === 'fails'
              ? `still fails: ${r.property} at step ${r.failure!.step}${r.sameDivergence ? ' (the divergence recorded)' : ` (recorded: step ${r.recorded.step}: ${r.recorded.message})`}`
              : `now holds: ${r.property} on ${r.design} (recorded divergence at step ${r.recorded.step}: ${r.recorded.message})`,
          );
          out.push('');
        }
        const failing = results.filter((r) => r.status === 'fails').length;
        out.push(`${failing} of ${results.length} counterexample(s) still fail`);
        process.stdout.write(`${out.join('\n')}\n`);
      }
      process.exitCode = results.some((r) => r.status === 'fails') ? EXIT.FAILED : EXIT.OK;
    });
};
