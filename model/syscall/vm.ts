/**
 * The kernel inside a virtual machine: everything it does to its machine is a guest operation
 * that the hosted machine runs with `hostStep` on a hypervisor design (shadow paging, EPT, ...),
 * so the hypervisor sees exactly what a real guest kernel would make it see.
 *
 * The guest kernel instance has one group, on the boot page directory and table (window page
 * (0,0) maps that table, so the kernel writes a PTE with a store there). A user instruction is
 * entered with IRET to ring 3 and left with INT 0x81 (the boot IDT's DPL-3 trap gate) or, when it
 * faults, by the #PF the hardware delivers to the kernel; the kernel then IRETs to restore its
 * EFLAGS. A load or store at ring 3 on the flat boot segments can only raise #PF, and none of the
 * kernel-mode instructions generated at this level can fault at ring 0 with the boot layout, so
 * the kernel tells a fault from a completion by the ring it finds itself at.
 */

import { VEC } from '../bits.ts';
import { SEL, USER_INT_VECTORS } from '../boot.ts';
import { linear } from '../geometry.ts';
import type { Design } from '../host/design.ts';
import type { HostMachine } from '../host/machine.ts';
import { hostStep, hostSwitch } from '../host/run.ts';
import { guestView } from '../host/toolkit.ts';
import type { Op } from '../ops.ts';
import { KERNEL_GEOMETRY, userTableIndex } from './kernel.ts';
import { cpuResult, type KernelPort } from './port.ts';

/** The port of the kernel instance running in guest `g` of a host run by `design`. */
export const vmPort = (design: Design, g: number): KernelPort<HostMachine> => {
  const run = (h: HostMachine, ops: readonly Op[]): HostMachine =>
    ops.reduce((x, op) => hostStep(design, hostSwitch(design, x, g), op), h);
  const view = (h: HostMachine) => guestView(design, h, g);
  // The kernel's own work uses EAX as scratch and restores it, as a kernel saves the registers it uses.
  const scratch = (h: HostMachine, ops: readonly Op[]): HostMachine =>
    run(h, [...ops, { kind: 'movImm', dst: 0, imm: view(h).cpu.regs[0] }]);
  return {
    setPte: (h, _space, page, pte) =>
      scratch(h, [
        { kind: 'movImm', dst: 0, imm: pte >>> 0 },
        { kind: 'store', va: linear(0, 0, userTableIndex(page)), src: 0 },
        { kind: 'invlpg', va: linear(0, userTableIndex(page)) },
      ]),
    zeroPage: (h, _space, page) =>
      scratch(h, [
        { kind: 'movImm', dst: 0, imm: 0 },
        ...Array.from(
          { length: KERNEL_GEOMETRY.wordsPerPage },
          (_, w): Op => ({
            kind: 'store',
            va: linear(0, userTableIndex(page), w),
            src: 0,
          }),
        ),
      ]),
    user: (h, cpu, _space, access) => {
      const eflags = view(h).cpu.eflags;
      const op: Op =
        access.kind === 'load' ? { kind: 'load', dst: 0, va: access.va } : { kind: 'store', va: access.va, src: 0 };
      const h1 = run(h, [
        ...(access.kind === 'store' ? [{ kind: 'movImm', dst: 0, imm: access.value >>> 0 } as const] : []),
        { kind: 'iret', cs: SEL.USER_CODE, eflags },
        op,
      ]);
      const after = view(h1);
      if (after.cpu.cpl === 3) {
        const result = { kind: 'value', value: access.kind === 'load' ? after.cpu.regs[0] : 0 } as const;
        return { m: run(h1, [{ kind: 'int', vector: USER_INT_VECTORS.TRAP_GATE }]), cpu, result };
      }
      const back = run(h1, [{ kind: 'iret', cs: SEL.KERNEL_CODE, eflags }]);
      return { m: back, cpu, result: { kind: 'signal', vector: VEC.PF } };
    },
    privileged: (h, cpu, op) => {
      const h1 = run(h, [op]);
      return { m: h1, cpu, result: cpuResult(op, view(h1).cpu) };
    },
    // A panicking kernel stops its CPU for good: interrupts off, halted.
    panic: (h) => run(h, [{ kind: 'cli' }, { kind: 'hlt' }]),
  };
};
