/**
 * The stack as guest state: the frames exception and interrupt delivery push (SDM Vol. 3A §6.12,
 * Figure 6-4), the stack switch through the TSS (§6.12.1, Figure 7-2), faults while pushing
 * (Table 6-5), the stacks PUSHF, POPF and the `iret` operation use, and the EIP convention
 * (model/encoding.ts). Every expected value is written by hand from the SDM and the documented
 * boot layout; none is read back from the model.
 *
 * Boot facts for the default geometry (4 × 4 window, 32 frames), derived by hand from model/boot.ts:
 * - frames: page directory 0, page tables 1..4, system page 5, data 6..21, kernel stack 22
 *   (physical 0x16000), user stack 23 (physical 0x17000);
 * - the kernel stack page is linear page (3,4) = 0x00C04000 (PTE 4 of the table in frame 4:
 *   0x16003, supervisor), the user stack page (3,5) = 0x00C05000 (PTE 5: 0x17007, user);
 * - the TSS at 0x00C03400 (physical 0x5400): ESP0 0x00C05000 and SS0 0x10, ESP1 0x00C04800 and
 *   SS1 0x41, SS2 null; TR's limit 0x67;
 * - SS:ESP at boot: CPL 0 0x10:0x00C05000, CPL 1 0x41:0x00C04800, CPL 3 0x23:0x00C06000; EIP
 *   0xFFC00000; the IDT's handler for vector v is at 0xFFC01000 + 16v;
 * - GDT: 0x08 ring-0 code, 0x10 ring-0 data, 0x1B ring-3 code, 0x23 ring-3 data, 0x39 ring-1 code,
 *   0x41 ring-1 data (access byte 0xB3 at physical 0x5045), 0x48 ring-0 conforming code; the IDT's
 *   gate v at physical 0x5800 + 8v; gate 0x80 a DPL-3 interrupt gate.
 * Encodings (SDM Vol. 2 opcode tables): MOV r32, imm32 (B8+rd id) 5 bytes; MOV r32, m32 (8B /r,
 * disp32) 6; INT imm8 (CD ib) 2; UD2 (0F 0B) 2; PUSHFD; POP r32 2; PUSH imm32; POPFD 6; MOV ESI,
 * imm32; MOV CR0, ESI 5 + 3; the `iret` operation's five PUSH imm32 and IRETD 26.
 */
import { bootMachine, type Cpl, linear, type Machine, type Op, permitted, readWord, step, writeWord } from 'hyperprop';
import { describe, expect, it } from 'vitest';

const IF = 1 << 9;
const RF = 1 << 16;
const R1 = 1 << 1;
const KSTACK = 0x16000; // physical base of the kernel stack frame
const USTACK = 0x17000;
const TSS = 0x5400;
const IDT = 0x5800;
const GDT = 0x5000;
const BOOT_EIP = 0xffc0_0000;
const handler = (v: number) => 0xffc0_1000 + 16 * v;

const boot = (cpl: Cpl, eflags = 0): Machine => bootMachine({ cpl, eflags });
const word = (m: Machine, pa: number) => readWord(m.memory, pa);
const poke = (m: Machine, pa: number, v: number): Machine => ({ ...m, memory: writeWord(m.memory, pa, v) });
const run = (m: Machine, ops: readonly Op[]): Machine => ops.reduce((x, op) => step(x, op).machine, m);
/** The words at the top of a stack frame, highest first (the order they were pushed). */
const top = (m: Machine, frameTop: number, n: number) =>
  Array.from({ length: n }, (_, i) => word(m, frameTop - 4 * (i + 1)));

