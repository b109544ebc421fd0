/**
 * How a kernel's decisions reach its machine. The kernel (kernel.ts, syscalls.ts) never touches a
 * machine itself; a port writes its PTEs, zeroes its frames and runs its processes' instructions.
 *
 * - `barePort`: the kernel runs on a bare machine (the reference, and the host kernel every
 *   container shares): it writes physical memory directly, and a process's instruction is the ISA's
 *   `step` at the process's ring with the process's page directory in CR3 (so it goes through the
 *   one walker).
 * - `vmPort` (vm.ts): the kernel runs inside a guest of a hosted machine, and everything it does is a
 *   guest operation run by `hostStep` on a hypervisor design.
 */

import { EFLAGS } from '../bits.ts';
import { bootStack, SEL } from '../boot.ts';
import { linear, PAGE_SIZE } from '../geometry.ts';
import { step } from '../isa.ts';
import { readWord, writeWord } from '../memory.ts';
import type { Op } from '../ops.ts';
import type { Cpu, Machine } from '../state.ts';
import { EMPTY_TLB } from '../tlb.ts';
import type { SysResult } from './calls.ts';
import { type AddressSpace, KERNEL_GEOMETRY, userTableIndex } from './kernel.ts';

/** A user instruction: a load into EAX, or a store of `value` (put in EAX first). */
export type UserAccess =
  | { readonly kind: 'load'; readonly va: number }
  | { readonly kind: 'store'; readonly va: number; readonly value: number };

/** What a kernel needs of the machine it runs on. Every function is pure. */
export interface KernelPort<M> {
  /** Write the PTE of user page `page` of `space` (then invalidate its translation). */
  readonly setPte: (m: M, space: AddressSpace, page: number, pte: number) => M;
  /** Zero the frame user page `page` of `space` maps (before the kernel frees it). */
  readonly zeroPage: (m: M, space: AddressSpace, page: number) => M;
  /** Run a process's user instruction in `space`, with `cpu` the group's context. */
  readonly user: (
    m: M,
    cpu: Cpu,
    space: AddressSpace,
    access: UserAccess,
  ) => { readonly m: M; readonly cpu: Cpu; readonly result: SysResult };
  /** Run a kernel-mode instruction of the guest's own code in the group's context `cpu`. */
  readonly privileged: (m: M, cpu: Cpu, op: Op) => { readonly m: M; readonly cpu: Cpu; readonly result: SysResult };
  /** The kernel has panicked: what its machine does then. */
  readonly panic: (m: M) => M;
}

/** The destination register of an operation, if it writes one. */
export const destination = (op: Op): number | undefined => ('dst' in op ? op.dst : undefined);

/** What a completed kernel-mode instruction shows: its destination register and EFLAGS.IF. */
export const cpuResult = (op: Op, cpu: Cpu): SysResult => {
  const dst = destination(op);
  const interruptsEnabled = (cpu.eflags & EFLAGS.IF) !== 0;
  return dst === undefined
    ? { kind: 'cpu', interruptsEnabled }
    : { kind: 'cpu', value: cpu.regs[dst]!, interruptsEnabled };
};

const userOp = (a: UserAccess): Op =>
  a.kind === 'load' ? { kind: 'load', dst: 0, va: a.va } : { kind: 'store', va: a.va, src: 0 };

/** The kernel on a bare machine. */
export const barePort: KernelPort<Machine> = {
  setPte: (m, space, page, pte) => ({
    ...m,
    memory: writeWord(m.memory, space.table * PAGE_SIZE + userTableIndex(page) * 4, pte),
    // The kernel reloads CR3 on every switch between groups, so no translation outlives it.
    tlb: EMPTY_TLB,
  }),
  zeroPage: (m, space, page) => {
    const frame = readWord(m.memory, space.table * PAGE_SIZE + userTableIndex(page) * 4) >>> 12;
    let memory = m.memory;
    for (let w = 0; w < KERNEL_GEOMETRY.wordsPerPage; w++) memory = writeWord(memory, frame * PAGE_SIZE + w * 4, 0);
    return { ...m, memory };
  },
  user: (m, cpu, space, access) => {
    const regs = access.kind === 'store' ? ([access.value, cpu.regs[1], cpu.regs[2], cpu.regs[3]] as const) : cpu.regs;
    const processCpu: Cpu = {
      ...cpu,
      cpl: 3,
      cs: SEL.USER_CODE,
      ...bootStack(KERNEL_GEOMETRY, 3),
      cr3: space.directory * PAGE_SIZE,
      regs,
    };
    const r = step({ ...m, cpu: processCpu, tlb: EMPTY_TLB }, userOp(access));
    const next = { ...m, memory: r.machine.memory, tlb: EMPTY_TLB };
    // Back in the kernel's context: the process's registers are what the instruction left (EAX
    // holds the stored or loaded word), and a #PF has set the real CR2 (SDM §4.7).
    const after: Cpu = { ...cpu, regs: r.machine.cpu.regs, cr2: r.machine.cpu.cr2 };
    if (r.outcome.status === 'faulted')
      return { m: next, cpu: after, result: { kind: 'signal', vector: r.outcome.events[0]!.vector } };
    return {
      m: next,
      cpu: after,
      result: { kind: 'value', value: access.kind === 'load' ? r.machine.cpu.regs[0] : 0 },
    };
  },
  privileged: (m, cpu, op) => {
    const r = step({ ...m, cpu }, op);
    const next = { ...m, memory: r.machine.memory, tlb: EMPTY_TLB };
    // An instruction that faults did not complete: the context stays as it was (the signal is delivered).
    if (r.outcome.status !== 'retired') {
      const vector = r.outcome.events[0]?.vector ?? -1;
      return { m: next, cpu, result: { kind: 'signal', vector } };
    }
    return { m: next, cpu: r.machine.cpu, result: cpuResult(op, r.machine.cpu) };
  },
  panic: (m) => m,
};

/** Linear address of word `word` of user page `page`. */
export const userVa = (page: number, word: number): number => linear(0, userTableIndex(page), word);
