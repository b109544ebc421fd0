/**
 * The paging permission matrix, exhaustively, against expectations written from the Intel SDM
 * (Vol. 3A §4.6 access rights, §4.7 page-fault error code, §4.8 accessed and dirty flags).
 *
 * PDE and PTE each take every combination of P, R/W and U/S (8 × 8); the access is a user-mode
 * (CPL 3) or supervisor-mode (CPL 0) read (`load`) or write (`store`); CR0.WP is 0 or 1: 512 cases.
 *
 * The expected outcome comes from `sdmExpectation` below, a transcription of the SDM's rules for
 * 32-bit paging with CR4 = 0 (no PSE, no SMEP/SMAP, no NX). It deliberately uses nothing from
 * model/paging.ts (no walker, no `x86Permits`, no `pfErrorCode`): only the boot layout, the
 * machine's memory accessors and `step` / `permitted`.
 */
import { bootFrames, bootMachine, CR0, type Machine, permitted, readWord, step, writeWord } from 'hyperprop';
import { describe, expect, it } from 'vitest';

// Paging-structure entry bits, from SDM Vol. 3A Table 4-5 (PDE) and Table 4-6 (PTE).
const P = 1 << 0;
const RW = 1 << 1;
const US = 1 << 2;
const ACCESSED = 1 << 5;
const DIRTY = 1 << 6;

// #PF error-code bits, from SDM Vol. 3A §4.7 (Figure 4-12).
const ERR_P = 1 << 0;
const ERR_WR = 1 << 1;
const ERR_US = 1 << 2;

const PF_VECTOR = 14; // SDM Vol. 3A Table 6-1
const KERNEL_CS = 0x08; // boot GDT's ring-0 code (model/boot.ts SEL.KERNEL_CODE)

interface EntryBits {
  readonly p: boolean;
  readonly w: boolean;
  readonly u: boolean;
}
interface Case {
  readonly pde: EntryBits;
  readonly pte: EntryBits;
  /** A user-mode access (CPL 3); supervisor-mode (CPL 0) otherwise. */
  readonly user: boolean;
  readonly write: boolean;
  readonly wp: boolean;
}
type Expected = { readonly fault: false } | { readonly fault: true; readonly errorCode: number };

/**
 * What the SDM says happens.
 *
 * §4.3/§4.7: "there is no valid translation for a linear address if the translation process for
 * that address would use a paging-structure entry in which the P flag (bit 0) is 0". A PDE with
 * P = 0 ends the walk: the PTE is never consulted, so its bits cannot matter.
 *
 * §4.6.1 (32-bit paging, CR4.SMEP = CR4.SMAP = 0): a linear address is a *user-mode address* if
 * U/S = 1 in every paging-structure entry controlling its translation, a *supervisor-mode
 * address* otherwise; it is *read-only* unless R/W = 1 in every such entry.
 *  - Supervisor-mode data reads: allowed from any address (user-mode addresses too, SMAP off).
 *  - Supervisor-mode data writes: CR0.WP = 0 → allowed to any address; CR0.WP = 1 → allowed only
 *    where R/W = 1 in every entry (the same rule for supervisor-mode and user-mode addresses).
 *  - User-mode data reads: allowed from user-mode addresses; never from supervisor-mode ones.
 *  - User-mode data writes: allowed to user-mode addresses with R/W = 1 in every entry (whatever
 *    CR0.WP); never to supervisor-mode addresses.
 *
 * §4.7 error code: P (bit 0) = 0 when there is no translation (a P = 0 entry), 1 for an
 * access-rights violation; W/R (bit 1) = 1 for a write; U/S (bit 2) = 1 for a user-mode (CPL 3)
 * access. Bits 3 (RSVD) and 4 (I/D) are 0: 32-bit paging with CR4.PSE = 0 has no reserved bits in
 * these entries, and I/D needs NX or SMEP and an instruction fetch.
 */
const sdmExpectation = (c: Case): Expected => {
  const accessBits = (c.write ? ERR_WR : 0) | (c.user ? ERR_US : 0);

  const hasTranslation = c.pde.p && c.pte.p; // PDE.P = 0 short-circuits: the PTE is not used
  if (!hasTranslation) return { fault: true, errorCode: accessBits };

  const userModeAddress = c.pde.u && c.pte.u;
  const writableEverywhere = c.pde.w && c.pte.w;

  let allowed: boolean;
  if (!c.user) {
    // Supervisor-mode access.
    allowed = c.write ? !c.wp || writableEverywhere : true;
  } else if (!userModeAddress) {
    // User-mode access to a supervisor-mode address: never, read or write.
    allowed = false;
  } else {
    // User-mode access to a user-mode address: reads always, writes need R/W = 1 everywhere.
    allowed = c.write ? writableEverywhere : true;
  }
  return allowed ? { fault: false } : { fault: true, errorCode: ERR_P | accessBits };
};

// ---------------------------------------------------------------------------------------------
// The machine side: one linear page of the boot layout, its PDE and PTE rewritten per case.

