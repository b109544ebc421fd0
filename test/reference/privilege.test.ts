/**
 * Privilege behaviour of every operation at CPL 0 and at CPL 3, each test naming the Intel SDM
 * rule it checks. Expected values are written by hand from the SDM's instruction pages (Vol. 2)
 * and system chapters (Vol. 3A), and from the documented boot layout (model/boot.ts: its GDT
 * access bytes, its IDT gates, its paging); no expected value is read back from the model.
 *
 * Boot facts used below, derived by hand from model/boot.ts:
 * - GDT descriptors (access byte, flags nibble 0xC = G|D unless noted), second doubleword
 *   `hi = flags<<20 | limit[19:16]<<16 | access<<8 | base[23:16]`:
 *     0x08 ring-0 code 9B → 00CF9B00   0x10 ring-0 data 93 → 00CF9300
 *     0x1B ring-3 code FB → 00CFFB00   0x23 ring-3 data F3 → 00CFF300
 *     0x28 32-bit TSS (busy) 8B, flags 0, base 0x00C03400, limit 0x67 → 00008BC0
 *     0x30 LDT 82, flags 0, base 0x00C03500, limit 0x0F → 000082C0
 *     0x39 ring-1 code BB → 00CFBB00   0x41 ring-1 data B3 → 00CFB300
 *     0x48 ring-0 conforming code 9F → 00CF9F00   0x53 ring-3 read-only data F1 → 00CFF100
 *     0x5B ring-3 execute-only code F9 → 00CFF900  0x60 ring-0 data, not present, 13 → 00CF1300
 *     0x68 32-bit TSS (available) 89, flags 0, base 0x00C03600, limit 0x67 → 000089C0
 *   LDT: 0x07 ring-3 data F3, 0x0C ring-0 data 93. The system page is linear page (3,3) =
 *   0x00C03000 (GDT at +0, TSS at +0x400, LDT at +0x500, IDT at +0x800).
 * - IDT: every vector a DPL-0 32-bit interrupt gate to 0x08, except 0x80 (DPL-3 interrupt gate),
 *   0x81 (DPL-3 trap gate) and 0x82 (DPL-3 interrupt gate, not present).
 * - CR0 at boot = PE|ET|WP|PG = 0x80010011; CR3 = 0 (page directory in frame 0).
 * - Linear pages (0,0) and (0,1) and (3,3) are supervisor pages; other window pages are user, writable.
 */
import {
  bootFrames,
  bootMachine,
  type Cpl,
  linear,
  type Machine,
  OP_KINDS,
  type Op,
  type OpKind,
  permitted,
  readWord,
  SEL,
  type Successor,
  step,
  USER_INT_VECTORS,
  writeWord,
} from 'hyperprop';
import { describe, expect, it } from 'vitest';

// ---------------------------------------------------------------------------------------------
// Architectural constants, written from the SDM rather than imported from the model.

/** EFLAGS bits (SDM Vol. 1 §3.4.3, Figure 3-8). */
const F = {
  CF: 1 << 0,
  R1: 1 << 1, // reserved, always 1
  PF: 1 << 2,
  AF: 1 << 4,
  ZF: 1 << 6,
  SF: 1 << 7,
  IF: 1 << 9,
  DF: 1 << 10,
  OF: 1 << 11,
  IOPL3: 3 << 12,
  IOPL1: 1 << 12,
  AC: 1 << 18,
  ID: 1 << 21,
} as const;
/** CR0 bits (SDM Vol. 3A §2.5). */
const C = { PE: 1, TS: 1 << 3, ET: 1 << 4, WP: 1 << 16, NW: 1 << 29, CD: 1 << 30, PG: 0x8000_0000 } as const;
/** Exception vectors (SDM Vol. 3A Table 6-1). */
const V = { UD: 6, NP: 11, GP: 13, PF: 14 } as const;
const TIMER = 0x20; // the platform's timer vector (PIC IRQ 0 remapped to 0x20, model/bits.ts)
const KERNEL_CS = 0x08;
const PAGE = 4096;

// ---------------------------------------------------------------------------------------------
// Helpers.

/** A boot machine at `cpl` with EFLAGS `eflags` (bit 1 is always set by boot). */
const at = (cpl: Cpl, eflags = 0): Machine => bootMachine({ cpl, eflags });
const withRegs = (m: Machine, regs: readonly [number, number, number, number]): Machine => ({
  ...m,
  cpu: { ...m.cpu, regs },
});
const withCr0 = (m: Machine, cr0: number): Machine => ({ ...m, cpu: { ...m.cpu, cr0: cr0 >>> 0 } });
const iopl = (eflags: number) => (eflags >>> 12) & 3;

/**
 * The step raised exception `vector` (with `errorCode` if the vector pushes one) and it was
 * delivered through the boot IDT's DPL-0 interrupt gate to the kernel code segment (SDM Vol. 3A
 * §6.12.1: for exceptions the gate DPL is not checked; a non-conforming DPL-0 handler runs at
 * CPL 0; an interrupt gate clears IF).
 */
const expectException = (r: Successor, vector: number, errorCode?: number) => {
  expect(r.outcome.status).toBe('faulted');
  expect(r.outcome.events).toHaveLength(1);
  const ev = r.outcome.events[0]!;
  expect(ev.vector).toBe(vector);
  expect(ev.source).toBe('exception');
  if (errorCode === undefined) expect('errorCode' in ev).toBe(false);
  else expect(ev.errorCode).toBe(errorCode);
  expect(r.machine.cpu.cpl).toBe(0);
  expect(r.machine.cpu.cs).toBe(KERNEL_CS);
  expect(r.machine.cpu.eflags & F.IF).toBe(0);
};
const expectGp0 = (r: Successor) => expectException(r, V.GP, 0);
const expectRetired = (r: Successor) => expect(r.outcome).toEqual({ status: 'retired', events: [] });

/**
 * SDM Vol. 3A §5.9 (privileged instructions): "can be executed only when the CPL is 0" — any
 * other CPL raises #GP(0), and IOPL does not matter. Checked at CPL 1 and at CPL 3 with IOPL 3.
 */
// (The source register holds a valid selector, 0x28, so LLDT/LTR could only fail on privilege.)
const privilegedAtEveryOtherCpl = (op: Op) => {
  it('CPL 1 (IOPL 0) and CPL 3 with IOPL 3: still #GP(0) — CPL, not IOPL, governs privileged instructions (Vol. 3A §5.9)', () => {
    expectGp0(step(withRegs(bootMachine({ cpl: 1 }), [SEL.TSS, 0, 0, 0]), op));
    expectGp0(step(withRegs(at(3, F.IOPL3), [SEL.TSS, 0, 0, 0]), op));
  });
};

/** Every operation kind gets a `describe`; the last test checks none is missing. */
const covered = new Set<OpKind>();
const describeOp = (kind: OpKind, title: string, body: () => void) => {
  covered.add(kind);
  describe(`${kind}: ${title}`, body);
};

const boot = bootMachine();
const frames = bootFrames(boot.geometry);
const SYSTEM_PA = frames.system * PAGE;
const USER_VA = linear(1, 2, 5); // a user, writable data page
const USER_PA = frames.data(1, 2) * PAGE + 5 * 4;
const SUPERVISOR_VA = linear(0, 1, 0x200); // the page directory's alias, word 0x200 (an unused PDE)
const SUPERVISOR_PA = frames.pageDirectory * PAGE + 0x200 * 4;

// =============================================================================================

describeOp('movImm', 'not privileged', () => {
  for (const cpl of [0, 3] as const)
    it(`SDM Vol. 2 MOV—Move (MOV r32, imm32): no protected-mode exception; at CPL ${cpl} the register gets the immediate`, () => {
      const r = step(at(cpl), { kind: 'movImm', dst: 2, imm: 0x89ab_cdef });
      expectRetired(r);
      expect(r.machine.cpu.regs).toEqual([0, 0, 0x89ab_cdef, 0]);
      expect(r.machine.cpu.cpl).toBe(cpl);
    });
});

