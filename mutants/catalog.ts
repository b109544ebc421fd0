/**
 * The mutant catalog: every mutant, by area. Each area's file exports its list; add a new area
 * here with one import.
 */
import type { Mutant } from './mutant.ts';
import { SYSCALL_MUTANTS } from './syscall.ts';

/** Every mutant in the catalog. */
export const MUTANTS: readonly Mutant[] = Object.freeze([...SYSCALL_MUTANTS]);

/** A mutant by name. */
export const mutantByName = (name: string): Mutant | undefined => MUTANTS.find((m) => m.name === name);
