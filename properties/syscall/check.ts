/**
 * The system-call level on the property runner (level.ts): `checkSyscall(design, options)`
 * generates scenarios of 2 to 4 guests' calls, checks a property on every step, and shrinks a
 * failure to a 1-minimal scenario with a readable trace, as `check` does for the hosted machine.
 */
import { arbSyscallScenario, type SyscallScenario, type SyscallScenarioOptions } from '../../generators/syscall.ts';
import type { Call, SyscallDesign } from '../../model/syscall/index.ts';
import { explainedByBaseline } from '../check.ts';
import {
  checkLevel,
  dropOperations,
  type Level,
  type LevelReport,
  minimizeSequence,
  type RunBudget,
  reshape,
  type ShrinkPass,
} from '../level.ts';
import type { PropertyFailure } from '../property.ts';
import { recordSyscallTrace } from '../record/syscall.ts';
import { checkText } from '../record/text.ts';
import { SYSCALL_PROPERTIES, SYSCALL_PROPERTY_NAMES, type SyscallPropertyName } from './properties.ts';
import { runSyscallScenario } from './trace.ts';

/**
 * How `checkSyscall` runs. The scenario options (generators/syscall.ts) decide what guests' programs
 * may do, and so which failures can be found:
 *
 * - `directHostCalls` (default true): a foreign-interface guest (an API-translation design's) also
 *   makes the host's own system calls directly, as a real program can (`int 0x80` past the
 *   translation library); false: its programs make translated calls only.
 * - `kernelModeInstructions` (default true): guests also run kernel-mode instructions (CLI, MOV to
 *   CR3, …), as a guest with a kernel of its own does; false: user-level calls only (what a
 *   container's processes are limited to).
 * - `minGuests`, `maxGuests`, `maxOps`: the scenario's size.
 *
 * `properties` (default all of SYSCALL_PROPERTY_NAMES), `runs`, `seed`, `timeLimit` are as `check`'s.
 */
export interface SyscallCheckOptions extends RunBudget, Omit<SyscallScenarioOptions, 'abi'> {
  readonly properties?: readonly SyscallPropertyName[];
  /**
   * A failure counts unless this design fails the same scenario the same way at the same step, or
   * earlier (properties/check.ts `explainedByBaseline`, as `check`'s `baseline`): for a design built
   * on a preset, that preset, so that what is found is the change's doing.
   */
  readonly baseline?: SyscallDesign;
}

/** One system-call property's result from `checkSyscall`: held, or failed with a shrunk counterexample. */
export type SyscallReport = LevelReport<SyscallScenario, SyscallPropertyName>;

/** Check one scenario against one property: the failure, if any. */
export const checkSyscallScenario = (
  design: SyscallDesign,
  property: SyscallPropertyName,
  scenario: SyscallScenario,
): PropertyFailure | undefined =>
  SYSCALL_PROPERTIES[property].check(design, scenario, runSyscallScenario(design, scenario));

/** Smaller versions of a call: each numeric argument at 0 or 1 (values as readable as possible). */
const simpler = (c: Call): Call[] => {
  if (c.kind === 'foreign' || c.kind === 'privileged') return [];
  const out: Call[] = [];
  for (const [k, v] of Object.entries(c)) {
    if (typeof v !== 'number') continue;
    for (const small of k === 'value' || k === 'pages' ? [1] : [0])
      if (v > small) out.push({ ...c, [k]: small } as Call);
  }
  return out;
};

const simplifyCalls: ShrinkPass<SyscallScenario> = (current, attempt) => {
  for (let i = 0; i < current().ops.length; i++) {
    for (const call of simpler(current().ops[i]!.call)) {
      const s = current();
      if (i >= s.ops.length) break;
      attempt({ ...s, ops: s.ops.map((o, j) => (j === i ? { ...o, call } : o)) });
    }
  }
};

/**
 * One large allocation may stand for several calls that together take memory: try each
 * allocation at every larger size up to a whole machine's free memory (largest first), so the
 * calls it stood in for can then be dropped.
 */
