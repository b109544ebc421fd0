/** Structural equality of machines, for checkers and tests (memory compared word by word). */
import { sameMemory } from './memory.ts';
import type { Machine } from './state.ts';

const sameJson = (a: unknown, b: unknown) => a === b || JSON.stringify(a) === JSON.stringify(b);

/** Two machines' devices are the same (absent means none). */
const sameDevices = (a: Machine, b: Machine) => a.devices === b.devices || sameJson(a.devices ?? [], b.devices ?? []);

/** True when two machines are the same state: CPU, memory, TLB and devices. */
export const sameMachine = (a: Machine, b: Machine): boolean =>
  a === b ||
  (sameJson(a.geometry, b.geometry) &&
    sameJson(a.cpu, b.cpu) &&
    sameMemory(a.memory, b.memory) &&
    sameJson(a.tlb, b.tlb) &&
    sameDevices(a, b));

/** True when two machines agree on everything software can read: CPU, memory and devices, not the TLB. */
export const sameArchitecturalState = (a: Machine, b: Machine): boolean =>
  a === b || (sameJson(a.cpu, b.cpu) && sameMemory(a.memory, b.memory) && sameDevices(a, b));
