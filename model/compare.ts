/** Structural equality of machines, for checkers and tests (memory compared word by word). */
import { sameMemory } from './memory.ts';
import type { Machine } from './state.ts';

const sameJson = (a: unknown, b: unknown) => a === b || JSON.stringify(a) === JSON.stringify(b);

/** True when two machines are the same state: CPU, memory and TLB. */
export const sameMachine = (a: Machine, b: Machine): boolean =>
  a === b ||
  (sameJson(a.geometry, b.geometry) &&
    sameJson(a.cpu, b.cpu) &&
    sameMemory(a.memory, b.memory) &&
    sameJson(a.tlb, b.tlb));

/** True when two machines agree on everything software can read: CPU and memory, not the TLB. */
export const sameArchitecturalState = (a: Machine, b: Machine): boolean =>
  a === b || (sameJson(a.cpu, b.cpu) && sameMemory(a.memory, b.memory));
