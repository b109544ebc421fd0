/**
 * The mutant catalog: every mutant, by area. Each area's file exports its list; add a new area
 * here with one import.
 */
import { CPU_MUTANTS } from './cpu.ts';
import { DIRECT_PAGING_MUTANTS } from './direct.ts';
import { EFFICIENCY_MUTANTS } from './efficiency.ts';
import { IO_MUTANTS } from './io.ts';
import { MMU_MUTANTS } from './mmu.ts';
import type { Mutant } from './mutant.ts';
import { NETWORK_MUTANTS } from './network.ts';
import { SYSCALL_MUTANTS } from './syscall.ts';
import { TLB_MUTANTS } from './tlb.ts';

/** Every mutant in the catalog. */
export const MUTANTS: readonly Mutant[] = Object.freeze([
  ...CPU_MUTANTS,
  ...MMU_MUTANTS,
  ...DIRECT_PAGING_MUTANTS,
  ...TLB_MUTANTS,
  ...IO_MUTANTS,
  ...EFFICIENCY_MUTANTS,
  ...NETWORK_MUTANTS,
  ...SYSCALL_MUTANTS,
]);

/** A mutant by name. */
export const mutantByName = (name: string): Mutant | undefined => MUTANTS.find((m) => m.name === name);
