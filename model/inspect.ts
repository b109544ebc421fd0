/**
 * Looking into a machine without running it: a linear address's translation and word through the
 * machine's current page tables, with no accessed/dirty updates and no TLB (for checkers,
 * hypervisor code and renderings, never for the semantics).
 */
import { CR0 } from './bits.ts';
import { type PhysicalMemory, readWord } from './memory.ts';
import { type EntryReader, PTE, type WalkResult, walk, X86_32 } from './paging.ts';
import type { Cpu, Machine } from './state.ts';

/**
 * The walk of linear address `va` through the page tables CR3 names now (32-bit paging), with no
 * permission check and no accessed/dirty update: what the tables say, for code that inspects a
 * guest's own tables (a PV kernel recognising its page tables, a checker's record of what mapped a
 * fault, a mutant's patch). `read` reads an entry (default: the word in `m.memory`). Paging being
 * off is the caller's concern (the walk reads CR3 regardless).
 */
export const peekWalk = (
  m: { readonly cpu: Pick<Cpu, 'cr3'>; readonly memory: PhysicalMemory },
  va: number,
  read: EntryReader = (pa) => readWord(m.memory, pa),
): WalkResult => walk(X86_32, (m.cpu.cr3 & PTE.FRAME) >>> 0, va, read, () => true);

/** The physical address a linear address translates to now, or undefined when the walk finds no present entry. */
export const peekPhysical = (m: Machine, va: number): number | undefined => {
  if (!(m.cpu.cr0 & CR0.PG)) return va >>> 0;
  const r = peekWalk(m, va);
  return r.ok ? (r.frame | (va & 0xfff)) >>> 0 : undefined;
};

/** The 32-bit word at a (4-aligned) linear address now, or undefined when it is not mapped. */
export const peekWord = (m: Machine, va: number): number | undefined => {
  const pa = peekPhysical(m, va & ~3);
  return pa === undefined ? undefined : readWord(m.memory, pa);
};
