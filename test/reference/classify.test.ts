/**
 * The Popek–Goldberg classification, computed from the semantics (properties/classify.ts).
 *
 * Expected lists come from the literature, not from the code: Robin & Irvine, "Analysis of the
 * Intel Pentium's Ability to Support a Secure Virtual Machine Monitor" (USENIX Security 2000),
 * §4.x list seventeen sensitive, unprivileged IA-32 instructions: SGDT, SIDT, SLDT, SMSW, PUSHF,
 * POPF, LAR, LSL, VERR, VERW, POP, PUSH, CALL, JMP, INT n, RET, STR, MOV (segment registers).
 * Restricted to this model's subset (PUSH CS is read as MOV r,CS; far RET as IRET; no far CALL/JMP,
 * POP or segment loads), that is the list below. The privileged ones are those the SDM marks
 * "#GP(0) if the current privilege level is not 0" (and, for CLI/STI/IN/OUT, "if CPL > IOPL",
 * with user mode at IOPL 0).
 */
import { classify, NOT_INNOCUOUS, renderClassification, sensitiveUnprivileged } from 'hyperprop';
import { describe, expect, it } from 'vitest';
import { SENSITIVE_UNPRIVILEGED } from '../host/support.ts';

const table = classify({ samples: 200 });

describe('Popek–Goldberg classification of the ISA', () => {
  it('prints the table (pasted in the closing note)', () => {
    console.log(`\n${renderClassification(table)}\n`);
    expect(table.length).toBe(33);
  });

  it('finds exactly the sensitive-but-unprivileged instructions of Robin & Irvine (restricted to the subset)', () => {
    expect(sensitiveUnprivileged(table).sort()).toEqual([...SENSITIVE_UNPRIVILEGED].sort());
  });

  it('finds the privileged instructions the SDM marks #GP(0) at CPL > 0 (or CPL > IOPL)', () => {
    const privileged = table.filter((r) => r.class === 'privileged').map((r) => r.kind);
    expect(privileged.sort()).toEqual(
      [
        'movToCr0',
        'movToCr3',
        'movFromCr',
        'clts',
        'invlpg',
        'cli',
        'sti',
        'hlt',
        'lgdt',
        'lidt',
        'lldt',
        'ltr',
        'in',
        'out',
      ].sort(),
    );
  });

  it('finds data movement and arithmetic innocuous, and UD2 (which always traps) not privileged', () => {
    const innocuous = table.filter((r) => r.class === 'innocuous').map((r) => r.kind);
    expect(innocuous.sort()).toEqual(['movImm', 'add', 'load', 'store', 'ud2'].sort());
  });

  it('gives a reason for each sensitivity it reports', () => {
    for (const r of table) {
      if (r.controlSensitive || r.behaviourSensitive) expect(r.witnesses.length).toBeGreaterThan(0);
    }
    const sgdt = table.find((r) => r.kind === 'sgdt')!;
    expect(sgdt.witnesses).toContain('result depends on GDTR base');
    const popf = table.find((r) => r.kind === 'popf')!;
    expect(popf.witnesses).toContain('changes EFLAGS.IF');
  });

  it('agrees with the list binary translation and paravirtual designs act on (NOT_INNOCUOUS)', () => {
    const computed = table.filter((r) => r.class !== 'innocuous').map((r) => r.kind);
    expect([...NOT_INNOCUOUS].sort()).toEqual(computed.sort());
  });

  it('is deterministic for a seed', () => {
    expect(classify({ samples: 30, seed: 7 }, ['popf', 'lar'])).toEqual(
      classify({ samples: 30, seed: 7 }, ['popf', 'lar']),
    );
  });
});
