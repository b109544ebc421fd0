/**
 * Looking into a machine without running it: a linear address's translation and word through the
 * machine's current page tables, with no accessed/dirty updates and no TLB (for checkers,
 * hypervisor code and renderings, never for the semantics).
 */
import { CR0 } from './bits.ts';
import { readWord } from './memory.ts';
import { PTE, walk, X86_32 } from './paging.ts';
import type { Machine } from './state.ts';

/** The physical address a linear address translates to now, or undefined when the walk finds no present entry. */
export const peekPhysical = (m: Machine, va: number): number | undefined => {
  if (!(m.cpu.cr0 & CR0.PG)) return va >>> 0;
  const r = walk(
    X86_32,
    (m.cpu.cr3 & PTE.FRAME) >>> 0,
    va,
    (pa) => readWord(m.memory, pa),
    () => true,
  );
  return r.ok ? (r.frame | (va & 0xfff)) >>> 0 : undefined;
};

/** The 32-bit word at a (4-aligned) linear address now, or undefined when it is not mapped. */
export const peekWord = (m: Machine, va: number): number | undefined => {
  const pa = peekPhysical(m, va & ~3);
  return pa === undefined ? undefined : readWord(m.memory, pa);
};
