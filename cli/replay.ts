/**
 * `hyperprop replay FILE...`: run saved counterexamples again, deterministically, and print each
 * trace step by step with the divergence marked. Exit 0 when the property now holds on every
 * file, 1 when one still fails or could not be replayed (ERROR: the design misbehaved, or the replay
 * ran past its --time-limit), 2 on bad input (every bad file gets one line; nothing runs).
 *
 * A file never names code to run: a preset is looked up by name; a counterexample found on a
 * design file replays only on a design file given with --design (matched by sha256, then by
 * the design's name; a single --design file serves every file). Replays run in a worker thread
 * under the watchdog (pool.ts), each within its time budget.
 */
import type { Command } from 'commander';
import { Option } from 'commander';
import type { PropertyFailure } from '../properties/property.ts';
import type { TraceRecord } from '../properties/record/types.ts';
import { EXIT, intOption, REPLAY_BUDGET_SECONDS } from './check.ts';
import type { DesignRef } from './counterexample.ts';
import { designFile, presetDesign, syscallPresetDesign, UsageError } from './designs.ts';
import { visible } from './escape.ts';
import { DEFAULT_STEP_TIMEOUT_SECONDS } from './limits.ts';
import { WorkerPool } from './pool.ts';
import { errorText } from './report.ts';
import { type ItemError, itemError } from './work.ts';
import type { ProbeRequest, ProbeResult, ReplayOutcome, ReplayRequest, SyscallReplayRequest } from './worker.ts';

/** A design named with --design, as the main thread knows it (a design file is loaded in a worker only). */
interface ReplayDesign {
  readonly spec: string;
  readonly ref: DesignRef;
  readonly name: string;
  readonly loadError?: ItemError;
}

export interface ReplayResult {
  readonly file: string;
  readonly design: string;
  readonly property: string;
  /** fails: the property still fails; holds: it holds now; error: no verdict (see `error`). */
  readonly status: 'fails' | 'holds' | 'error';
  readonly error?: ItemError;
  readonly failure?: PropertyFailure;
  readonly recorded: PropertyFailure;
  /** The same first divergence as recorded (step, guest and message). */
  readonly sameDivergence: boolean;
  readonly notes: readonly string[];
  readonly rendering: string;
  /**
   * The replayed run step by step as plain data (properties/record/): what `rendering` and `--html`
   * are made from (absent for an ERROR: the replay did not finish).
   */
  readonly trace?: TraceRecord;
}

const sameFailure = (a: PropertyFailure | undefined, b: PropertyFailure) =>
  a !== undefined && a.step === b.step && a.guest === b.guest && a.message === b.message;

/** Which design replays `c` (throws UsageError when none can), and notes for the reader. */
const designFor = (
  file: string,
  c: { readonly design: DesignRef },
  files: readonly ReplayDesign[],
  level: 'machine' | 'syscall' = 'machine',
): { design: ReplayDesign; notes: string[] } => {
  const ref = c.design;
  if (ref.kind === 'preset') {
    // A name from a file is only looked up among the presets: never loaded (it may be a path).
    const d = level === 'machine' ? presetDesign(ref.name) : syscallPresetDesign(ref.name);
    if (!d)
      throw new UsageError(`${visible(file)}: at design.name: no preset named '${visible(ref.name)}' in this version`);
    return { design: { spec: d.spec, ref: d.ref, name: d.ref.name }, notes: [] };
  }
  const byHash = files.find((d) => d.ref.kind === 'file' && d.ref.sha256 === ref.sha256);
  if (byHash) return { design: byHash, notes: [] };
  // A design file given only as a baseline's (matched by its content) is not a candidate.
  const candidates = files.filter((d) => !(d.ref.kind === 'file' && d.ref.sha256 === baselineSha256(c)));
  const byName = candidates.filter((d) => d.name === visible(ref.name));
  const pick = byName.length === 1 ? byName[0] : candidates.length === 1 ? candidates[0] : undefined;
  if (!pick)
    throw new UsageError(
      `${visible(file)}: found on design file ${visible(ref.path)} (sha256 ${ref.sha256.slice(0, 12)}…); pass --design ${visible(ref.path)} to replay it (a counterexample never names code to run)`,
    );
  return {
    design: pick,
    notes: [
      `the design file differs from the one the counterexample was found on (${visible(ref.path)}, sha256 ${ref.sha256.slice(0, 12)}…)`,
    ],
  };
};

const baselineSha256 = (c: { readonly design: DesignRef; readonly baseline?: DesignRef }): string | undefined =>
  c.baseline?.kind === 'file' ? c.baseline.sha256 : undefined;

/**
 * The baseline a counterexample was found against (`check --baseline`), as replay applies it: a
 * preset by name, a design file only when given with --design (matched by content); otherwise the
 * replay runs without it and a note says so.
 */
