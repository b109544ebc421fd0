/**
 * The reference machine's DMA engine (model/devices.ts), by hand. Expected values come from the
 * register layout documented there and from the boot layout (model/boot.ts: frame 0 is the page
 * directory, 1..4 the page tables, 5 the system page, 6.. the data frames, 32 frames installed),
 * and interrupt rules from the SDM: a maskable interrupt waits while EFLAGS.IF = 0 (Vol. 3A
 * §6.8.1), the highest vector is serviced first (§10.8.3.1: priority is the vector's class), one
 * instruction after STI is shadowed (STI).
 */
import { bootMachine, type Machine, type Op, readWord, step, writeWord } from 'hyperprop';
import { describe, expect, it } from 'vitest';

const IF = 1 << 9;
const PAGE = 4096;
const TIMER = 0x20;
// Ports: 0x40 address, 0x41 data, 0x42 command (bit 0 START, bit 1 TO_MEMORY), 0x43 vector (write) / status (read).
const ADDRESS = 0x40;
const DATA = 0x41;
const COMMAND = 0x42;
const VECTOR_STATUS = 0x43;
const STATUS = { BUSY: 1, DONE: 2, ERROR: 4 } as const;

const run = (m: Machine, ops: readonly Op[]) => {
  let x = m;
  const outcomes = [];
  for (const op of ops) {
    const r = step(x, op);
    x = r.machine;
    outcomes.push(r.outcome);
  }
  return { machine: x, outcomes };
};
const out = (port: number, value: number): Op[] => [
  { kind: 'movImm', dst: 0, imm: value },
  { kind: 'out', port },
];
const program = (address: number, data: number, vector: number, command: number): Op[] => [
  ...out(ADDRESS, address),
  ...out(DATA, data),
  ...out(VECTOR_STATUS, vector),
  ...out(COMMAND, command),
];
const readStatus: Op = { kind: 'in', port: VECTOR_STATUS };

const DATA_FRAME = 7; // a data frame of the boot layout
const PA = DATA_FRAME * PAGE + 3 * 4;

describe('the DMA engine at ports 0x40..0x43', () => {
  it('a write to memory: nothing moves until the completion event, then the word lands and DONE is set', () => {
    const m = bootMachine({ devices: 1 });
    const started = run(m, program(PA, 0xcafe_f00d, 0x31, 0b11));
    expect(readWord(started.machine.memory, PA)).toBe(0);
    const busy = step(started.machine, readStatus);
    expect(busy.machine.cpu.regs[0]).toBe(STATUS.BUSY | (0x31 << 8));
    const done = run(started.machine, [{ kind: 'dmaComplete', device: 0 }, readStatus]);
    expect(readWord(done.machine.memory, PA)).toBe(0xcafe_f00d);
    expect(done.machine.cpu.regs[0]).toBe(STATUS.DONE | (0x31 << 8));
    // IF = 0 at boot: the MSI waits.
    expect(done.machine.cpu.pending).toEqual([0x31]);
  });

  it('a read from memory leaves the word in DATA', () => {
    const m = bootMachine({ devices: 1 });
    const seeded: Machine = { ...m, memory: writeWord(m.memory, PA, 0x1234_5678) };
    const r = run(seeded, [...program(PA, 0, 0, 0b01), { kind: 'dmaComplete', device: 0 }, { kind: 'in', port: DATA }]);
    expect(r.machine.cpu.regs[0]).toBe(0x1234_5678);
    expect(readWord(r.machine.memory, PA)).toBe(0x1234_5678);
  });

  it('an address past installed memory reaches nothing: the write is dropped, a read gives all ones, ERROR is set', () => {
    const past = 32 * PAGE; // frame 32: the default geometry installs frames 0..31
    const w = run(bootMachine({ devices: 1 }), [
      ...program(past, 7, 0, 0b11),
      { kind: 'dmaComplete', device: 0 },
      readStatus,
    ]);
    expect(readWord(w.machine.memory, past)).toBe(0);
    expect(w.machine.cpu.regs[0]).toBe(STATUS.DONE | STATUS.ERROR);
    const r = run(bootMachine({ devices: 1 }), [
      ...program(past, 7, 0, 0b01),
      { kind: 'dmaComplete', device: 0 },
      { kind: 'in', port: DATA },
    ]);
    expect(r.machine.cpu.regs[0]).toBe(0xffff_ffff);
  });

  it('START while busy is ignored: the first job completes as latched, once', () => {
    const r = run(bootMachine({ devices: 1 }), [
      ...program(PA, 1, 0, 0b11),
      ...program(PA + 4, 2, 0, 0b11),
      { kind: 'dmaComplete', device: 0 },
      { kind: 'dmaComplete', device: 0 },
    ]);
    expect(readWord(r.machine.memory, PA)).toBe(1);
    expect(readWord(r.machine.memory, PA + 4)).toBe(0);
  });

  it('no device decodes ports past the machine’s devices, and a machine without devices floats high', () => {
    expect(step(bootMachine({ devices: 1 }), { kind: 'in', port: 0x44 }).machine.cpu.regs[0]).toBe(0xffff_ffff);
    expect(step(bootMachine(), { kind: 'in', port: 0x40 }).machine.cpu.regs[0]).toBe(0xffff_ffff);
  });

  it('vectors 0..15 send no interrupt (not valid MSI vectors); the transfer still happens', () => {
    const r = run(bootMachine({ devices: 1, eflags: IF }), [
      ...program(PA, 9, 5, 0b11),
      { kind: 'dmaComplete', device: 0 },
    ]);
    expect(r.outcomes.at(-1)).toEqual({ status: 'event', events: [] });
    expect(readWord(r.machine.memory, PA)).toBe(9);
  });
});

describe('interrupt delivery of a completion', () => {
  it('IF = 1: delivered at the event boundary through its IDT gate', () => {
    const r = run(bootMachine({ devices: 1, eflags: IF }), [
      ...program(PA, 1, 0x31, 0b11),
      { kind: 'dmaComplete', device: 0 },
    ]);
    expect(r.outcomes.at(-1)).toEqual({ status: 'event', events: [{ vector: 0x31, source: 'external' }] });
  });

  it('IF = 0: pending with the timer; STI delivers the highest vector first, after the STI shadow', () => {
    const r = run(bootMachine({ devices: 1 }), [
      ...program(PA, 1, 0x31, 0b11),
      { kind: 'dmaComplete', device: 0 },
      { kind: 'timer' },
    ]);
    expect(r.machine.cpu.pending).toEqual([TIMER, 0x31]);
    const sti = step(r.machine, { kind: 'sti' });
    expect(sti.outcome.events).toEqual([]); // the STI shadow covers the next instruction
    const next = step(sti.machine, { kind: 'movImm', dst: 1, imm: 0 });
    // 0x31 first; its interrupt gate clears IF, so the timer stays pending.
    expect(next.outcome.events).toEqual([{ vector: 0x31, source: 'external' }]);
    expect(next.machine.cpu.pending).toEqual([TIMER]);
  });

  it('a halted CPU is woken by the completion interrupt', () => {
    const r = run(bootMachine({ devices: 1, eflags: IF }), [
      ...program(PA, 1, 0x41, 0b11),
      { kind: 'hlt' },
      { kind: 'dmaComplete', device: 0 },
    ]);
    expect(r.machine.cpu.run).toBe('running');
    expect(r.outcomes.at(-1)?.events).toEqual([{ vector: 0x41, source: 'external' }]);
  });
});
