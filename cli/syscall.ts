/**
 * The system-call-level designs on the command line: `hyperprop check --design container` (a
 * built-in by name) or `--design ./my-design.ts` (a file exporting a `SyscallDesign`) runs them
 * through the same runner (properties/level.ts), and their rows join the same report.
 */
import { SYSCALL_DESIGNS } from '../model/syscall/presets.ts';
import { checkSyscall } from '../properties/syscall/check.ts';
import { SYSCALL_PROPERTY_NAMES, type SyscallPropertyName } from '../properties/syscall/properties.ts';
import type { LoadedSyscallDesign } from './designs.ts';
import { type ItemResult, itemCounterexample, type RunOptions } from './work.ts';

/** Is `spec` the name of a built-in system-call-level design? */
export const isSyscallPreset = (spec: string): boolean => Object.hasOwn(SYSCALL_DESIGNS, spec);

/** Is `name` a property of the system-call level? */
export const isSyscallProperty = (name: string): name is SyscallPropertyName =>
  (SYSCALL_PROPERTY_NAMES as readonly string[]).includes(name);

/** One (design, property) item at the system-call level, as a row of the report; `baseline` as `check --baseline` names it. */
export const runSyscallItem = async (
  loaded: LoadedSyscallDesign,
  property: SyscallPropertyName,
  index: number,
  o: RunOptions,
  baseline?: LoadedSyscallDesign,
): Promise<ItemResult> => {
  const t0 = performance.now();
  const [r] = checkSyscall(loaded.design, {
    properties: [property],
    runs: o.runs,
    seed: o.seed,
    ...(o.timeLimitMs === undefined ? {} : { timeLimit: o.timeLimitMs }),
    ...(baseline ? { baseline: baseline.design } : {}),
  });
  const c = r!.counterexample;
  // The counterexample module (and with it effect) loads only when something is saved.
  const file =
    c && o.out !== undefined
      ? (await import('./syscall-counterexample.ts')).saveSyscallCounterexample(
          o.out,
          loaded.ref,
          property,
          c,
          baseline?.ref,
        )
      : undefined;
  return {
    index,
    design: loaded.ref.name,
    designRef: loaded.ref,
    property,
    status: r!.status,
    runs: r!.runs,
    seed: o.seed,
    durationMs: performance.now() - t0,
    ...(c ? { counterexample: itemCounterexample(c, file) } : {}),
  };
};