describeOp('add', 'not privileged; status flags per SDM ADD', () => {
  for (const cpl of [0, 3] as const) {
    it(`SDM Vol. 2 ADD at CPL ${cpl}: FFFFFFFFh + 1 = 0 with CF=1 ZF=1 PF=1 AF=1 SF=0 OF=0 (hand-computed)`, () => {
      const m = withRegs(at(cpl, F.IF), [0xffff_ffff, 1, 0, 0]);
      const r = step(m, { kind: 'add', dst: 0, src: 1 });
      expectRetired(r);
      expect(r.machine.cpu.regs[0]).toBe(0);
      // IF (not a status flag) is untouched; bit 1 stays set.
      expect(r.machine.cpu.eflags).toBe(F.R1 | F.IF | F.CF | F.ZF | F.PF | F.AF);
    });
    it(`SDM Vol. 2 ADD at CPL ${cpl}: 7FFFFFFFh + 1 = 80000000h with OF=1 SF=1 AF=1 PF=1 (low byte 00h) CF=0 ZF=0`, () => {
      const m = withRegs(at(cpl, F.CF | F.ZF), [0x7fff_ffff, 1, 0, 0]);
      const r = step(m, { kind: 'add', dst: 0, src: 1 });
      expectRetired(r);
      expect(r.machine.cpu.regs[0]).toBe(0x8000_0000);
      expect(r.machine.cpu.eflags).toBe(F.R1 | F.OF | F.SF | F.AF | F.PF);
    });
  }
});

describeOp('load', 'a user-mode access at CPL 3 (SDM Vol. 3A §4.6)', () => {
  it('CPL 0: a supervisor-mode read of a supervisor page succeeds (§4.6: supervisor reads are allowed from any address)', () => {
    // Word 1 of the page directory alias is PDE 1 = page table frame 2 | P | R/W | U/S = 0x2007.
    const r = step(at(0), { kind: 'load', dst: 0, va: linear(0, 1, 1) });
    expectRetired(r);
    expect(r.machine.cpu.regs[0]).toBe(0x0000_2007);
  });
  it('CPL 3: a read of a supervisor page raises #PF with error code 5 (P=1 protection, W/R=0, U/S=1; §4.6, §4.7) and CR2 = the address', () => {
    const va = linear(0, 1, 1);
    const r = step(at(3), { kind: 'load', dst: 0, va });
    expectException(r, V.PF, 0b101);
    expect(r.machine.cpu.cr2).toBe(va);
    expect(r.machine.cpu.regs[0]).toBe(0);
  });
  it('CPL 3: a read of a user page succeeds (§4.6: user-mode reads of user-mode addresses)', () => {
    const m = { ...at(3), memory: writeWord(boot.memory, USER_PA, 0x0bad_cafe) };
    const r = step(m, { kind: 'load', dst: 3, va: USER_VA });
    expectRetired(r);
    expect(r.machine.cpu.regs[3]).toBe(0x0bad_cafe);
  });
});

describeOp('store', 'a user-mode access at CPL 3 (SDM Vol. 3A §4.6)', () => {
  it('CPL 0: a supervisor-mode write to a writable supervisor page succeeds (§4.6, CR0.WP=1, R/W=1 everywhere)', () => {
    const r = step(withRegs(at(0), [0x1234_5678, 0, 0, 0]), { kind: 'store', va: SUPERVISOR_VA, src: 0 });
    expectRetired(r);
    expect(readWord(r.machine.memory, SUPERVISOR_PA)).toBe(0x1234_5678);
  });
  it('CPL 3: a write to a supervisor page raises #PF(7) (P=1, W/R=1, U/S=1; §4.6, §4.7) and writes nothing', () => {
    const r = step(withRegs(at(3), [0x1234_5678, 0, 0, 0]), { kind: 'store', va: SUPERVISOR_VA, src: 0 });
    expectException(r, V.PF, 0b111);
    expect(r.machine.cpu.cr2).toBe(SUPERVISOR_VA);
    expect(readWord(r.machine.memory, SUPERVISOR_PA)).toBe(0);
  });
  it('CPL 3: a write to a user, writable page succeeds (§4.6)', () => {
    const r = step(withRegs(at(3), [0x1234_5678, 0, 0, 0]), { kind: 'store', va: USER_VA, src: 0 });
    expectRetired(r);
    expect(readWord(r.machine.memory, USER_PA)).toBe(0x1234_5678);
  });
});

describeOp('movToCr0', 'privileged (SDM Vol. 2 MOV—Move to/from Control Registers)', () => {
  it('CPL 0: loads CR0; clearing WP gives PE|ET|PG = 0x80000011 (ET is hardwired to 1, Vol. 3A §2.5)', () => {
    const r = step(at(0), { kind: 'movToCr0', value: (C.PE | C.PG) >>> 0 });
    expectRetired(r);
    expect(r.machine.cpu.cr0).toBe(0x8000_0011);
  });
  it('CPL 0: NW=1 with CD=0 is an invalid combination: #GP(0), CR0 unchanged', () => {
    const r = step(at(0), { kind: 'movToCr0', value: (C.PE | C.PG | C.WP | C.NW) >>> 0 });
    expectGp0(r);
    expect(r.machine.cpu.cr0).toBe(0x8001_0011);
  });
  it('CPL 3: #GP(0) if CPL ≠ 0; CR0 unchanged', () => {
    const r = step(at(3), { kind: 'movToCr0', value: (C.PE | C.PG) >>> 0 });
    expectGp0(r);
    expect(r.machine.cpu.cr0).toBe(0x8001_0011);
  });
  privilegedAtEveryOtherCpl({ kind: 'movToCr0', value: (C.PE | C.PG) >>> 0 });
});

/**
 * A machine whose TLB holds a stale translation of USER_VA: it loaded the page once, then the PTE
 * was pointed at another frame without invalidation. SDM Vol. 3A §4.10.2/§4.10.4: until the page
 * is invalidated the processor may use either translation.
 */
const staleTlb = (cpl: Cpl) => {
  const oldPa = USER_PA;
  const newPa = frames.data(1, 3) * PAGE + 5 * 4;
  let m = boot;
  m = { ...m, memory: writeWord(writeWord(m.memory, oldPa, 0x01d), newPa, 0x2e3) };
  m = step(m, { kind: 'load', dst: 0, va: USER_VA }).machine; // caches the translation
  const ptePa = frames.pageTable(1) * PAGE + 2 * 4;
  const pte = readWord(m.memory, ptePa);
  m = { ...m, memory: writeWord(m.memory, ptePa, ((frames.data(1, 3) * PAGE) | (pte & 0xfff)) >>> 0) };
  m = { ...m, cpu: { ...m.cpu, cpl, cs: cpl === 3 ? SEL.USER_CODE : SEL.KERNEL_CODE } };
  const loads = (mm: Machine) =>
    new Set(permitted(mm, { kind: 'load', dst: 1, va: USER_VA }).map((s) => s.machine.cpu.regs[1]));
  return { m, loads };
};

describeOp('movToCr3', 'privileged (SDM Vol. 2 MOV—Move to/from Control Registers)', () => {
  it('setup: before any invalidation a stale translation is still permitted (Vol. 3A §4.10.4.3)', () => {
    const { m, loads } = staleTlb(0);
    expect(loads(m)).toEqual(new Set([0x2e3, 0x01d]));
  });
  it('CPL 0: loads CR3 and invalidates the TLB (Vol. 3A §4.10.4.1: MOV to CR3 invalidates all non-global TLB entries)', () => {
    const { m, loads } = staleTlb(0);
    const r = step(m, { kind: 'movToCr3', value: 0 });
    expectRetired(r);
    expect(r.machine.cpu.cr3).toBe(0);
    expect(loads(r.machine)).toEqual(new Set([0x2e3]));
  });
  it('CPL 3: #GP(0) if CPL ≠ 0; CR3 unchanged and nothing invalidated', () => {
    const { m, loads } = staleTlb(3);
    const r = step(m, { kind: 'movToCr3', value: 0x0000_5000 });
    expectGp0(r);
    expect(r.machine.cpu.cr3).toBe(0);
    expect(loads(r.machine)).toEqual(new Set([0x2e3, 0x01d]));
  });
  privilegedAtEveryOtherCpl({ kind: 'movToCr3', value: 0 });
});

