/**
 * The baseline rule (`check`'s `baseline` option, the mutant runner): a design's failure counts
 * unless its base fails the same property earlier, or at the same step the same way. A flaw that
 * diverges before the base's own documented divergence is the flaw's doing.
 */
import {
  bt,
  composeDesign,
  type Design,
  distinguishingFailure,
  explainedByBaseline,
  type HypervisorEntry,
  type Scenario,
} from 'hyperprop';
import { describe, expect, it } from 'vitest';

const plainGuest = {
  cpl: 0 as const,
  eflags: 0x200, // IF = 1, IOPL 0
  wp: true,
  ts: false,
  regs: [0, 0, 0, 0] as const,
  pteFlags: new Array(16).fill(7),
  pdeFlags: new Array(4).fill(7),
  devices: 0,
};

// A one-change flaw of bt: the translated CLI is dropped, so the guest's virtual IF stays 1.
const btDropsCli: Design = composeDesign({
  ...bt,
  name: 'bt-drops-cli',
  description: 'bt whose translator forgets CLI',
  handle: (h, e: HypervisorEntry) => (e.kind === 'call' && e.op.kind === 'cli' ? h : bt.handle(h, e)),
});
const btCopy: Design = composeDesign({ ...bt, name: 'bt-copy', description: 'an unmodified copy of bt' });

// Step 0: CLI in the kernel (bare metal: IF = 0; the flaw: IF = 1). Step 1: IRET to ring 3
// (USER_CODE, 0x1b). Step 2: SMSW at CPL 3 runs natively under bt and reads the real CR0, which
// is bt's documented user-mode divergence (README: the "Red Pill").
const scenario: Scenario = {
  geometry: { dirEntries: 4, tableEntries: 4, frames: 32, wordsPerPage: 16 },
  guests: [plainGuest],
  ops: [
    { guest: 0, op: { kind: 'cli' } },
    { guest: 0, op: { kind: 'iret', cs: 0x1b, eflags: 0 } },
    { guest: 0, op: { kind: 'smsw', dst: 0 } },
  ],
};

describe('baseline: a failure counts unless the base fails first or the same way', () => {
  it('bt itself fails equivalence on this scenario, but only at the user-mode SMSW (step 2)', () => {
    const f = distinguishingFailure(bt, 'equivalence', scenario, undefined);
    expect(f?.step).toBe(2);
  });
  it('the flaw diverges at step 0, before its base: it counts', () => {
    const f = distinguishingFailure(btDropsCli, 'equivalence', scenario, bt);
    expect(f?.step).toBe(0);
  });
  it('an unmodified copy of bt is reported for nothing with bt as baseline', () => {
    expect(distinguishingFailure(btCopy, 'equivalence', scenario, bt)).toBeUndefined();
  });
  it('the rule itself: earlier base failure explains; same step explains only the same way', () => {
    const f = { step: 3, guest: 0, message: 'x' };
    expect(explainedByBaseline(f, undefined)).toBe(false);
    expect(explainedByBaseline(f, { step: 2, guest: 1, message: 'y' })).toBe(true);
    expect(explainedByBaseline(f, { step: 3, guest: 0, message: 'x' })).toBe(true);
    expect(explainedByBaseline(f, { step: 3, guest: 0, message: 'z' })).toBe(false);
    expect(explainedByBaseline(f, { step: 4, guest: 0, message: 'x' })).toBe(false);
  });
});
