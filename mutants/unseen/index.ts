/**
 * The frozen set of unseen mutants (issue 20, "Measuring generality honestly"): one-change flaws in
 * the correct presets, written from the README, DESIGN.md and the public design API alone, before
 * the generators, the properties or the mutant catalog were read. `hyperprop mutants --unseen` runs
 * them; bench/RESULTS.md records their kill rate. They are measured, never asserted.
 *
 * FROZEN: nothing under mutants/unseen/ changes after its first commit (a checker hook verifies it).
 */
import { CPU_MUTANTS } from './cpu.ts';
import { INTERRUPT_MUTANTS } from './interrupts.ts';
import { IO_MUTANTS } from './io.ts';
import { MMU_MUTANTS } from './mmu.ts';
import { NETWORK_MUTANTS } from './network.ts';
import { SWITCH_MUTANTS } from './switches.ts';
import { SYSCALL_MUTANTS } from './syscall.ts';
import type { UnseenMutant } from './types.ts';

export type { UnseenMachineMutant, UnseenMutant, UnseenSyscallMutant } from './types.ts';

/** Every unseen mutant, in a fixed order. */
export const UNSEEN_MUTANTS: readonly UnseenMutant[] = [
  ...CPU_MUTANTS,
  ...MMU_MUTANTS,
  ...SWITCH_MUTANTS,
  ...INTERRUPT_MUTANTS,
  ...IO_MUTANTS,
  ...NETWORK_MUTANTS,
  ...SYSCALL_MUTANTS,
];