describeOp('movFromCr', 'privileged (SDM Vol. 2 MOV—Move to/from Control Registers: #GP(0) if CPL ≠ 0)', () => {
  it('CPL 0: reads CR0 = 0x80010011 (PE|ET|WP|PG) and CR3 = 0', () => {
    const m = withRegs(at(0), [1, 1, 1, 1]);
    expect(step(m, { kind: 'movFromCr', dst: 0, cr: 0 }).machine.cpu.regs[0]).toBe(0x8001_0011);
    expect(step(m, { kind: 'movFromCr', dst: 0, cr: 3 }).machine.cpu.regs[0]).toBe(0);
  });
  it('CPL 0: reads CR2 = the linear address of the last #PF (Vol. 3A §4.7)', () => {
    // A CPL-3 load of the supervisor page faults; the handler then runs at CPL 0.
    const va = linear(0, 1, 7);
    const faulted = step(at(3), { kind: 'load', dst: 0, va });
    expect(faulted.outcome.status).toBe('faulted');
    const r = step(faulted.machine, { kind: 'movFromCr', dst: 2, cr: 2 });
    expectRetired(r);
    expect(r.machine.cpu.regs[2]).toBe(va);
  });
  for (const cr of [0, 2, 3] as const)
    it(`CPL 3: MOV r32, CR${cr} raises #GP(0); the destination is unchanged`, () => {
      const r = step(withRegs(at(3), [0xaaaa_aaaa, 0, 0, 0]), { kind: 'movFromCr', dst: 0, cr });
      expectGp0(r);
      expect(r.machine.cpu.regs[0]).toBe(0xaaaa_aaaa);
    });
  privilegedAtEveryOtherCpl({ kind: 'movFromCr', dst: 0, cr: 0 });
});

describeOp('clts', 'privileged (SDM Vol. 2 CLTS: #GP(0) if CPL ≠ 0)', () => {
  it('CPL 0: clears CR0.TS and nothing else', () => {
    const r = step(withCr0(at(0), 0x8001_0019), { kind: 'clts' });
    expectRetired(r);
    expect(r.machine.cpu.cr0).toBe(0x8001_0011);
  });
  it('CPL 3: #GP(0); CR0.TS stays set', () => {
    const r = step(withCr0(at(3), 0x8001_0019), { kind: 'clts' });
    expectGp0(r);
    expect(r.machine.cpu.cr0).toBe(0x8001_0019);
  });
  privilegedAtEveryOtherCpl({ kind: 'clts' });
});

describeOp('invlpg', 'privileged (SDM Vol. 2 INVLPG: #GP(0) if CPL ≠ 0)', () => {
  it('CPL 0: invalidates the page, so only the current translation remains permitted (Vol. 3A §4.10.4.1)', () => {
    const { m, loads } = staleTlb(0);
    const r = step(m, { kind: 'invlpg', va: USER_VA });
    expectRetired(r);
    expect(loads(r.machine)).toEqual(new Set([0x2e3]));
  });
  it('CPL 3: #GP(0); the stale translation is still permitted', () => {
    const { m, loads } = staleTlb(3);
    const r = step(m, { kind: 'invlpg', va: USER_VA });
    expectGp0(r);
    expect(loads(r.machine)).toEqual(new Set([0x2e3, 0x01d]));
  });
  privilegedAtEveryOtherCpl({ kind: 'invlpg', va: USER_VA });
});

describeOp('cli', 'IOPL-sensitive (SDM Vol. 2 CLI: IF := 0 if IOPL ≥ CPL, else #GP(0) with CR4.PVI = 0)', () => {
  it('CPL 0, IOPL 0: clears IF', () => {
    const r = step(at(0, F.IF), { kind: 'cli' });
    expectRetired(r);
    expect(r.machine.cpu.eflags).toBe(F.R1);
  });
  it('CPL 3, IOPL 0: #GP(0)', () => {
    expectGp0(step(at(3, F.IF), { kind: 'cli' }));
  });
  it('CPL 3, IOPL 3: clears IF without an exception', () => {
    const r = step(at(3, F.IF | F.IOPL3), { kind: 'cli' });
    expectRetired(r);
    expect(r.machine.cpu.eflags).toBe(F.R1 | F.IOPL3);
    expect(r.machine.cpu.cpl).toBe(3);
  });
});

describeOp('sti', 'IOPL-sensitive, with the interrupt shadow (SDM Vol. 2 STI)', () => {
  it('CPL 0, IOPL 0: sets IF', () => {
    const r = step(at(0), { kind: 'sti' });
    expectRetired(r);
    expect(r.machine.cpu.eflags).toBe(F.R1 | F.IF);
  });
  it('CPL 3, IOPL 0: #GP(0) (IOPL < CPL, CR4.PVI = 0); IF stays 0', () => {
    const r = step(at(3), { kind: 'sti' });
    expectGp0(r);
    expect(r.machine.cpu.eflags & F.IF).toBe(0);
  });
  it('CPL 3, IOPL 3: sets IF without an exception', () => {
    const r = step(at(3, F.IOPL3), { kind: 'sti' });
    expectRetired(r);
    expect(r.machine.cpu.eflags).toBe(F.R1 | F.IF | F.IOPL3);
  });
  for (const [cpl, flags] of [
    [0, 0],
    [3, F.IOPL3],
  ] as const)
    it(`STI shadow at CPL ${cpl}: "if IF = 0, maskable hardware interrupts remain inhibited on the instruction boundary following STI" — a pending timer is taken after the next instruction`, () => {
      const pendingTimer = step(at(cpl, flags), { kind: 'timer' });
      expect(pendingTimer.outcome).toEqual({ status: 'event', events: [] }); // IF = 0: held pending
      const afterSti = step(pendingTimer.machine, { kind: 'sti' });
      expectRetired(afterSti); // not delivered on the boundary right after STI
      expect(afterSti.machine.cpu.pending).toEqual([TIMER]);
      const next = step(afterSti.machine, { kind: 'movImm', dst: 1, imm: 7 });
      expect(next.outcome).toEqual({ status: 'retired', events: [{ vector: TIMER, source: 'external' }] });
      expect(next.machine.cpu.regs[1]).toBe(7); // the shadowed instruction completed first
      expect(next.machine.cpu.cpl).toBe(0);
      expect(next.machine.cpu.pending).toEqual([]);
    });
  it('STI shadow at CPL 0: a timer that arrives between STI and the next instruction also waits for that instruction', () => {
    const afterSti = step(at(0), { kind: 'sti' });
    expectRetired(afterSti);
    const tick = step(afterSti.machine, { kind: 'timer' });
    expect(tick.outcome).toEqual({ status: 'event', events: [] });
    expect(tick.machine.cpu.pending).toEqual([TIMER]);
    const next = step(tick.machine, { kind: 'movImm', dst: 0, imm: 3 });
    expect(next.outcome).toEqual({ status: 'retired', events: [{ vector: TIMER, source: 'external' }] });
  });
  it('no shadow when IF was already 1: STI at IF=1 leaves a pending-free machine that takes the next timer at once', () => {
    const afterSti = step(at(0, F.IF), { kind: 'sti' });
    expectRetired(afterSti);
    const tick = step(afterSti.machine, { kind: 'timer' });
    expect(tick.outcome).toEqual({ status: 'event', events: [{ vector: TIMER, source: 'external' }] });
  });
});