describe('the boot layout: stacks in guest memory', () => {
  it('maps the kernel stack supervisor and the user stack user, and the TSS names the ring-0 and ring-1 stacks', () => {
    const m = boot(0);
    expect(word(m, 0x4000 + 4 * 4)).toBe(0x16003);
    expect(word(m, 0x4000 + 5 * 4)).toBe(0x17007);
    expect([word(m, TSS + 4), word(m, TSS + 8), word(m, TSS + 0xc), word(m, TSS + 0x10), word(m, TSS + 0x18)]).toEqual([
      0x00c0_5000, 0x10, 0x00c0_4800, 0x41, 0,
    ]);
  });

  it.each([
    [0, 0x10, 0x00c0_5000],
    [1, 0x41, 0x00c0_4800],
    [3, 0x23, 0x00c0_6000],
  ] as const)('boots CPL %i on SS:ESP %s:%s at EIP 0xFFC00000', (cpl, ss, esp) => {
    const c = boot(cpl).cpu;
    expect([c.ss, c.esp, c.eip]).toEqual([ss, esp, BOOT_EIP]);
  });
});

describe('frames of events delivered to ring 0', () => {
  it('INT 0x80 from CPL 3: switches to SS0:ESP0 and pushes SS, ESP, EFLAGS, CS and the EIP past INT (no RF, no error code)', () => {
    const s = step(boot(3, IF), { kind: 'int', vector: 0x80 });
    expect(s.outcome.status).toBe('retired');
    expect(top(s.machine, KSTACK + 0x1000, 5)).toEqual([0x23, 0x00c0_6000, IF | R1, 0x1b, BOOT_EIP + 2]);
    const c = s.machine.cpu;
    expect([c.cpl, c.cs, c.ss, c.esp, c.eip, c.eflags]).toEqual([0, 0x08, 0x10, 0x00c0_4fec, handler(0x80), R1]);
  });

  it('#PF at CPL 0 stays on the current stack: EFLAGS with RF (a fault), CS, the faulting EIP, the error code', () => {
    // Page (3,6) has no PTE: a supervisor read of a not-present page, error code 0 (SDM §4.7), CR2 its address.
    const s = step(boot(0), { kind: 'load', dst: 0, va: linear(3, 6) });
    expect(s.outcome.events).toEqual([{ vector: 14, source: 'exception', errorCode: 0 }]);
    expect(top(s.machine, KSTACK + 0x1000, 4)).toEqual([R1 | RF, 0x08, BOOT_EIP, 0]);
    const c = s.machine.cpu;
    expect([c.ss, c.esp, c.eip, c.cr2]).toEqual([0x10, 0x00c0_4ff0, handler(14), 0x00c0_6000]);
  });

  it('#PF from CPL 3: the frame on the kernel stack carries the user SS:ESP and error code P|W|U = 7', () => {
    const s = step(boot(3), { kind: 'store', va: linear(3, 3), src: 0 });
    expect(top(s.machine, KSTACK + 0x1000, 6)).toEqual([0x23, 0x00c0_6000, R1 | RF, 0x1b, BOOT_EIP, 7]);
    expect(s.machine.cpu.esp).toBe(0x00c0_4fe8);
  });

  it('the handler reads its frame back with loads: the error code at ESP, then EIP, CS and EFLAGS above it', () => {
    let m = step(boot(3), { kind: 'store', va: linear(3, 3), src: 0 }).machine; // #PF(7) to CPL 0
    m = run(m, [
      { kind: 'load', dst: 0, va: 0x00c0_4fe8 },
      { kind: 'load', dst: 1, va: 0x00c0_4fec },
      { kind: 'load', dst: 2, va: 0x00c0_4ff0 },
      { kind: 'load', dst: 3, va: 0x00c0_4ff4 },
    ]);
    expect(m.cpu.regs).toEqual([7, BOOT_EIP, 0x1b, R1 | RF]);
  });

  it('an external interrupt saves the EIP of the next operation, EFLAGS as it was (IF = 1, no RF), no error code', () => {
    const m = run(boot(0, IF), [{ kind: 'movImm', dst: 0, imm: 1 }]);
    const s = step(m, { kind: 'timer' });
    expect(top(s.machine, KSTACK + 0x1000, 3)).toEqual([IF | R1, 0x08, BOOT_EIP + 5]);
    expect([s.machine.cpu.esp, s.machine.cpu.eip, s.machine.cpu.eflags]).toEqual([0x00c0_4ff4, handler(0x20), R1]);
  });
});