const DIR = 1;
const TABLE = 2; // page (1, 2): an ordinary data page, not the system page and not a table alias
const VA = ((DIR << 22) | (TABLE << 12) | (3 << 2)) >>> 0; // word 3 of the page
const PAGE = 4096;

const boot0 = bootMachine();
const frames = bootFrames(boot0.geometry);
const PDE_PA = frames.pageDirectory * PAGE + DIR * 4;
const PTE_PA = frames.pageTable(DIR) * PAGE + TABLE * 4;
const DATA_PA = frames.data(DIR, TABLE) * PAGE + (VA & 0xfff);
const OLD_DATA = 0x1357_9bdf; // what the data word holds before the access
const STORED = 0xcafe_f00d; // what a store writes (EBX)

const entryWord = (frameNumber: number, b: EntryBits): number =>
  (frameNumber * PAGE + (b.p ? P : 0) + (b.w ? RW : 0) + (b.u ? US : 0)) >>> 0;

const setup = (c: Case): { machine: Machine; pde: number; pte: number } => {
  const m = bootMachine({ cpl: c.user ? 3 : 0 });
  const pde = entryWord(frames.pageTable(DIR), c.pde); // A = 0, D = 0
  const pte = entryWord(frames.data(DIR, TABLE), c.pte); // A = 0, D = 0
  let memory = writeWord(m.memory, PDE_PA, pde);
  memory = writeWord(memory, PTE_PA, pte);
  memory = writeWord(memory, DATA_PA, OLD_DATA);
  const cr0 = c.wp ? (m.cpu.cr0 | CR0.WP) >>> 0 : (m.cpu.cr0 & ~CR0.WP) >>> 0;
  const regs = [0x1111_1111, 0x2222_2222, 0x3333_3333, STORED] as const;
  return { machine: { ...m, memory, cpu: { ...m.cpu, cr0, regs } }, pde, pte };
};

const bitsOf = (n: number): EntryBits => ({ p: (n & 1) !== 0, w: (n & 2) !== 0, u: (n & 4) !== 0 });
const show = (b: EntryBits) => `P=${+b.p} W=${+b.w} U=${+b.u}`;

const cases: Case[] = [];
for (let pde = 0; pde < 8; pde++)
  for (let pte = 0; pte < 8; pte++)
    for (const user of [false, true])
      for (const write of [false, true])
        for (const wp of [false, true]) cases.push({ pde: bitsOf(pde), pte: bitsOf(pte), user, write, wp });

const name = (c: Case): string => {
  const e = sdmExpectation(c);
  const outcome = e.fault ? `#PF(${e.errorCode})` : 'allowed';
  return `PDE ${show(c.pde)} | PTE ${show(c.pte)} | ${c.user ? 'user (CPL 3)' : 'supervisor (CPL 0)'} ${c.write ? 'write' : 'read'} | CR0.WP=${+c.wp} → ${outcome}`;
};