describeOp('hlt', 'privileged (SDM Vol. 2 HLT: #GP(0) if CPL ≠ 0)', () => {
  it('CPL 0: halts; a halted processor executes no instruction', () => {
    const r = step(at(0, F.IF), { kind: 'hlt' });
    expectRetired(r);
    expect(r.machine.cpu.run).toBe('halted');
    const again = step(r.machine, { kind: 'movImm', dst: 0, imm: 1 });
    expect(again.outcome.status).toBe('halted');
    expect(again.machine.cpu.regs[0]).toBe(0);
  });
  it('CPL 0, IF=1: the timer interrupt wakes HLT ("an enabled interrupt ... resumes execution") and is delivered', () => {
    const halted = step(at(0, F.IF), { kind: 'hlt' }).machine;
    const r = step(halted, { kind: 'timer' });
    expect(r.outcome).toEqual({ status: 'event', events: [{ vector: TIMER, source: 'external' }] });
    expect(r.machine.cpu.run).toBe('running');
    expect(r.machine.cpu.eflags & F.IF).toBe(0); // through an interrupt gate
  });
  it('CPL 0, IF=0: the timer stays pending and the processor stays halted (a masked interrupt does not wake HLT)', () => {
    const halted = step(at(0), { kind: 'hlt' }).machine;
    const r = step(halted, { kind: 'timer' });
    expect(r.outcome).toEqual({ status: 'event', events: [] });
    expect(r.machine.cpu.run).toBe('halted');
    expect(r.machine.cpu.pending).toEqual([TIMER]);
  });
  it('CPL 3: #GP(0); the processor does not halt', () => {
    const r = step(at(3, F.IF), { kind: 'hlt' });
    expectGp0(r);
    expect(r.machine.cpu.run).toBe('running');
  });
  privilegedAtEveryOtherCpl({ kind: 'hlt' });
  it('CPL 0: the "STI; HLT" idiom — a timer pending under IF=0 wakes the processor right after HLT (the shadow covers HLT)', () => {
    const pendingTimer = step(at(0), { kind: 'timer' }).machine;
    const afterSti = step(pendingTimer, { kind: 'sti' });
    expectRetired(afterSti);
    const r = step(afterSti.machine, { kind: 'hlt' });
    expect(r.outcome).toEqual({ status: 'retired', events: [{ vector: TIMER, source: 'external' }] });
    expect(r.machine.cpu.run).toBe('running');
  });
});

/** Memory holding a 6-byte pseudo-descriptor (limit 0x0456, base 0x89AB_CDEF) at USER_VA. */
const withPseudoDescriptor = (m: Machine): Machine => ({
  ...m,
  memory: writeWord(writeWord(m.memory, USER_PA, 0xcdef_0456), USER_PA + 4, 0xffff_89ab),
});

describeOp('lgdt', 'privileged (SDM Vol. 2 LGDT/LIDT: #GP(0) if CPL ≠ 0)', () => {
  it('CPL 0: loads GDTR from the 6-byte operand: 16-bit limit, then a 32-bit base (32-bit operand size)', () => {
    const r = step(withPseudoDescriptor(at(0)), { kind: 'lgdt', va: USER_VA });
    expectRetired(r);
    expect(r.machine.cpu.gdtr).toEqual({ base: 0x89ab_cdef, limit: 0x0456 });
  });
  it('CPL 3: #GP(0); GDTR unchanged (boot: base 0x00C03000)', () => {
    const r = step(withPseudoDescriptor(at(3)), { kind: 'lgdt', va: USER_VA });
    expectGp0(r);
    expect(r.machine.cpu.gdtr.base).toBe(0x00c0_3000);
  });
  privilegedAtEveryOtherCpl({ kind: 'lgdt', va: USER_VA });
});

describeOp('lidt', 'privileged (SDM Vol. 2 LGDT/LIDT: #GP(0) if CPL ≠ 0)', () => {
  it('CPL 0: loads IDTR from the 6-byte operand', () => {
    const r = step(withPseudoDescriptor(at(0)), { kind: 'lidt', va: USER_VA });
    expectRetired(r);
    expect(r.machine.cpu.idtr).toEqual({ base: 0x89ab_cdef, limit: 0x0456 });
  });
  it('CPL 3: #GP(0); IDTR unchanged (boot: base 0x00C03800, limit 0x7FF)', () => {
    const r = step(withPseudoDescriptor(at(3)), { kind: 'lidt', va: USER_VA });
    expectGp0(r);
    expect(r.machine.cpu.idtr).toEqual({ base: 0x00c0_3800, limit: 0x7ff });
  });
  privilegedAtEveryOtherCpl({ kind: 'lidt', va: USER_VA });
});

describeOp('lldt', 'privileged, with descriptor checks (SDM Vol. 2 LLDT)', () => {
  it('CPL 0: a null selector marks LDTR invalid; LLDT 0x30 then loads the LDT (base 0x00C03500, limit 0x0F)', () => {
    const m = withRegs(at(0), [0, SEL.LDT, 0, 0]);
    const nulled = step(m, { kind: 'lldt', src: 0 });
    expectRetired(nulled);
    expect(nulled.machine.cpu.ldtr.selector & 0xfffc).toBe(0);
    const r = step(nulled.machine, { kind: 'lldt', src: 1 });
    expectRetired(r);
    expect(r.machine.cpu.ldtr).toEqual({ selector: 0x30, base: 0x00c0_3500, limit: 0x0f });
  });
  it('CPL 0: a selector that is not an LDT descriptor (the TSS, 0x28) raises #GP(selector) = #GP(0x28)', () => {
    expectException(step(withRegs(at(0), [SEL.TSS, 0, 0, 0]), { kind: 'lldt', src: 0 }), V.GP, 0x28);
  });
  it('CPL 0: a selector with TI=1 ("does not point into the GDT") raises #GP(selector), even if it names an LDT-type descriptor', () => {
    expectException(step(withRegs(at(0), [0x07, 0, 0, 0]), { kind: 'lldt', src: 0 }), V.GP, 0x04);
    // Make LDT entry 1 (selector 0x0C) an LDT descriptor (access 0x82): only the TI rule rejects it.
    const m = at(0);
    const ldtInLdt = { ...m, memory: writeWord(m.memory, SYSTEM_PA + 0x500 + 8 + 4, 0x0000_82c0) };
    expectException(step(withRegs(ldtInLdt, [0x0c, 0, 0, 0]), { kind: 'lldt', src: 0 }), V.GP, 0x0c);
  });
  it('CPL 3: #GP(0) if CPL ≠ 0; LDTR unchanged', () => {
    const r = step(withRegs(at(3), [0, 0, 0, 0]), { kind: 'lldt', src: 0 });
    expectGp0(r);
    expect(r.machine.cpu.ldtr.selector).toBe(0x30);
  });
  privilegedAtEveryOtherCpl({ kind: 'lldt', src: 0 });
  it('CPL 0: "#NP(selector) if the LDT descriptor is not present": access byte 0x02 (P=0) → #NP(0x30)', () => {
    const m = at(0);
    const notPresent = { ...m, memory: writeWord(m.memory, SYSTEM_PA + 0x30 + 4, 0x0000_02c0) };
    expectException(step(withRegs(notPresent, [SEL.LDT, 0, 0, 0]), { kind: 'lldt', src: 0 }), V.NP, 0x30);
  });
});

describeOp('ltr', 'privileged, with descriptor checks (SDM Vol. 2 LTR)', () => {
  // The TSS descriptor's second doubleword in the GDT (entry 5).
  const TSS_HI_PA = SYSTEM_PA + 0x28 + 4;
  it('CPL 0: an available TSS (type 9) is loaded into TR and marked busy (type B) in the GDT', () => {
    let m = at(0);
    expect(readWord(m.memory, TSS_HI_PA)).toBe(0x0000_8bc0); // boot: busy
    m = { ...m, memory: writeWord(m.memory, TSS_HI_PA, 0x0000_89c0) }; // make it available
    m = { ...m, cpu: { ...m.cpu, tr: { selector: 0, base: 0, limit: 0 } } };
    const r = step(withRegs(m, [SEL.TSS, 0, 0, 0]), { kind: 'ltr', src: 0 });
    expectRetired(r);
    expect(r.machine.cpu.tr).toEqual({ selector: 0x28, base: 0x00c0_3400, limit: 0x67 });
    expect(readWord(r.machine.memory, TSS_HI_PA)).toBe(0x0000_8bc0);
  });
  it('CPL 0: LTR 0x68 (available TSS) loads TR and marks it busy; a second LTR 0x68 then raises #GP(0x68)', () => {
    const r = step(withRegs(at(0), [0x68, 0, 0, 0]), { kind: 'ltr', src: 0 });
    expectRetired(r);
    expect(r.machine.cpu.tr).toEqual({ selector: 0x68, base: 0x00c0_3600, limit: 0x67 });
    expect(readWord(r.machine.memory, SYSTEM_PA + 0x68 + 4)).toBe(0x0000_8bc0);
    expectException(step(r.machine, { kind: 'ltr', src: 0 }), V.GP, 0x68);
  });
  it('CPL 0: "#GP(selector) if ... an already busy TSS": LTR 0x28 at boot (busy) raises #GP(0x28)', () => {
    expectException(step(withRegs(at(0), [SEL.TSS, 0, 0, 0]), { kind: 'ltr', src: 0 }), V.GP, 0x28);
  });
  it('CPL 0: "#GP(0) if the source operand contains a NULL segment selector"', () => {
    expectGp0(step(withRegs(at(0), [0, 0, 0, 0]), { kind: 'ltr', src: 0 }));
  });
  it('CPL 0: a selector that is not a TSS (the data segment 0x10) raises #GP(0x10)', () => {
    expectException(step(withRegs(at(0), [SEL.KERNEL_DATA, 0, 0, 0]), { kind: 'ltr', src: 0 }), V.GP, 0x10);
  });
  it('CPL 3: #GP(0) if CPL ≠ 0; TR unchanged', () => {
    const r = step(withRegs(at(3), [SEL.TSS, 0, 0, 0]), { kind: 'ltr', src: 0 });
    expectGp0(r);
    expect(r.machine.cpu.tr.selector).toBe(0x28);
  });
  privilegedAtEveryOtherCpl({ kind: 'ltr', src: 0 });
  it('CPL 0: "#NP(selector) if the TSS is marked not present": available TSS with P=0 (access 0x09) → #NP(0x28)', () => {
    const m = at(0);
    const notPresent = { ...m, memory: writeWord(m.memory, TSS_HI_PA, 0x0000_09c0) };
    expectException(step(withRegs(notPresent, [SEL.TSS, 0, 0, 0]), { kind: 'ltr', src: 0 }), V.NP, 0x28);
  });
});

