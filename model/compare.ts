/** Structural equality of machines, for checkers and tests (memory compared word by word). */
import { sameDmaEngines } from './devices.ts';
import { sameMemory } from './memory.ts';
import { sameNicState } from './nic.ts';
import type { Cpu, Machine } from './state.ts';

const sameJson = (a: unknown, b: unknown) => a === b || JSON.stringify(a) === JSON.stringify(b);

/** True when two CPUs hold the same state, field by field. */
export const sameCpu = (a: Cpu, b: Cpu): boolean =>
  a === b ||
  (a.cpl === b.cpl &&
    a.cs === b.cs &&
    a.eip === b.eip &&
    a.ss === b.ss &&
    a.esp === b.esp &&
    a.eflags === b.eflags &&
    a.regs[0] === b.regs[0] &&
    a.regs[1] === b.regs[1] &&
    a.regs[2] === b.regs[2] &&
    a.regs[3] === b.regs[3] &&
    a.cr0 === b.cr0 &&
    a.cr2 === b.cr2 &&
    a.cr3 === b.cr3 &&
    a.gdtr.base === b.gdtr.base &&
    a.gdtr.limit === b.gdtr.limit &&
    a.idtr.base === b.idtr.base &&
    a.idtr.limit === b.idtr.limit &&
    a.ldtr.selector === b.ldtr.selector &&
    a.ldtr.base === b.ldtr.base &&
    a.ldtr.limit === b.ldtr.limit &&
    a.tr.selector === b.tr.selector &&
    a.tr.base === b.tr.base &&
    a.tr.limit === b.tr.limit &&
    a.run === b.run &&
    a.stiShadow === b.stiShadow &&
    a.pending.length === b.pending.length &&
    a.pending.every((v, i) => v === b.pending[i]));

/** True when two machines are the same state: CPU, memory and TLB. */
export const sameMachine = (a: Machine, b: Machine): boolean =>
  a === b ||
  (sameJson(a.geometry, b.geometry) &&
    sameCpu(a.cpu, b.cpu) &&
    sameMemory(a.memory, b.memory) &&
    sameJson(a.tlb, b.tlb) &&
    sameDmaEngines(a.devices, b.devices) &&
    sameJson(a.nic, b.nic));

/** True when two machines agree on everything software can read: CPU, memory and devices, not the TLB. */
export const sameArchitecturalState = (a: Machine, b: Machine): boolean =>
  a === b ||
  (sameCpu(a.cpu, b.cpu) &&
    sameDmaEngines(a.devices, b.devices) &&
    sameNicState(a.nic, b.nic) &&
    sameMemory(a.memory, b.memory));
