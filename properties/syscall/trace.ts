/**
 * A run of a system-call scenario on a design, step by step, with each guest's reference run
 * beside it (its program alone on its own kernel on its own machine): what every property at
 * this level reads.
 */
import type { SyscallOp, SyscallScenario } from '../../generators/syscall.ts';
import type { Machine } from '../../model/state.ts';
import {
  type Call,
  isCommonCall,
  type KernelAudit,
  type KernelRun,
  referenceBoot,
  referenceCall,
  type SyscallDesign,
  type SysResult,
} from '../../model/syscall/index.ts';

export interface SyscallStep {
  readonly index: number;
  readonly guest: number;
  readonly call: Call;
  /** What the guest saw under the design. */
  readonly result: SysResult;
  /** What its own kernel alone showed it. */
  readonly reference: SysResult;
  /** The design's kernels after the step (computed when a property asks: reading a VM's needs its guest view). */
  readonly kernels: () => readonly KernelAudit[];
}

export interface SyscallTrace {
  readonly initial: () => readonly KernelAudit[];
  readonly steps: readonly SyscallStep[];
}

/** Run a scenario on a design (operations may be replaced, for isolation's second run). */
export const runSyscallScenario = (
  design: SyscallDesign,
  s: SyscallScenario,
  ops: readonly SyscallOp[] = s.ops,
): SyscallTrace => {
  let world = design.boot(s.guests);
  const w0 = world;
  const initial = () => design.kernels(w0);
  const refs: KernelRun<Machine>[] = s.guests.map((x, g) => referenceBoot(g, x));
  const steps: SyscallStep[] = ops.map(({ guest, call }, index) => {
    const r = design.call(world, guest, call);
    world = r.world;
    const ref = referenceCall(s.guests[guest]!, refs[guest]!, call);
    refs[guest] = ref;
    const after = world;
    return { index, guest, call, result: r.result, reference: ref.result, kernels: () => design.kernels(after) };
  });
  return { initial, steps };
};

/** Is the call part of the interface the guest's programs are written for (so its reference defines it)? */
export const inInterface = (s: SyscallScenario, guest: number, call: Call): boolean =>
  s.guests[guest]!.abi === 'host' ? call.kind !== 'foreign' : call.kind === 'foreign' || isCommonCall(call);

/**
 * Steps equivalence, isolation and resource control judge: those before another guest's kernel
 * bug (a `crash`). A kernel bug is outside every kernel's defined semantics; what it does to the
 * other guests is the question fault containment answers.
 */
export const beforeOthersCrash = (s: SyscallScenario, index: number): boolean =>
  !s.ops.slice(0, index).some((o) => o.call.kind === 'crash' && o.guest !== s.ops[index]!.guest);