// SDM Vol. 1 §19.5.1/§19.5.2 (I/O privilege level, I/O permission bit map): at CPL > IOPL the
// processor consults the TSS's I/O bitmap; the boot TSS's I/O map base (0x68) is past its limit
// (0x67), so there is no bitmap and every port is denied.
for (const kind of ['in', 'out'] as const)
  describeOp(
    kind,
    `IOPL-sensitive (SDM Vol. 2 ${kind.toUpperCase()}: #GP(0) if CPL > IOPL and the I/O bitmap denies the port)`,
    () => {
      it('CPL 0, IOPL 0: executes (CPL ≤ IOPL: no bitmap check)', () => {
        const r = step(withRegs(at(0), [0x1234, 0, 0, 0]), { kind, port: 0x60 });
        expectRetired(r);
        // No device decodes a port (README): IN reads all ones; OUT changes no register.
        expect(r.machine.cpu.regs[0]).toBe(kind === 'in' ? 0xffff_ffff : 0x1234);
      });
      it('CPL 3, IOPL 0: #GP(0) (no I/O permission bitmap: the map base lies beyond the TSS limit)', () => {
        const r = step(withRegs(at(3), [0x1234, 0, 0, 0]), { kind, port: 0x60 });
        expectGp0(r);
        expect(r.machine.cpu.regs[0]).toBe(0x1234);
      });
      it('CPL 3, IOPL 3: executes (CPL ≤ IOPL)', () => {
        const r = step(withRegs(at(3, F.IOPL3), [0x1234, 0, 0, 0]), { kind, port: 0x60 });
        expectRetired(r);
        expect(r.machine.cpu.cpl).toBe(3);
      });
    },
  );

for (const [kind, reg] of [
  ['sgdt', 'gdtr'],
  ['sidt', 'idtr'],
] as const)
  describeOp(kind, `not privileged (SDM Vol. 2 ${kind.toUpperCase()}; CR4.UMIP = 0)`, () => {
    // Bytes: limit[7:0] limit[15:8] base[7:0] base[15:8] | base[23:16] base[31:24]; the two
    // bytes after the 6-byte operand keep their old value (0xEEEE).
    const table = { base: 0x1234_5678, limit: 0xabcd };
    const prepared = (cpl: Cpl) => {
      const m = at(cpl);
      return { ...m, memory: writeWord(m.memory, USER_PA + 4, 0xeeee_0000), cpu: { ...m.cpu, [reg]: table } };
    };
    for (const cpl of [0, 3] as const)
      it(`CPL ${cpl}: stores the ${reg.toUpperCase()} image (limit then 32-bit base) without an exception`, () => {
        const r = step(prepared(cpl), { kind, va: USER_VA });
        expectRetired(r);
        expect(readWord(r.machine.memory, USER_PA)).toBe(0x5678_abcd);
        expect(readWord(r.machine.memory, USER_PA + 4)).toBe(0xeeee_1234);
      });
    it('CPL 3: the store is a user-mode write: to a supervisor page it raises #PF(7) (Vol. 3A §4.6, §4.7)', () => {
      // (On the boot GDTR/IDTR: the #PF is delivered through them.)
      const r = step(at(3), { kind, va: SUPERVISOR_VA });
      expectException(r, V.PF, 0b111);
      expect(r.machine.cpu.cr2).toBe(SUPERVISOR_VA);
      expect(readWord(r.machine.memory, SUPERVISOR_PA)).toBe(0);
    });
  });

for (const [kind, value, what] of [
  ['sldt', 0x30, 'LDTR'],
  ['str', 0x28, 'TR'],
] as const)
  describeOp(kind, `not privileged (SDM Vol. 2 ${kind.toUpperCase()})`, () => {
    for (const cpl of [0, 3] as const)
      it(`CPL ${cpl}: stores the ${what} selector (0x${value.toString(16)}); with a 32-bit register the high 16 bits are cleared (P6 and later)`, () => {
        const r = step(withRegs(at(cpl), [0xffff_ffff, 0, 0, 0]), { kind, dst: 0 });
        expectRetired(r);
        expect(r.machine.cpu.regs[0]).toBe(value);
      });
  });

describeOp('smsw', 'not privileged (SDM Vol. 2 SMSW; CR4.UMIP = 0)', () => {
  for (const cpl of [0, 3] as const)
    it(`CPL ${cpl}: stores CR0[15:0] (PE|ET|TS = 0x0019 here) into a 16-bit register, leaving bits 31:16 unchanged`, () => {
      const m = withCr0(withRegs(at(cpl), [0xabcd_ffff, 0, 0, 0]), 0x8001_0019);
      const r = step(m, { kind: 'smsw', dst: 0 });
      expectRetired(r);
      expect(r.machine.cpu.regs[0]).toBe(0xabcd_0019);
    });
});

describeOp('pushf', 'not privileged outside virtual-8086 mode (SDM Vol. 2 PUSHF/PUSHFD)', () => {
  it('CPL 0: pushes EFLAGS (IF=1, IOPL 0 → 0x00000202)', () => {
    const r = step(at(0, F.IF), { kind: 'pushf', dst: 1 });
    expectRetired(r);
    expect(r.machine.cpu.regs[1]).toBe(0x0000_0202);
  });
  it('CPL 3: pushes EFLAGS without an exception, revealing IF and IOPL (IF=1, IOPL 3 → 0x00003202)', () => {
    const r = step(at(3, F.IF | F.IOPL3), { kind: 'pushf', dst: 1 });
    expectRetired(r);
    expect(r.machine.cpu.regs[1]).toBe(0x0000_3202);
  });
});

// Every modelled flag set in the image, with TF, NT, RF, VM, VIF, VIP clear (outside the subset).
const ALL_FLAGS = F.CF | F.PF | F.AF | F.ZF | F.SF | F.IF | F.DF | F.OF | F.IOPL3 | F.AC | F.ID;
const STATUS_DF_AC_ID = F.CF | F.PF | F.AF | F.ZF | F.SF | F.DF | F.OF | F.AC | F.ID;