describe('EIP: where each operation lies', () => {
  it('advances by each encoding: two MOV imm32 and INT 0x80 at CPL 0 save 0xFFC0000C (same level: no SS:ESP)', () => {
    const s = step(
      run(boot(0), [
        { kind: 'movImm', dst: 0, imm: 1 },
        { kind: 'movImm', dst: 1, imm: 2 },
      ]),
      { kind: 'int', vector: 0x80 },
    );
    expect(top(s.machine, KSTACK + 0x1000, 3)).toEqual([R1, 0x08, BOOT_EIP + 12]);
    expect(s.machine.cpu.esp).toBe(0x00c0_4ff4);
  });

  it('a fault in the second instruction of an operation saves its address: MOV CR0 at CPL 3 is #GP(0) at +5', () => {
    const s = step(boot(3), { kind: 'movToCr0', value: 0x8001_0011 });
    expect(top(s.machine, KSTACK + 0x1000, 6)).toEqual([0x23, 0x00c0_6000, R1 | RF, 0x1b, BOOT_EIP + 5, 0]);
  });

  it('after a retired operation EIP is past it; after an event, the gate offset', () => {
    expect(step(boot(0), { kind: 'load', dst: 0, va: linear(1, 1) }).machine.cpu.eip).toBe(BOOT_EIP + 6);
    expect(step(boot(0), { kind: 'ud2' }).machine.cpu.eip).toBe(handler(6));
  });
});

describe('PUSHF and POPF use the stack', () => {
  it('PUSHF leaves EFLAGS at ESP-4 and ESP where it was; POPF its image', () => {
    const m = step(boot(0, IF), { kind: 'pushf', dst: 2 }).machine;
    expect([word(m, KSTACK + 0xffc), m.cpu.regs[2], m.cpu.esp]).toEqual([IF | R1, IF | R1, 0x00c0_5000]);
    const n = step(m, { kind: 'popf', image: 0x0000_0ac3 }).machine;
    expect([word(n, KSTACK + 0xffc), n.cpu.esp]).toEqual([0x0000_0ac3, 0x00c0_5000]);
  });

  it('PUSHF at CPL 3 on a read-only user stack page: #PF with error code 7, CR2 = ESP-4, the register unchanged', () => {
    const m = poke(boot(3), 0x4000 + 5 * 4, 0x17005); // the user stack page's PTE without R/W
    const s = step(m, { kind: 'pushf', dst: 1 });
    expect(s.outcome.events).toEqual([{ vector: 14, source: 'exception', errorCode: 7 }]);
    expect([s.machine.cpu.cr2, s.machine.cpu.regs[1]]).toEqual([0x00c0_5ffc, 0]);
    expect(top(s.machine, KSTACK + 0x1000, 6)).toEqual([0x23, 0x00c0_6000, R1 | RF, 0x1b, BOOT_EIP, 7]);
  });
});