const growAllocations: ShrinkPass<SyscallScenario> = (current, attempt) => {
  for (let i = 0; i < current().ops.length; i++) {
    for (let pages = 16; pages > 1; pages--) {
      const s = current();
      const o = s.ops[i];
      if (o?.call.kind !== 'alloc' || o.call.pages >= pages) break;
      if (attempt({ ...s, ops: s.ops.map((x, j) => (j === i ? { ...x, call: { kind: 'alloc', pages } } : x)) })) break;
    }
  }
};

/** Each allocation at every other size: with one call dropped (level.ts `reshape`), a larger one may stand for the dropped call's pages. */
function* allocationVariants(s: SyscallScenario): Generator<SyscallScenario> {
  for (let i = 0; i < s.ops.length; i++) {
    const o = s.ops[i]!;
    if (o.call.kind !== 'alloc') continue;
    for (let pages = 16; pages > 0; pages--)
      if (pages !== o.call.pages)
        yield { ...s, ops: s.ops.map((x, j) => (j === i ? { ...x, call: { kind: 'alloc', pages } } : x)) };
  }
}

/** Guests that make no call still shape the shared kernel (their groups take frames): drop them early. */
const dropIdleGuests =
  (minGuests: number): ShrinkPass<SyscallScenario> =>
  (current, attempt) => {
    for (let g = current().guests.length - 1; g >= 0; g--) {
      const s = current();
      if (s.guests.length <= minGuests || g >= s.guests.length || s.ops.some((o) => o.guest === g)) continue;
      attempt({
        ...s,
        guests: s.guests.filter((_, j) => j !== g),
        ops: s.ops.map((o) => (o.guest > g ? { ...o, guest: o.guest - 1 } : o)),
      });
    }
  };

/** The plainest quotas: every guest's quota at the generator's largest (so a quota shows only when it matters). */
const plainQuotas: ShrinkPass<SyscallScenario> = (current, attempt) => {
  current().guests.forEach((_, g) => {
    const s = current();
    if (s.guests[g]!.quota !== 3) attempt({ ...s, guests: s.guests.map((x, j) => (j === g ? { ...x, quota: 3 } : x)) });
  });
};

/** Render a failing scenario: each step's call and result beside the reference's, the failure marked (from its trace record). */
export const renderSyscallTrace = (design: SyscallDesign, s: SyscallScenario, failure: PropertyFailure): string =>
  checkText(recordSyscallTrace(design, s, failure));

/** The failure of `design` on `scenario`, unless `baseline` (when given) fails it the same way at the same step or earlier. */
export const distinguishingSyscallFailure = (
  design: SyscallDesign,
  property: SyscallPropertyName,
  scenario: SyscallScenario,
  baseline: SyscallDesign | undefined,
): PropertyFailure | undefined => {
  const f = checkSyscallScenario(design, property, scenario);
  return f && baseline && explainedByBaseline(f, checkSyscallScenario(baseline, property, scenario)) ? undefined : f;
};

/** The system-call level as a level of the model, for the runner. With a `baseline`, only failures it does not explain count. */
export const syscallLevel = (
  design: SyscallDesign,
  options: Omit<SyscallScenarioOptions, 'abi'> & Pick<SyscallCheckOptions, 'baseline'> = {},
): Level<SyscallScenario, SyscallPropertyName> => ({
  scenarios: () => arbSyscallScenario({ ...options, abi: design.abi }),
  check: (name, s) => distinguishingSyscallFailure(design, name, s, options.baseline),
  minimize: (name, s0) => {
    const minGuests = name === 'isolation' || name === 'fault-containment' ? 2 : 1;
    return minimizeSequence(
      s0,
      (s) => distinguishingSyscallFailure(design, name, s, options.baseline),
      [dropIdleGuests(minGuests), growAllocations, dropOperations<SyscallScenario>(), simplifyCalls, plainQuotas],
      minGuests,
      [reshape(allocationVariants)],
    );
  },
  render: (_name, s, failure) => renderSyscallTrace(design, s, failure),
  record: (name, s, failure) => recordSyscallTrace(design, s, failure, name),
  length: (s) => s.ops.length,
});

/** Check a system-call-level design against its properties. Deterministic for a seed. */
export const checkSyscall = (design: SyscallDesign, options: SyscallCheckOptions = {}): SyscallReport[] =>
  checkLevel(syscallLevel(design, options), options.properties ?? SYSCALL_PROPERTY_NAMES, options);