describeOp('popf', 'IF and IOPL depend on CPL and IOPL (SDM Vol. 2 POPF/POPFD, Operation)', () => {
  it('CPL 0: all non-reserved flags except RF, VIP, VIF, VM are loaded, IF and IOPL included: image 0xFFE4BEFF → 0x00243ED7', () => {
    // 0xFFFFFFFF without TF/NT/RF/VM/VIF/VIP; reserved bits 3, 5, 15, 22–31 keep 0, bit 1 stays 1.
    const r = step(at(0), { kind: 'popf', image: 0xffe4_beff });
    expectRetired(r);
    expect(r.machine.cpu.eflags).toBe(0x0024_3ed7);
    expect(r.machine.cpu.eflags).toBe(F.R1 | ALL_FLAGS);
  });
  it('CPL 3, IOPL 0 (CPL > IOPL): "IF, IOPL ... are unaffected", and no exception — image 0xFFE4BEFF → 0x00240CD7', () => {
    const r = step(at(3), { kind: 'popf', image: 0xffe4_beff });
    expectRetired(r);
    expect(r.machine.cpu.eflags).toBe(0x0024_0cd7);
    expect(r.machine.cpu.eflags).toBe(F.R1 | STATUS_DF_AC_ID);
  });
  it('CPL 3, IOPL 0: clearing IF is silently ignored too (IF stays 1)', () => {
    const r = step(at(3, F.IF), { kind: 'popf', image: F.CF });
    expectRetired(r);
    expect(r.machine.cpu.eflags).toBe(F.R1 | F.IF | F.CF);
  });
  it('CPL 3, IOPL 3 (CPL ≤ IOPL, CPL > 0): IF is loaded, IOPL is not (an image with IOPL 0 leaves IOPL 3)', () => {
    const set = step(at(3, F.IOPL3), { kind: 'popf', image: F.IF | F.ZF });
    expectRetired(set);
    expect(set.machine.cpu.eflags).toBe(F.R1 | F.IOPL3 | F.IF | F.ZF);
    const clear = step(set.machine, { kind: 'popf', image: 0 });
    expect(clear.machine.cpu.eflags).toBe(F.R1 | F.IOPL3);
  });
  it('CPL 1, IOPL 1: IF is loaded; IOPL is not (only CPL 0 changes IOPL)', () => {
    const r = step(bootMachine({ cpl: 1, eflags: F.IOPL1 }), { kind: 'popf', image: F.IF | F.IOPL3 });
    expectRetired(r);
    expect(r.machine.cpu.eflags).toBe(F.R1 | F.IOPL1 | F.IF);
  });
});

describeOp('movFromCs', 'not privileged (SDM Vol. 2 MOV r32, Sreg)', () => {
  for (const [cpl, cs] of [
    [0, 0x08],
    [3, 0x1b],
  ] as const)
    it(`CPL ${cpl}: reads CS = 0x${cs.toString(16)} (its RPL is the CPL, Vol. 3A §5.5); the high 16 bits are zeroed (P6 and later)`, () => {
      const r = step(withRegs(at(cpl), [0xffff_ffff, 0, 0, 0]), { kind: 'movFromCs', dst: 0 });
      expectRetired(r);
      expect(r.machine.cpu.regs[0]).toBe(cs);
    });
});

// ---------------------------------------------------------------------------------------------
// LAR, LSL, VERR, VERW against the boot GDT and LDT. The expected results are hand-written per
// selector from the descriptor table in the header comment and the SDM instruction pages:
// - LAR/LSL: ZF=1 unless the selector is null or past the table limit, the type is invalid for
//   the instruction (LAR: code/data and system types 1,2,3,4,5,9,B,C; LSL: code/data and 1,2,3,9,B),
//   or, for a segment that is not conforming code, DPL < CPL or DPL < RPL. The P flag is not checked.
//   LAR returns the second doubleword AND 00FxFF00H (bits 19:16 undefined); LSL the limit scaled
//   by G (flat segments: 0xFFFFF with G=1 → 0xFFFFFFFF).
// - VERR: code/data only; readable (data, or code with R=1); DPL ≥ CPL and ≥ RPL unless conforming
//   code. VERW: a writable data segment with DPL ≥ CPL and ≥ RPL. P is not among the conditions.

interface Row {
  readonly sel: number;
  readonly what: string;
  readonly lar?: number; // LAR result with bits 19:16 masked out, when ZF=1 at CPL 0
  readonly limit?: number; // LSL result, when ZF=1 at CPL 0
  /** Expected ZF at CPL 0 and at CPL 3: [LAR, LSL, VERR, VERW]. */
  readonly cpl0: readonly [0 | 1, 0 | 1, 0 | 1, 0 | 1];
  readonly cpl3: readonly [0 | 1, 0 | 1, 0 | 1, 0 | 1];
}
const FLAT = 0xffff_ffff;
// biome-ignore format: one selector per line reads as the table it is
const ROWS: readonly Row[] = [
  { sel: 0x00, what: 'null selector', cpl0: [0, 0, 0, 0], cpl3: [0, 0, 0, 0] },
  { sel: 0x03, what: 'null selector with RPL 3', cpl0: [0, 0, 0, 0], cpl3: [0, 0, 0, 0] },
  { sel: 0xff8, what: 'GDT index 511, past the GDT limit', cpl0: [0, 0, 0, 0], cpl3: [0, 0, 0, 0] },
  { sel: 0x08, what: 'ring-0 code, readable', lar: 0x00c0_9b00, limit: FLAT, cpl0: [1, 1, 1, 0], cpl3: [0, 0, 0, 0] },
  { sel: 0x0b, what: 'ring-0 code with RPL 3 (RPL > DPL)', cpl0: [0, 0, 0, 0], cpl3: [0, 0, 0, 0] },
  { sel: 0x10, what: 'ring-0 data, writable', lar: 0x00c0_9300, limit: FLAT, cpl0: [1, 1, 1, 1], cpl3: [0, 0, 0, 0] },
  { sel: 0x13, what: 'ring-0 data with RPL 3 (RPL > DPL)', cpl0: [0, 0, 0, 0], cpl3: [0, 0, 0, 0] },
  { sel: 0x1b, what: 'ring-3 code, readable', lar: 0x00c0_fb00, limit: FLAT, cpl0: [1, 1, 1, 0], cpl3: [1, 1, 1, 0] },
  { sel: 0x23, what: 'ring-3 data, writable', lar: 0x00c0_f300, limit: FLAT, cpl0: [1, 1, 1, 1], cpl3: [1, 1, 1, 1] },
  { sel: 0x28, what: 'busy 32-bit TSS (system type B)', lar: 0x0000_8b00, limit: 0x67, cpl0: [1, 1, 0, 0], cpl3: [0, 0, 0, 0] },
  { sel: 0x68, what: 'available 32-bit TSS (system type 9)', lar: 0x0000_8900, limit: 0x67, cpl0: [1, 1, 0, 0], cpl3: [0, 0, 0, 0] },
  { sel: 0x30, what: 'LDT (system type 2)', lar: 0x0000_8200, limit: 0x0f, cpl0: [1, 1, 0, 0], cpl3: [0, 0, 0, 0] },
  { sel: 0x39, what: 'ring-1 code', lar: 0x00c0_bb00, limit: FLAT, cpl0: [1, 1, 1, 0], cpl3: [0, 0, 0, 0] },
  { sel: 0x41, what: 'ring-1 data', lar: 0x00c0_b300, limit: FLAT, cpl0: [1, 1, 1, 1], cpl3: [0, 0, 0, 0] },
  { sel: 0x48, what: 'ring-0 conforming code, readable (privilege check waived)', lar: 0x00c0_9f00, limit: FLAT, cpl0: [1, 1, 1, 0], cpl3: [1, 1, 1, 0] },
  { sel: 0x4b, what: 'ring-0 conforming code with RPL 3 (waived)', lar: 0x00c0_9f00, limit: FLAT, cpl0: [1, 1, 1, 0], cpl3: [1, 1, 1, 0] },
  { sel: 0x53, what: 'ring-3 read-only data', lar: 0x00c0_f100, limit: FLAT, cpl0: [1, 1, 1, 0], cpl3: [1, 1, 1, 0] },
  { sel: 0x5b, what: 'ring-3 execute-only code', lar: 0x00c0_f900, limit: FLAT, cpl0: [1, 1, 0, 0], cpl3: [1, 1, 0, 0] },
  { sel: 0x60, what: 'ring-0 data, not present (P is not checked)', lar: 0x00c0_1300, limit: FLAT, cpl0: [1, 1, 1, 1], cpl3: [0, 0, 0, 0] },
  { sel: 0x07, what: 'LDT entry 0: ring-3 data', lar: 0x00c0_f300, limit: FLAT, cpl0: [1, 1, 1, 1], cpl3: [1, 1, 1, 1] },
  { sel: 0x0c, what: 'LDT entry 1: ring-0 data', lar: 0x00c0_9300, limit: FLAT, cpl0: [1, 1, 1, 1], cpl3: [0, 0, 0, 0] },
];
const CHECKS = ['lar', 'lsl', 'verr', 'verw'] as const;
const SENTINEL = 0x5a5a_5a5a; // destination before LAR/LSL: must survive a failed check