describe('the iret operation: five pushes and IRETD', () => {
  it('to ring 3: the frame (SS 0x23, ESP of the user stack, EFLAGS, CS, EIP past the operation) stays below the kernel ESP', () => {
    const m = step(boot(0), { kind: 'iret', cs: 0x1b, eflags: IF | R1 }).machine;
    expect(top(m, KSTACK + 0x1000, 5)).toEqual([0x23, 0x00c0_6000, IF | R1, 0x1b, BOOT_EIP + 26]);
    const c = m.cpu;
    expect([c.cpl, c.cs, c.ss, c.esp, c.eip, c.eflags]).toEqual([3, 0x1b, 0x23, 0x00c0_6000, BOOT_EIP + 26, IF | R1]);
  });

  it('to the same level: pops EIP, CS and EFLAGS only (ESP 20 down, then 12 up)', () => {
    const c = step(boot(0), { kind: 'iret', cs: 0x08, eflags: R1 }).machine.cpu;
    expect([c.cpl, c.ss, c.esp, c.eip]).toEqual([0, 0x10, 0x00c0_4ff8, BOOT_EIP + 26]);
  });

  it("checks the outer stack's SS: not present is #SS(SS), a DPL that is not the RPL #GP(SS)", () => {
    const notPresent = poke(boot(0), GDT + 0x44, word(boot(0), GDT + 0x44) & ~0x8000);
    expect(step(notPresent, { kind: 'iret', cs: 0x39, eflags: R1 }).outcome.events).toEqual([
      { vector: 12, source: 'exception', errorCode: 0x40 },
    ]);
    const dpl0 = poke(boot(0), GDT + 0x44, word(boot(0), GDT + 0x44) & ~0x6000);
    expect(step(dpl0, { kind: 'iret', cs: 0x39, eflags: R1 }).outcome.events).toEqual([
      { vector: 13, source: 'exception', errorCode: 0x40 },
    ]);
    // Ring 2 (through the conforming ring-0 code segment, RPL 2) returns to SS 0x12: DPL 0 ≠ 2.
    expect(step(boot(0), { kind: 'iret', cs: 0x4a, eflags: R1 }).outcome.events).toEqual([
      { vector: 13, source: 'exception', errorCode: 0x10 },
    ]);
  });

  it('a push that faults leaves the pushes before it: the third push of a CPL-3 iret into the kernel stack page', () => {
    // ESP 8 bytes into the user stack page: pushes 1 and 2 land there, push 3 (at +10) hits the
    // supervisor kernel stack page below: #PF, error code 7, CR2 0x00C04FFC, ESP 8 lower.
    const m = { ...boot(3), cpu: { ...boot(3).cpu, esp: 0x00c0_5008 } };
    const s = step(m, { kind: 'iret', cs: 0x1b, eflags: R1 });
    expect([word(s.machine, USTACK + 4), word(s.machine, USTACK)]).toEqual([0x23, 0x00c0_6000]);
    expect(s.machine.cpu.cr2).toBe(0x00c0_4ffc);
    expect(top(s.machine, KSTACK + 0x1000, 6)).toEqual([0x23, 0x00c0_5000, R1 | RF, 0x1b, BOOT_EIP + 10, 7]);
  });
});

describe('faults while pushing a frame (Table 6-5)', () => {
  it('#NP for a not-present #PF gate is a contributory fault after a page fault: #DF, error code 0, no RF (an abort)', () => {
    const m = poke(boot(3), IDT + 14 * 8 + 4, word(boot(3), IDT + 14 * 8 + 4) & ~0x8000);
    const s = step(m, { kind: 'load', dst: 0, va: linear(3, 6) });
    expect(s.outcome.events).toEqual([{ vector: 8, source: 'exception', errorCode: 0 }]);
    expect(top(s.machine, KSTACK + 0x1000, 6)).toEqual([0x23, 0x00c0_6000, R1, 0x1b, BOOT_EIP, 0]);
    expect([s.machine.cpu.eip, s.machine.cpu.cr2]).toEqual([handler(8), 0x00c0_6000]);
  });

  it('a stack with no page under it: #UD, then #PF pushing it, then #DF pushing that, then shutdown', () => {
    const m = { ...boot(0), cpu: { ...boot(0).cpu, esp: 0x00c0_7000 } };
    const s = step(m, { kind: 'ud2' });
    expect(s.outcome.status).toBe('shutdown');
    expect(s.machine.cpu.cr2).toBe(0x00c0_6ffc);
  });

  it("a frame across a page boundary whose lower page faults keeps the upper page's words (pushed one at a time)", () => {
    // ESP0 8 bytes into the user stack page, the kernel stack page (below it) unmapped: INT 0x80
    // from CPL 3 pushes SS and ESP, faults on EFLAGS; the #PF and the #DF fault the same way: shutdown.
    let m = poke(boot(3), TSS + 4, 0x00c0_5008);
    m = poke(m, 0x4000 + 4 * 4, 0);
    const s = step(m, { kind: 'int', vector: 0x80 });
    expect(s.outcome.status).toBe('shutdown');
    expect([word(s.machine, USTACK + 4), word(s.machine, USTACK)]).toEqual([0x23, 0x00c0_6000]);
  });
});

