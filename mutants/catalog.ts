/**
 * The mutant catalog: every mutant, by area. Each area's file exports its list; add a new area
 * here with one import.
 */
import type { Mutant } from './mutant.ts';
import { NETWORK_MUTANTS } from './network.ts';

/** Every mutant in the catalog. */
export const MUTANTS: readonly Mutant[] = Object.freeze([...NETWORK_MUTANTS]);

/** A mutant by name. */
export const mutantByName = (name: string): Mutant | undefined => MUTANTS.find((m) => m.name === name);