const descriptorCheck = (kind: (typeof CHECKS)[number], cpl: Cpl, sel: number, zfBefore: boolean) => {
  const m = withRegs(at(cpl, zfBefore ? F.ZF : 0), [sel, SENTINEL, 0, 0]);
  const op: Op = kind === 'lar' || kind === 'lsl' ? { kind, dst: 1, src: 0 } : { kind, src: 0 };
  return { canonical: step(m, op), all: permitted(m, op) };
};

for (const [i, kind] of CHECKS.entries()) {
  const page = {
    lar: 'LAR—Load Access Rights Byte',
    lsl: 'LSL—Load Segment Limit',
    verr: 'VERR/VERW—Verify a Segment for Reading',
    verw: 'VERR/VERW—Verify a Segment for Writing',
  }[kind];
  describeOp(kind, `not privileged; checks DPL against CPL and RPL (SDM Vol. 2 ${page})`, () => {
    for (const cpl of [0, 3] as const)
      for (const row of ROWS) {
        const zf = (cpl === 0 ? row.cpl0 : row.cpl3)[i]!;
        it(`CPL ${cpl}, selector 0x${row.sel.toString(16).padStart(2, '0')} (${row.what}): ZF=${zf}`, () => {
          // Start with ZF opposite to the expectation so that the instruction must write it.
          const { canonical, all } = descriptorCheck(kind, cpl, row.sel, zf === 0);
          // Never an exception: the descriptor tables are read by implicit supervisor-mode
          // accesses even at CPL 3 (Vol. 3A §4.6), and failed checks only clear ZF.
          for (const s of [canonical, ...all]) {
            expectRetired(s);
            expect(s.machine.cpu.cpl).toBe(cpl);
            expect((s.machine.cpu.eflags & F.ZF) !== 0).toBe(zf === 1);
            const dst = s.machine.cpu.regs[1];
            if (kind === 'verr' || kind === 'verw' || zf === 0) expect(dst).toBe(SENTINEL);
            else if (kind === 'lsl') expect(dst).toBe(row.limit);
            // LAR: bits 19:16 are undefined; every other bit is fixed.
            else expect((dst & ~0x000f_0000) >>> 0).toBe(row.lar);
          }
        });
      }
  });
}

// ---------------------------------------------------------------------------------------------

describeOp('int', 'INT n: gate DPL checked against CPL; delivery per SDM Vol. 2 INT n and Vol. 3A §6.12', () => {
  it('CPL 3, IF=1: INT 0x80 (DPL-3 interrupt gate) enters the handler at CPL 0 in CS 0x08 and clears IF', () => {
    const r = step(at(3, F.IF), { kind: 'int', vector: USER_INT_VECTORS.INTERRUPT_GATE });
    expect(r.outcome).toEqual({ status: 'retired', events: [{ vector: 0x80, source: 'software' }] });
    expect(r.machine.cpu.cpl).toBe(0);
    expect(r.machine.cpu.cs).toBe(KERNEL_CS);
    expect(r.machine.cpu.eflags & F.IF).toBe(0);
  });
  it('CPL 3, IF=1: INT 0x81 (DPL-3 trap gate) enters at CPL 0 and leaves IF set (§6.12.1.3: a trap gate does not clear IF)', () => {
    const r = step(at(3, F.IF), { kind: 'int', vector: USER_INT_VECTORS.TRAP_GATE });
    expect(r.outcome).toEqual({ status: 'retired', events: [{ vector: 0x81, source: 'software' }] });
    expect(r.machine.cpu.cpl).toBe(0);
    expect(r.machine.cpu.cs).toBe(KERNEL_CS);
    expect(r.machine.cpu.eflags & F.IF).toBe(F.IF);
  });
  for (const cpl of [0, 3] as const)
    it(`CPL ${cpl}: INT 0x82 (gate not present) raises #NP(vector·8 + 2) = #NP(0x412) (IDT bit set, EXT = 0)`, () => {
      expectException(step(at(cpl, F.IF), { kind: 'int', vector: USER_INT_VECTORS.NOT_PRESENT }), V.NP, 0x412);
    });
  for (const [vector, code] of [
    [0x20, 0x102],
    [0x0e, 0x72],
    [0x0d, 0x6a],
  ] as const)
    it(`CPL 3: INT 0x${vector.toString(16)} to a DPL-0 gate: "gate DPL < CPL" raises #GP(vector·8 + 2) = #GP(0x${code.toString(16)})`, () => {
      expectException(step(at(3, F.IF), { kind: 'int', vector }), V.GP, code);
    });
  it('CPL 0: INT 0x20 to a DPL-0 gate is allowed (DPL ≥ CPL) and clears IF (interrupt gate)', () => {
    const r = step(at(0, F.IF), { kind: 'int', vector: 0x20 });
    expect(r.outcome).toEqual({ status: 'retired', events: [{ vector: 0x20, source: 'software' }] });
    expect(r.machine.cpu.cpl).toBe(0);
    expect(r.machine.cpu.eflags & F.IF).toBe(0);
  });
  it('CPL 0: INT 0x81 (trap gate) keeps IF set', () => {
    const r = step(at(0, F.IF), { kind: 'int', vector: 0x81 });
    expect(r.outcome).toEqual({ status: 'retired', events: [{ vector: 0x81, source: 'software' }] });
    expect(r.machine.cpu.eflags & F.IF).toBe(F.IF);
  });
  it('CPL 0: a vector past the IDT limit raises #GP(vector·8 + 2): IDT limit 0x3FF (vectors 0–127), INT 0x80 → #GP(0x402)', () => {
    const m = at(0, F.IF);
    const short = { ...m, cpu: { ...m.cpu, idtr: { ...m.cpu.idtr, limit: 0x3ff } } };
    expectException(step(short, { kind: 'int', vector: 0x80 }), V.GP, 0x402);
  });
});