describe('the stack of an inner ring other than 0: SS1:ESP1, and #TS/#SS for a bad one', () => {
  // Gate 0x80 leads to the ring-1 code segment 0x39 (its selector word rewritten).
  const toRing1 = (m: Machine) => poke(m, IDT + 0x80 * 8, (0x39 << 16) | (word(m, IDT + 0x80 * 8) & 0xffff));
  const INT80: Op = { kind: 'int', vector: 0x80 };

  it('INT 0x80 from CPL 3 to ring 1 pushes on SS1:ESP1 (the kernel stack page, 0x800)', () => {
    const s = step(toRing1(boot(3)), INT80);
    expect(top(s.machine, KSTACK + 0x800, 5)).toEqual([0x23, 0x00c0_6000, R1, 0x1b, BOOT_EIP + 2]);
    const c = s.machine.cpu;
    expect([c.cpl, c.cs, c.ss, c.esp]).toEqual([1, 0x39, 0x41, 0x00c0_47ec]);
  });

  it.each([
    ['a null SS1: #TS(0)', (m: Machine) => poke(m, TSS + 0x10, 0), 10, 0],
    ['SS1 with RPL 0: #TS(0x10)', (m: Machine) => poke(m, TSS + 0x10, 0x10), 10, 0x10],
    ['SS1 a code segment: #TS(0x38)', (m: Machine) => poke(m, TSS + 0x10, 0x39), 10, 0x38],
    ['SS1 not present: #SS(0x40)', (m: Machine) => poke(m, GDT + 0x44, word(m, GDT + 0x44) & ~0x8000), 12, 0x40],
    [
      'a TSS too short for SS1 (limit 0x0C < 0x0C + 5): #TS(0x28)',
      (m: Machine) => ({ ...m, cpu: { ...m.cpu, tr: { ...m.cpu.tr, limit: 0x0c } } }),
      10,
      0x28,
    ],
  ] as const)(
    '%s, delivered to ring 0 on SS0:ESP0 with the INT as the faulting instruction',
    (_name, bad, vector, code) => {
      const s = step(bad(toRing1(boot(3))), INT80);
      expect(s.outcome.events).toEqual([{ vector, source: 'exception', errorCode: code }]);
      expect(top(s.machine, KSTACK + 0x1000, 6)).toEqual([0x23, 0x00c0_6000, R1 | RF, 0x1b, BOOT_EIP, code]);
    },
  );

  it('for an event external to the program the error code has EXT set: the timer, SS1 null, #TS(1)', () => {
    let m = poke(boot(3, IF), IDT + 0x20 * 8, (0x39 << 16) | (word(boot(3), IDT + 0x20 * 8) & 0xffff));
    m = poke(m, TSS + 0x10, 0);
    const s = step(m, { kind: 'timer' });
    expect(s.outcome.events).toEqual([{ vector: 10, source: 'exception', errorCode: 1 }]);
  });
});

describe('what the architecture leaves open: a selector pushed into a 32-bit slot', () => {
  it('may keep the slot’s upper half (SDM PUSH): both are permitted, zero-extended first', () => {
    const m = poke(boot(0), KSTACK + 0xff8, 0xabcd_0000); // the CS slot of a same-level frame
    const cs = permitted(m, { kind: 'ud2' }).map((s) => word(s.machine, KSTACK + 0xff8));
    expect([...new Set(cs)]).toEqual([0x0000_0008, 0xabcd_0008]);
  });
});
