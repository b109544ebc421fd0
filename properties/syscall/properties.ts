/**
 * The properties at the system-call level (DESIGN.md §4, §3): equivalence, isolation, resource
 * control and fault containment, pure predicates over a run and its reference runs.
 */
import type { SyscallScenario } from '../../generators/syscall.ts';
import { readWord } from '../../model/memory.ts';
import { walk, X86_32, x86Permits } from '../../model/paging.ts';
import {
  charged,
  directoryOf,
  formatCall,
  formatResult,
  type Kernel,
  type KernelAudit,
  type SyscallDesign,
  sameResult,
  USER_PAGES,
  userVa,
} from '../../model/syscall/index.ts';
import type { PropertyFailure } from '../property.ts';
import { beforeOthersCrash, inInterface, runSyscallScenario, type SyscallTrace } from './trace.ts';

/** The properties checked at the system-call level. */
export type SyscallPropertyName = 'equivalence' | 'isolation' | 'resource-control' | 'fault-containment';
/** Every system-call property, in the order `checkSyscall` runs them. */
export const SYSCALL_PROPERTY_NAMES: readonly SyscallPropertyName[] = [
  'equivalence',
  'isolation',
  'resource-control',
  'fault-containment',
];

/** A system-call-level property: its name, what it means, and the check of one scenario. */
export interface SyscallProperty {
  readonly name: SyscallPropertyName;
  readonly description: string;
  /** The failure this scenario's run shows, or undefined when the property holds on it. */
  readonly check: (
    design: SyscallDesign,
    scenario: SyscallScenario,
    trace: SyscallTrace,
  ) => PropertyFailure | undefined;
}

/** The ring the guest's own code runs at in the design (read from its kernel's group). */
const ringOf = (kernels: readonly KernelAudit[], guest: number): number | undefined =>
  kernels.flatMap((a) => a.kernel.groups).find((x) => x.spec.guest === guest)?.spec.ring;

/** Equivalence: each process sees what its own kernel, alone on its own machine, would show it. */
export const syscallEquivalence: SyscallProperty = {
  name: 'equivalence',
  description:
    "each process sees what its own kernel, alone on its own machine, would show it (on its interface's calls)",
  check: (_design, scenario, trace) => {
    for (const s of trace.steps) {
      if (!beforeOthersCrash(scenario, s.index) || !inInterface(scenario, s.guest, s.call)) continue;
      if (sameResult(s.result, s.reference)) continue;
      const ring = ringOf(s.kernels(), s.guest);
      const why =
        s.call.kind === 'privileged'
          ? ` [kernel-mode instruction: this design runs the guest's own code at ring ${ring}${ring === 3 ? ', so the guest has no kernel of its own' : ''}]`
          : '';
      return {
        step: s.index,
        guest: s.guest,
        message: `after ${formatCall(s.call)}, guest ${s.guest} sees ${formatResult(s.result)}; its own kernel shows ${formatResult(s.reference)}${why}`,
        expected: formatResult(s.reference),
        actual: formatResult(s.result),
      };
    }
    return undefined;
  },
};

/** Isolation: nothing one guest does changes what another observes (non-interference). */
export const syscallIsolation: SyscallProperty = {
  name: 'isolation',
  description: 'nothing one guest does changes what another observes: memory, files, pids, sockets (non-interference)',
  check: (design, scenario, trace) => {
    if (scenario.guests.length < 2) return undefined;
    for (let g = 0; g < scenario.guests.length; g++) {
      if (!scenario.ops.some((o) => o.guest === g)) continue;
      const alone = runSyscallScenario(
        design,
        scenario,
        scenario.ops.map((o) => (o.guest === g ? o : { guest: o.guest, call: { kind: 'yield' } })),
      );
      for (const s of trace.steps) {
        if (s.guest !== g || !beforeOthersCrash(scenario, s.index)) continue;
        const a = alone.steps[s.index]!.result;
        if (sameResult(a, s.result)) continue;
        const culprits = scenario.ops
          .slice(0, s.index)
          .filter((o) => o.guest !== g)
          .map((o) => `guest ${o.guest}: ${formatCall(o.call)}`);
        return {
          step: s.index,
          guest: g,
          message: `after ${formatCall(s.call)}, guest ${g} sees ${formatResult(s.result)}, but ${formatResult(a)} when the others only yield (${culprits.join('; ')})`,
          expected: formatResult(a),
          actual: formatResult(s.result),
        };
      }
    }
    return undefined;
  },
};

/** The guest owning a directory of a kernel: the one group whose root or home it is, else the host. */
export const directoryOwner = (k: Kernel, dir: string): number | 'host' => {
  const owners = new Set(k.groups.filter((x) => x.spec.root === dir || x.spec.home === dir).map((x) => x.spec.guest));
  return owners.size === 1 ? [...owners][0]! : 'host';
};