describeOp('iret', 'protected-mode return (SDM Vol. 2 IRET/IRETD, PROTECTED-MODE-RETURN)', () => {
  it('CPL 0 → 0x1B: return to an outer level; CPL := CS.RPL = 3; at CPL 0 IF and IOPL are loaded from the image', () => {
    const r = step(at(0), { kind: 'iret', cs: SEL.USER_CODE, eflags: F.IF | F.IOPL3 | F.CF });
    expectRetired(r);
    expect(r.machine.cpu.cpl).toBe(3);
    expect(r.machine.cpu.cs).toBe(0x1b);
    expect(r.machine.cpu.eflags).toBe(F.R1 | F.IF | F.IOPL3 | F.CF);
  });
  it('CPL 0 → 0x39: return to ring 1 (CPL 1)', () => {
    const r = step(at(0), { kind: 'iret', cs: SEL.RING1_CODE, eflags: F.ZF });
    expectRetired(r);
    expect(r.machine.cpu.cpl).toBe(1);
    expect(r.machine.cpu.cs).toBe(0x39);
    expect(r.machine.cpu.eflags).toBe(F.R1 | F.ZF);
  });
  it('CPL 3, IOPL 0 → 0x1B: "IF CPL ≤ IOPL THEN EFLAGS(IF) := tempEFLAGS" and "IF CPL = 0 THEN EFLAGS(IOPL) := ..." — neither loads, no exception', () => {
    const r = step(at(3), { kind: 'iret', cs: SEL.USER_CODE, eflags: F.IF | F.IOPL3 | F.SF | F.AC });
    expectRetired(r);
    expect(r.machine.cpu.cpl).toBe(3);
    expect(r.machine.cpu.eflags).toBe(F.R1 | F.SF | F.AC);
  });
  it('CPL 3, IOPL 3 → 0x1B: IF is loaded (CPL ≤ IOPL) but IOPL is not (CPL ≠ 0)', () => {
    const r = step(at(3, F.IOPL3), { kind: 'iret', cs: SEL.USER_CODE, eflags: F.IF });
    expectRetired(r);
    expect(r.machine.cpu.eflags).toBe(F.R1 | F.IOPL3 | F.IF);
  });
  it('CPL 3 → 0x08: "return code segment selector RPL < CPL" raises #GP(selector) = #GP(0x08)', () => {
    expectException(step(at(3), { kind: 'iret', cs: SEL.KERNEL_CODE, eflags: 0 }), V.GP, 0x08);
  });
  it('CPL 3 → 0x4B: a conforming code segment with DPL 0 ≤ RPL 3 is accepted; CPL stays 3', () => {
    const r = step(at(3), { kind: 'iret', cs: 0x4b, eflags: 0 });
    expectRetired(r);
    expect(r.machine.cpu.cpl).toBe(3);
    expect(r.machine.cpu.cs).toBe(0x4b);
  });
  it('CPL 0 → 0x18: non-conforming code with DPL 3 ≠ RPL 0 raises #GP(0x18)', () => {
    expectException(step(at(0), { kind: 'iret', cs: 0x18, eflags: 0 }), V.GP, 0x18);
  });
  it('CPL 0 → 0x23: "not a code segment" raises #GP(0x20)', () => {
    expectException(step(at(0), { kind: 'iret', cs: SEL.USER_DATA, eflags: 0 }), V.GP, 0x20);
  });
  it('CPL 3 → 0x0000 or 0x0003: a NULL return selector raises #GP(0)', () => {
    expectGp0(step(at(3), { kind: 'iret', cs: 0, eflags: 0 }));
    expectGp0(step(at(3), { kind: 'iret', cs: 3, eflags: 0 }));
  });
  it('CPL 0 → a not-present code segment raises #NP(selector)', () => {
    // Turn GDT entry 12 (0x60) into a not-present ring-0 code segment: access 0x1B → hi 0x00CF1B00.
    const m = at(0);
    const withCode = { ...m, memory: writeWord(m.memory, SYSTEM_PA + 0x60 + 4, 0x00cf_1b00) };
    expectException(step(withCode, { kind: 'iret', cs: 0x60, eflags: 0 }), V.NP, 0x60);
  });
});

describeOp('ud2', 'raises #UD at every CPL (SDM Vol. 2 UD2)', () => {
  for (const cpl of [0, 3] as const)
    it(`CPL ${cpl}: #UD (vector 6, no error code, Vol. 3A Table 6-1), delivered at CPL 0 in CS 0x08`, () => {
      const r = step(at(cpl, F.IF), { kind: 'ud2' });
      expectException(r, V.UD);
    });
});

describeOp('timer', 'a maskable external interrupt (SDM Vol. 3A §6.8.1, §6.12.1)', () => {
  for (const cpl of [0, 3] as const) {
    it(`CPL ${cpl}, IF=1: delivered through the DPL-0 interrupt gate 0x20 (gate DPL is not checked for external interrupts); CPL 0, CS 0x08, IF cleared`, () => {
      const r = step(at(cpl, F.IF), { kind: 'timer' });
      expect(r.outcome).toEqual({ status: 'event', events: [{ vector: TIMER, source: 'external' }] });
      expect(r.machine.cpu.cpl).toBe(0);
      expect(r.machine.cpu.cs).toBe(KERNEL_CS);
      expect(r.machine.cpu.eflags & F.IF).toBe(0);
      expect(r.machine.cpu.pending).toEqual([]);
    });
    it(`CPL ${cpl}, IF=0: held pending (IF masks maskable interrupts); CPL unchanged; delivered once IF is set`, () => {
      const r = step(at(cpl, F.IOPL3), { kind: 'timer' });
      expect(r.outcome).toEqual({ status: 'event', events: [] });
      expect(r.machine.cpu.cpl).toBe(cpl);
      expect(r.machine.cpu.pending).toEqual([TIMER]);
      // POPF setting IF (allowed: CPL ≤ IOPL 3) opens the window at the next boundary.
      const opened = step(r.machine, { kind: 'popf', image: F.IF | F.IOPL3 });
      expect(opened.outcome).toEqual({ status: 'retired', events: [{ vector: TIMER, source: 'external' }] });
      expect(opened.machine.cpu.cpl).toBe(0);
      expect(iopl(opened.machine.cpu.eflags)).toBe(3);
    });
  }
});

// A device's DMA completion is an event, like the timer: its MSI is a maskable external interrupt
// (SDM Vol. 3A §10.11: an MSI is delivered like any fixed-mode interrupt, §6.8.1 for IF). The
// device here (model/devices.ts) is programmed at CPL 0: 0x40 address, 0x41 data, 0x43 vector,
// 0x42 command START | TO_MEMORY.
describeOp('dmaComplete', 'a device event: its MSI is a maskable external interrupt, whatever the CPL', () => {
  const VECTOR = 0x31;
  const DEST_PA = frames.data(1, 1) * PAGE; // a data frame of the boot layout (model/boot.ts)
  const programmed = (cpl: Cpl, eflags: number): Machine => {
    let m = withRegs(bootMachine({ devices: 1, eflags: F.IOPL3 }), [DEST_PA, 0, 0, 0]);
    for (const [port, value] of [
      [0x40, DEST_PA],
      [0x41, 0xcafe],
      [0x43, VECTOR],
      [0x42, 0b11],
    ] as const) {
      m = step(withRegs(m, [value, 0, 0, 0]), { kind: 'out', port }).machine;
    }
    const cs = cpl === 3 ? 0x1b : KERNEL_CS;
    return { ...m, cpu: { ...m.cpu, cpl, cs, eflags: (eflags | F.R1) >>> 0 } };
  };
  for (const cpl of [0, 3] as const) {
    it(`CPL ${cpl}, IF=1: the word lands, then vector 0x31 is delivered through its DPL-0 gate (CPL 0, IF cleared)`, () => {
      const r = step(programmed(cpl, F.IF), { kind: 'dmaComplete', device: 0 });
      expect(r.outcome).toEqual({ status: 'event', events: [{ vector: VECTOR, source: 'external' }] });
      expect(readWord(r.machine.memory, DEST_PA)).toBe(0xcafe);
      expect(r.machine.cpu.cpl).toBe(0);
      expect(r.machine.cpu.eflags & F.IF).toBe(0);
    });
    it(`CPL ${cpl}, IF=0: the word lands; the vector is held pending and CPL is unchanged`, () => {
      const r = step(programmed(cpl, 0), { kind: 'dmaComplete', device: 0 });
      expect(r.outcome).toEqual({ status: 'event', events: [] });
      expect(readWord(r.machine.memory, DEST_PA)).toBe(0xcafe);
      expect(r.machine.cpu.pending).toEqual([VECTOR]);
      expect(r.machine.cpu.cpl).toBe(cpl);
    });
  }
  it('no device, or an idle one: nothing happens', () => {
    const none = at(0, F.IF);
    expect(step(none, { kind: 'dmaComplete', device: 0 }).machine).toBe(none);
    const idle = bootMachine({ devices: 1, eflags: F.IF });
    expect(step(idle, { kind: 'dmaComplete', device: 0 }).machine).toBe(idle);
  });
});

// A frame from the outside world is an event on the wire (model/ops.ts): the switch decides which
// cards it reaches (properties/network/ideal.ts), so the running machine itself is unchanged at
// any CPL, with or without a network card, and nothing is delivered.
describeOp('frameIn', 'an event on the wire: the running machine is unchanged whatever the CPL', () => {
  for (const cpl of [0, 3] as const) {
    it(`CPL ${cpl}: status event, no delivery, the same machine`, () => {
      const m = at(cpl, F.IF);
      const r = step(m, { kind: 'frameIn', frame: 0x11ff_0001 });
      expect(r.outcome).toEqual({ status: 'event', events: [] });
      expect(r.machine).toBe(m);
    });
  }
});

describe('coverage', () => {
  it('every operation kind in OP_KINDS has a privilege describe block', () => {
    expect([...covered].sort()).toEqual([...OP_KINDS].sort());
  });
});