const baselineFor = (
  c: { readonly baseline?: DesignRef },
  files: readonly ReplayDesign[],
  level: 'machine' | 'syscall',
): { spec?: string; notes: string[] } => {
  const b = c.baseline;
  if (!b) return { notes: [] };
  const rule = 'a failure counts only where it does not fail the same way at the same step, or earlier';
  if (b.kind === 'preset') {
    const d = level === 'machine' ? presetDesign(b.name) : syscallPresetDesign(b.name);
    if (d) return { spec: d.spec, notes: [`found against baseline ${b.name}, applied again: ${rule}`] };
    return { notes: [`found against baseline ${visible(b.name)}, not in this version: replayed without it`] };
  }
  const f = files.find((d) => d.ref.kind === 'file' && d.ref.sha256 === b.sha256);
  if (f) return { spec: f.spec, notes: [`found against baseline ${visible(b.path)}, applied again: ${rule}`] };
  return {
    notes: [
      `found against baseline file ${visible(b.path)} (sha256 ${b.sha256.slice(0, 12)}…): replayed without it; pass --design ${visible(b.path)} too to apply it`,
    ],
  };
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
      '--time-limit <seconds>',
      `how long each file's replay may take (default ${REPLAY_BUDGET_SECONDS})`,
      intOption('--time-limit', 1),
      REPLAY_BUDGET_SECONDS,
    )
    .option(
      '--html <path>',
      'also write each trace as a self-contained HTML page: this file (with several counterexamples, this folder)',
    )
    .option(
      '--step-timeout <seconds>',
      'how long one operation of a design may run before the replay is stopped as ERROR',
      intOption('--step-timeout', 1, 3600),
      DEFAULT_STEP_TIMEOUT_SECONDS,
    )
    .action(
      async (
        files: string[],
        o: { design?: string[]; reporter: 'text' | 'json'; html?: string; timeLimit: number; stepTimeout: number },
      ) => {
        const { decodeCounterexample, failureOf, loadJsonFile, MODEL_VERSION, problemLine, scenarioOf } = await import(
          './counterexample.ts'
        );
        const { decodeSyscallCounterexample, isSyscallCounterexampleJson } = await import(
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
        // Every bad file gets its line, in the order given: bad data, or a preset this version does not have.
        const position = new Map(files.map((f, i) => [f, i]));
        const bad = [
          ...[...decoded, ...syscallDecoded].flatMap((x) =>
            x.d.ok ? [] : [{ file: x.file, line: problemLine(visible(x.file), x.d.problem) }],
          ),
          ...decoded.flatMap((x) =>
            x.d.ok && x.d.value.design.kind === 'preset' && !presetDesign(x.d.value.design.name)
              ? [
                  {
                    file: x.file,
                    line: problemLine(x.file, {
                      where: 'design.name',
                      message: `no preset named '${x.d.value.design.name}' in this version`,
                    }),
                  },
                ]
              : [],
          ),
        ].sort((a, b) => position.get(a.file)! - position.get(b.file)!);
        if (bad.length > 0) {
          for (const x of bad) process.stderr.write(`hyperprop replay: ${x.line}\n`);
          process.exitCode = EXIT.USAGE;
          return;
        }
        // --design names are checked (nothing loaded): a design file loads in the worker below.
        const named = (o.design ?? []).map((spec) => presetDesign(spec) ?? { file: designFile(spec) });
        const pool = new WorkerPool(1);
        try {
          const stallMs = o.stepTimeout * 1000;
          const fileSpecs = named.flatMap((x) => ('file' in x ? [x.file] : []));
          const probes = await pool.run<ProbeRequest, ProbeResult | ItemError>(
            fileSpecs.map((f) => ({ kind: 'probe', spec: f.spec })),
            () => {},
            {
              budgetMs: () => stallMs,
              stallMs: () => stallMs,
              onFault: (_req, fault) => {
                if (fault.kind === 'usage') throw new UsageError(fault.message);
                return { ...itemError(fault), call: 'import' };
              },
            },
          );
          const designFiles: ReplayDesign[] = named.map((x) => {
            if (!('file' in x)) return { spec: x.spec, ref: x.ref, name: x.ref.name };
            const probe = probes[fileSpecs.indexOf(x.file)]!;
            if ('ref' in probe) return { spec: probe.spec, ref: probe.ref, name: probe.name };
            const name = x.file.path.split('/').pop() ?? x.file.path;
            return {
              spec: x.file.spec,
              ref: { kind: 'file', name, path: x.file.path, sha256: x.file.sha256 },
              name,
              loadError: probe,
            };
          });
          const unmatched: string[] = [];
          // Each decoded file with the design (and baseline) it names; a file naming none gets its line.
          const withDesigns = <C extends { readonly design: DesignRef; readonly baseline?: DesignRef }>(
            files: readonly {
              readonly file: string;
              readonly d: { readonly ok: true; readonly value: C } | { readonly ok: false };
            }[],
            level: 'machine' | 'syscall',
          ) => {
            const out = [];
            for (const x of files)
              if (x.d.ok)
                try {
                  const picked = designFor(x.file, x.d.value, designFiles, level);
                  const base = baselineFor(x.d.value, designFiles, level);
                  out.push({
                    file: x.file,
                    c: x.d.value,
                    design: picked.design,
                    notes: [...picked.notes, ...base.notes],
                    ...(base.spec === undefined ? {} : { baseline: base.spec }),
                  });
                } catch (e) {
                  if (!(e instanceof UsageError)) throw e;
                  unmatched.push(e.message);
                }
            return out;
          };
          const chosen = withDesigns(decoded, 'machine');
          const syscallFiles = withDesigns(syscallDecoded, 'syscall');
          // Every file without a design gets its line; nothing runs.
          if (unmatched.length > 0) {
            for (const line of unmatched) process.stderr.write(`hyperprop replay: ${line}\n`);
            process.exitCode = EXIT.USAGE;
            return;
          }
          type Req = ReplayRequest | SyscallReplayRequest;
          const machineReqs: Req[] = chosen
            .filter((x) => !x.design.loadError)
            .map((x) => ({
              kind: 'replay',
              spec: x.design.spec,
              property: x.c.property,
              scenario: scenarioOf(x.c),
              ...(x.baseline === undefined ? {} : { baseline: x.baseline }),
            }));
          const syscallReqs: Req[] = syscallFiles
            .filter((x) => !x.design.loadError)
            .map((x) => ({
              kind: 'syscall-replay',
              counterexample: x.c,
              spec: x.design.spec,
              ...(x.baseline === undefined ? {} : { baseline: x.baseline }),
            }));
          const outcomes = await pool.run<Req, ReplayOutcome | ItemError>([...machineReqs, ...syscallReqs], () => {}, {
            budgetMs: () => o.timeLimit * 1000,
            stallMs: () => stallMs,
            onFault: (_req, fault) => itemError(fault),
          });
          const isError = (x: ReplayOutcome | ItemError): x is ItemError => 'kind' in x;
          const note = (modelVersion: string) =>
            modelVersion === MODEL_VERSION
              ? []
              : [`saved by model version ${visible(modelVersion)}; this is ${MODEL_VERSION}`];
          const result = (
            file: string,
            design: string,
            property: string,
            recorded: PropertyFailure,
            notes: string[],
            outcome: ReplayOutcome | ItemError,
            shape: string,
          ): ReplayResult =>
            isError(outcome)
              ? {
                  file,
                  design,
                  property,
                  status: 'error',
                  error:
                    outcome.kind === 'time-limit'
                      ? { ...outcome, message: `${outcome.message} (--time-limit) on ${shape}` }
                      : outcome,
                  recorded,
                  sameDivergence: false,
                  notes,
                  rendering: '',
                }
              : {
                  file,
                  design,
                  property,
                  status: outcome.failure ? 'fails' : 'holds',
                  ...(outcome.failure ? { failure: outcome.failure } : {}),
                  recorded,
                  sameDivergence: sameFailure(outcome.failure, recorded),
                  notes,
                  rendering: outcome.rendering,
                  trace: outcome.trace,
                };
          let next = 0;
          const results: ReplayResult[] = chosen.map(({ file, c, design, notes }) =>
            result(
              file,
              design.name,
              c.property,
              failureOf(c),
              [...notes, ...note(c.modelVersion)],
              design.loadError ?? outcomes[next++]!,
              `a file of ${c.ops.length} operation(s) on ${c.initial.guests.length} guest(s) in a ${c.initial.geometry.dirEntries}×${c.initial.geometry.tableEntries}-page window`,
            ),
          );
          for (const x of syscallFiles)
            results.push(
              result(
                x.file,
                x.design.name,
                x.c.property,
                x.c.divergence,
                [...x.notes, ...note(x.c.modelVersion)],
                x.design.loadError ?? outcomes[next++]!,
                `a file of ${x.c.ops.length} call(s) on ${x.c.guests.length} guest(s)`,
              ),
            );
          if (o.html !== undefined) (await import('./html.ts')).writeReplayPages(o.html, results);
          if (o.reporter === 'json') process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
          else {
            const out: string[] = [];
            for (const r of results) {
              out.push(`== ${visible(r.file)}: ${r.property} on ${visible(r.design)}`);
              for (const n of r.notes) out.push(`note: ${n}`);
              if (r.status === 'error') {
                out.push(`ERROR: ${errorText(r.error!)} (recorded divergence at step ${r.recorded.step})`);
                out.push('');
                continue;
              }
              out.push(r.rendering);
              out.push(
                r.status === 'fails'
                  ? `still fails: ${r.property} at step ${r.failure!.step}${r.sameDivergence ? ' (the divergence recorded)' : ` (recorded: step ${r.recorded.step}: ${visible(r.recorded.message)})`}`
                  : `now holds: ${r.property} on ${visible(r.design)} (recorded divergence at step ${r.recorded.step}: ${visible(r.recorded.message)})`,
              );
              out.push('');
            }
            const failing = results.filter((r) => r.status === 'fails').length;
            const errors = results.filter((r) => r.status === 'error').length;
            out.push(
              `${failing} of ${results.length} counterexample(s) still fail${errors ? `; ${errors} not replayed (ERROR)` : ''}`,
            );
            process.stdout.write(`${out.join('\n')}\n`);
          }
          process.exitCode = results.some((r) => r.status !== 'holds') ? EXIT.FAILED : EXIT.OK;
        } finally {
          await pool.close();
        }
      },
    );
};