describe('paging permission matrix (SDM Vol. 3A §4.6 access rights, §4.7 #PF error code, §4.8 accessed/dirty)', () => {
  it('covers 8 × 8 entry combinations × user/supervisor × read/write × CR0.WP = 512 cases', () => {
    expect(cases).toHaveLength(512);
    expect(new Set(cases.map(name)).size).toBe(512);
    // Sanity of the expectation itself against rules stated plainly in the SDM, so that a
    // mistake here cannot silently agree with a mistake in the model.
    const all: EntryBits = { p: true, w: true, u: true };
    const ro: EntryBits = { p: true, w: false, u: true };
    const sup: EntryBits = { p: true, w: true, u: false };
    const np: EntryBits = { p: false, w: true, u: true };
    // §4.6: with CR0.WP = 0 a supervisor write to a read-only page succeeds; with WP = 1 it faults.
    expect(sdmExpectation({ pde: all, pte: ro, user: false, write: true, wp: false })).toEqual({ fault: false });
    expect(sdmExpectation({ pde: all, pte: ro, user: false, write: true, wp: true })).toEqual({
      fault: true,
      errorCode: 0b011,
    });
    // §4.6: a user read of a page with U/S = 0 in the PDE faults as a protection violation (P=1, U/S=1).
    expect(sdmExpectation({ pde: sup, pte: all, user: true, write: false, wp: false })).toEqual({
      fault: true,
      errorCode: 0b101,
    });
    // §4.7: a not-present PTE is reported as not-present (P=0) even where U/S=0 also denies the access.
    expect(sdmExpectation({ pde: sup, pte: np, user: true, write: true, wp: true })).toEqual({
      fault: true,
      errorCode: 0b110,
    });
  });

  for (const c of cases) {
    const expected = sdmExpectation(c);
    it(name(c), () => {
      const { machine, pde, pte } = setup(c);
      const op = c.write ? ({ kind: 'store', va: VA, src: 3 } as const) : ({ kind: 'load', dst: 1, va: VA } as const);
      const canonical = step(machine, op);
      const all = permitted(machine, op);
      expect(all.length).toBeGreaterThan(0);
      // `permitted` lists the canonical behaviour first.
      expect(all[0]!.outcome).toEqual(canonical.outcome);

      if (!expected.fault) {
        // §4.8: every entry used for the translation gets A; the PTE (the entry that maps the
        // page) gets D on a write. The PDE references a page table: its bit 6 is ignored and
        // never set. Nothing else changes in either entry.
        const wantPde = (pde | ACCESSED) >>> 0;
        const wantPte = (pte | ACCESSED | (c.write ? DIRTY : 0)) >>> 0;
        for (const s of all) {
          expect(s.outcome).toEqual({ status: 'retired', events: [] });
          expect(readWord(s.machine.memory, PDE_PA)).toBe(wantPde);
          expect(readWord(s.machine.memory, PTE_PA)).toBe(wantPte);
          expect(s.machine.cpu.cr2).toBe(0);
          expect(s.machine.cpu.cpl).toBe(c.user ? 3 : 0);
          if (c.write) expect(readWord(s.machine.memory, DATA_PA)).toBe(STORED);
          else expect(s.machine.cpu.regs[1]).toBe(OLD_DATA);
        }
        return;
      }

      // A fault. Every permitted behaviour must agree on the error code and CR2 (§4.7: CR2 holds
      // the linear address that caused the fault) and deliver #PF through the IDT's ring-0
      // interrupt gate (Vol. 3A §6.12: CPL becomes 0, CS the handler's selector).
      //
      // Accessed flags of a faulting walk (§4.8 requires them only for entries *used* for a
      // translation): we accept A being set or not on each entry that is present, never on a
      // not-present entry and never on a PTE the walk did not reach (PDE.P = 0). D is never set:
      // no write to the linear address happened. No other bit of either entry may change.
      expect(expected.errorCode & 0b1_1000).toBe(0); // bits 3 (RSVD) and 4 (I/D) are zero
      const pteReached = c.pde.p;
      const acceptPde = c.pde.p ? [pde, (pde | ACCESSED) >>> 0] : [pde];
      const acceptPte = pteReached && c.pte.p ? [pte, (pte | ACCESSED) >>> 0] : [pte];
      for (const s of all) {
        expect(s.outcome).toEqual({
          status: 'faulted',
          events: [{ vector: PF_VECTOR, source: 'exception', errorCode: expected.errorCode }],
        });
        expect(s.machine.cpu.cr2).toBe(VA);
        expect(s.machine.cpu.cpl).toBe(0);
        expect(s.machine.cpu.cs).toBe(KERNEL_CS);
        expect(acceptPde).toContain(readWord(s.machine.memory, PDE_PA));
        expect(acceptPte).toContain(readWord(s.machine.memory, PTE_PA));
        // The faulting access itself did nothing: no data written, no register loaded.
        expect(readWord(s.machine.memory, DATA_PA)).toBe(OLD_DATA);
        expect(s.machine.cpu.regs).toEqual(machine.cpu.regs);
      }
    });
  }
});

describe('regressions: accessed/dirty updates of aligned 32-bit accesses (SDM Vol. 3A §4.8)', () => {
  // The model's aligned store once wrote the data into the memory as it was *before* the walk,
  // discarding the A and D flags the walk had just set; the aligned load likewise read memory
  // from before the walk.
  it('a store sets A in the PDE and A and D in the PTE (§4.8: A on every entry used, D on the entry that maps the page)', () => {
    const m = bootMachine(); // boot entries have A = D = 0
    const pde = readWord(m.memory, PDE_PA);
    const pte = readWord(m.memory, PTE_PA);
    expect(pde & (ACCESSED | DIRTY)).toBe(0);
    expect(pte & (ACCESSED | DIRTY)).toBe(0);
    const r = step(m, { kind: 'store', va: VA, src: 0 });
    expect(r.outcome.status).toBe('retired');
    expect(readWord(r.machine.memory, PDE_PA)).toBe((pde | ACCESSED) >>> 0);
    expect(readWord(r.machine.memory, PTE_PA)).toBe((pte | ACCESSED | DIRTY) >>> 0);
  });

  it('a load of a PTE through the page-table alias sees the A flag its own walk set first (translation precedes the access)', () => {
    // Boot layout: linear page (0,0) maps the page table of directory slot 0, so word 0 of that
    // page is the PTE of page (0,0) itself: the very entry the load's walk marks accessed.
    const m = bootMachine();
    const ptePa = frames.pageTable(0) * PAGE; // PTE (0,0)
    const before = readWord(m.memory, ptePa);
    expect(before & ACCESSED).toBe(0);
    const r = step(m, { kind: 'load', dst: 0, va: 0 });
    expect(r.outcome.status).toBe('retired');
    expect(readWord(r.machine.memory, ptePa)).toBe((before | ACCESSED) >>> 0);
    expect(r.machine.cpu.regs[0]).toBe((before | ACCESSED) >>> 0);
  });
});