/** Frames each group's user pages map, read from its page tables in memory with the one walker. */
const mappedFrames = (a: KernelAudit): { readonly guest: number; readonly page: number; readonly frame: number }[] =>
  a.kernel.groups.flatMap((x) =>
    Array.from({ length: USER_PAGES }, (_, page) => {
      const w = walk(
        X86_32,
        x.space.directory * 4096,
        userVa(page, 0),
        (pa) => readWord(a.memory, pa),
        (r) => x86Permits(r, { write: false, user: true }, true),
      );
      return w.ok ? [{ guest: x.spec.guest, page, frame: w.frame >>> 12 }] : [];
    }).flat(),
  );

/** Resource control: no guest exceeds its memory quota, maps another's frames, or changes another's (or the host's) files. */
export const syscallResourceControl: SyscallProperty = {
  name: 'resource-control',
  description:
    "no guest holds more memory than its quota; no guest maps another's frames or changes another's (or the host's) files",
  check: (_design, scenario, trace) => {
    let before = trace.initial();
    for (const s of trace.steps) {
      if (scenario.ops.slice(0, s.index).some((o) => o.call.kind === 'crash')) return undefined;
      const fail = (message: string, expected: string, actual: string): PropertyFailure => ({
        step: s.index,
        guest: s.guest,
        message: `after guest ${s.guest}: ${formatCall(s.call)}, ${message}`,
        expected,
        actual,
      });
      const kernels = s.kernels();
      for (const [ai, a] of kernels.entries()) {
        for (const x of a.kernel.groups) {
          const quota = scenario.guests[x.spec.guest]!.quota;
          if (charged(x) > quota)
            return fail(
              `guest ${x.spec.guest} holds ${charged(x)} pages, over its quota of ${quota}`,
              `<= ${quota} pages`,
              `${charged(x)} pages`,
            );
        }
        const frames = mappedFrames(a);
        const tables = new Map(
          a.kernel.groups.flatMap(
            (x) =>
              [
                [x.space.directory, x.spec.guest],
                [x.space.table, x.spec.guest],
              ] as const,
          ),
        );
        for (const m of frames) {
          const other = frames.find((n) => n.frame === m.frame && n.guest !== m.guest);
          if (other)
            return fail(
              `guests ${m.guest} and ${other.guest} both map frame ${m.frame}`,
              'frames mapped by one guest only',
              `frame ${m.frame} shared`,
            );
          if (tables.has(m.frame))
            return fail(
              `guest ${m.guest} maps frame ${m.frame}, a page-table frame`,
              'no user mapping of page tables',
              `frame ${m.frame} mapped at page ${m.page}`,
            );
        }
        const old = before[ai]?.kernel.files ?? {};
        for (const [path, v] of Object.entries(a.kernel.files)) {
          if (old[path] === v) continue;
          const owner = directoryOwner(a.kernel, directoryOf(path));
          if (owner !== s.guest)
            return fail(
              `${path} changed, a file of ${owner === 'host' ? 'the host' : `guest ${owner}`}`,
              `only guest ${s.guest}'s files change`,
              `${path} = 0x${(v >>> 0).toString(16)}`,
            );
        }
      }
      before = kernels;
    }
    return undefined;
  },
};

/** Fault containment: after one guest's kernel crashes, every other guest still runs. */
export const faultContainment: SyscallProperty = {
  name: 'fault-containment',
  description: "after one guest's kernel crashes, every other guest still runs",
  check: (_design, scenario, trace) => {
    for (const s of trace.steps) {
      if (s.result.kind !== 'down' || s.reference.kind === 'down') continue;
      const crash = scenario.ops
        .slice(0, s.index)
        .map((o, i) => ({ ...o, i }))
        .filter((o) => o.call.kind === 'crash' && o.guest !== s.guest)
        .at(-1);
      return {
        step: s.index,
        guest: s.guest,
        message: `guest ${s.guest}'s ${formatCall(s.call)} finds its kernel down${crash ? `: guest ${crash.guest}'s crash at step ${crash.i} took it` : ''}; its own kernel still runs (${formatResult(s.reference)})`,
        expected: formatResult(s.reference),
        actual: 'down',
      };
    }
    return undefined;
  },
};

/** The system-call properties by name. */
export const SYSCALL_PROPERTIES: Readonly<Record<SyscallPropertyName, SyscallProperty>> = Object.freeze({
  equivalence: syscallEquivalence,
  isolation: syscallIsolation,
  'resource-control': syscallResourceControl,
  'fault-containment': faultContainment,
});
