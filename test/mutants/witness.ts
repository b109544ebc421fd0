/**
 * The checks every frozen unseen set makes of its hand witnesses (test/mutants/unseen*.test.ts):
 * the correct base passes the witness for every property, and the mutant's own verdict on it.
 */
import {
  checkScenario,
  checkSyscallScenario,
  PRESETS,
  PROPERTY_NAMES,
  SYSCALL_PROPERTY_NAMES,
  syscall,
} from 'hyperprop';
import { expect } from 'vitest';
import type { UnseenMutant } from '../../mutants/unseen/types.ts';

/** Assert that the correct base preset passes `m`'s witness for every property of its level. */
export const expectBasePassesWitness = (m: UnseenMutant): void => {
  if (m.level === 'syscall') {
    const base = syscall.SYSCALL_DESIGNS[m.base];
    expect(base, m.base).toBeDefined();
    expect(SYSCALL_PROPERTY_NAMES).toContain(m.property);
    for (const p of SYSCALL_PROPERTY_NAMES) expect(checkSyscallScenario(base!, p, m.witness), p).toBeUndefined();
  } else {
    const base = PRESETS[m.base];
    expect(base, m.base).toBeDefined();
    expect(PROPERTY_NAMES).toContain(m.property);
    for (const p of PROPERTY_NAMES) expect(checkScenario(base!, p, m.witness), p).toBeUndefined();
  }
};

/** The mutant's own property on its own witness: the failure, or undefined when it passes. */
export const witnessFailure = (
  m: UnseenMutant,
): ReturnType<typeof checkScenario> | ReturnType<typeof checkSyscallScenario> =>
  m.level === 'syscall'
    ? checkSyscallScenario(m.design, m.property, m.witness)
    : checkScenario(m.design, m.property, m.witness);
