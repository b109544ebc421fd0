/**
 * Scenarios with devices: 2 to 4 guests, each booted with one DMA engine (model/devices.ts), and
 * interleaved operations mixing memory, paging, device programming, DMA completions and
 * interrupts. Biased as DESIGN.md §5 asks: device programming comes as the driver writes it
 * (a register value, then the OUT), DMA addresses fall on the guest's data and page-table frames,
 * just past its memory, and on guest-physical addresses that are host addresses of the
 * hypervisor's pages and of other guests' memory (what a device without an IOMMU would hit), and
 * MSI vectors collide with the timer's and with each other.
 */
import fc from 'fast-check';
import type { GuestOp } from '../model/host/run.ts';
import {
  bootFrames,
  bootMachine,
  type Cpl,
  DEFAULT_GEOMETRY,
  DMA_CMD,
  DMA_PORT_BASE,
  DMA_REG,
  EFLAGS,
  type Geometry,
  type Machine,
  type Op,
  type OpKind,
  PAGE_SIZE,
  SEL,
  TIMER_VECTOR,
} from '../model/index.ts';
import { arbOpOfKind } from './reference.ts';

/** How a generated guest starts: CPL and EFLAGS (IF, IOPL). */
export interface IoGuestSpec {
  readonly cpl: Cpl;
  readonly eflags: number;
}

/** Guests and their interleaved operations, as plain data. */
export interface IoScenario {
  readonly geometry: Geometry;
  readonly guests: readonly IoGuestSpec[];
  readonly ops: readonly GuestOp[];
}

/** The machine a spec describes: the standard boot with one idle DMA engine. */
export const bootIoGuest = (spec: IoGuestSpec, g: Geometry = DEFAULT_GEOMETRY): Machine => {
  const m = bootMachine({ geometry: g, devices: 1, eflags: spec.eflags });
  const cs = spec.cpl === 3 ? SEL.USER_CODE : SEL.KERNEL_CODE;
  return { ...m, cpu: { ...m.cpu, cpl: spec.cpl, cs: ((cs & 0xfffc) | spec.cpl) >>> 0 } };
};

/** Guest starts: mostly CPL 0 (where the driver runs), IF on or off, sometimes IOPL 3. */
export const arbIoGuestSpec: fc.Arbitrary<IoGuestSpec> = fc.record({
  cpl: fc.constantFrom<Cpl>(0, 0, 0, 3),
  eflags: fc.constantFrom(EFLAGS.IF, EFLAGS.IF, 0, EFLAGS.IF | EFLAGS.IOPL, EFLAGS.IOPL),
});

/**
 * DMA addresses (guest-physical): the guest's data and page-table frames, just past its memory,
 * and guest-physical addresses equal to host addresses of hypervisor pages (frames 0, 64, 128)
 * and of guests' memory (frame 1024 + 32 k in the default host layout, model/host/layout.ts).
 */
export const arbDmaAddress = (g: Geometry): fc.Arbitrary<number> => {
  const f = bootFrames(g);
  const word = fc.integer({ min: 0, max: Math.min(g.wordsPerPage, 1024) - 1 });
  const frame = fc.oneof(
    { weight: 4, arbitrary: fc.integer({ min: f.system + 1, max: f.firstSpare - 1 }) },
    { weight: 2, arbitrary: fc.constantFrom(f.pageDirectory, f.pageTable(0), f.pageTable(1), f.system) },
    { weight: 2, arbitrary: fc.integer({ min: g.frames, max: g.frames + 3 }) },
    { weight: 2, arbitrary: fc.constantFrom(0, 64, 128, 1024, 1024 + 32, 1024 + 64, 1024 + 96) },
  );
  // The address register ignores bits 1:0 (devices.ts); drivers leave junk there. They shrink toward
  // 3 = START | TO_MEMORY, so one EAX value can serve as both address and command in a shrunk
  // counterexample, as it can in a real exploit.
  const junk = fc.integer({ min: 0, max: 3 }).map((x) => 3 - x);
  return fc.tuple(frame, word, junk).map(([fr, w, j]) => (fr * PAGE_SIZE + w * 4 + j) >>> 0);
};

/**
 * MSI vectors: a few device vectors, the timer's, an invalid one (below 16), and none. Shrinking
 * goes toward the first, odd, so that one register value can serve both VECTOR and COMMAND's
 * START bit (as junk low address bits do for ADDRESS): readable, shorter counterexamples.
 */
export const MSI_VECTORS: readonly number[] = Object.freeze([0x31, 0x30, 0x32, 0x41, TIMER_VECTOR, 0x80, 5, 0]);
/** One of `MSI_VECTORS`. */
export const arbMsiVector: fc.Arbitrary<number> = fc.constantFrom(...MSI_VECTORS);

const port = (reg: number) => DMA_PORT_BASE + reg;

/** One driver action: load EAX with a register value and OUT it, or read a register with IN. */
export const arbDeviceAccess = (g: Geometry): fc.Arbitrary<Op[]> =>
  fc.oneof(
    arbDmaAddress(g).map((a) => [
      { kind: 'movImm', dst: 0, imm: a } as Op,
      { kind: 'out', port: port(DMA_REG.ADDRESS) } as Op,
    ]),
    fc
      .nat({ max: 0xffff_ffff })
      .map((v) => [{ kind: 'movImm', dst: 0, imm: v } as Op, { kind: 'out', port: port(DMA_REG.DATA) } as Op]),
    arbMsiVector.map((v) => [
      { kind: 'movImm', dst: 0, imm: v } as Op,
      { kind: 'out', port: port(DMA_REG.VECTOR_STATUS) } as Op,
    ]),
    fc
      .constantFrom(DMA_CMD.START | DMA_CMD.TO_MEMORY, DMA_CMD.START | DMA_CMD.TO_MEMORY, DMA_CMD.START, 0)
      .map((c) => [{ kind: 'movImm', dst: 0, imm: c } as Op, { kind: 'out', port: port(DMA_REG.COMMAND) } as Op]),
    fc.constantFrom(0, 1, 2, 3).map((r) => [{ kind: 'in', port: port(r) } as Op]),
  );

/** A whole transfer as a driver issues it: address, data, vector, start; then (usually) the completion. */
export const arbDmaTransfer = (g: Geometry): fc.Arbitrary<Op[]> =>
  fc
    .record({
      address: arbDmaAddress(g),
      data: fc.oneof(fc.constantFrom(0, 1, 0xdead_beef), fc.nat({ max: 0xffff_ffff })),
      vector: arbMsiVector,
      command: fc.constantFrom(DMA_CMD.START | DMA_CMD.TO_MEMORY, DMA_CMD.START),
      // Shrinks toward a completed transfer (the form a counterexample needs).
      complete: fc.boolean().map((b) => !b),
    })
    .map(({ address, data, vector, command, complete }) => [
      { kind: 'movImm', dst: 0, imm: address },
      { kind: 'out', port: port(DMA_REG.ADDRESS) },
      { kind: 'movImm', dst: 0, imm: data },
      { kind: 'out', port: port(DMA_REG.DATA) },
      { kind: 'movImm', dst: 0, imm: vector },
      { kind: 'out', port: port(DMA_REG.VECTOR_STATUS) },
      { kind: 'movImm', dst: 0, imm: command },
      { kind: 'out', port: port(DMA_REG.COMMAND) },
      ...(complete ? [{ kind: 'dmaComplete', device: 0 } as Op] : []),
    ]);

/** Kinds mixed in besides device traffic: memory, paging and interrupts. */
export const IO_MIX_KINDS: readonly OpKind[] = Object.freeze([
  'movImm',
  'load',
  'store',
  'invlpg',
  'movToCr3',
  'cli',
  'sti',
  'popf',
  'pushf',
  'iret',
  'int',
  'hlt',
  'timer',
  'dmaComplete',
]);

/** A run of one guest's operations. */
const arbRun = (g: Geometry): fc.Arbitrary<Op[]> =>
  fc.oneof(
    { weight: 3, arbitrary: arbDmaTransfer(g) },
    { weight: 3, arbitrary: arbDeviceAccess(g) },
    {
      weight: 5,
      arbitrary: fc.array(fc.oneof(...IO_MIX_KINDS.map((k) => arbOpOfKind(g, k))), { minLength: 1, maxLength: 3 }),
    },
  );

export interface IoScenarioOptions {
  readonly geometry?: Geometry;
  readonly minGuests?: number;
  readonly maxGuests?: number;
  /** Operations at most. */
  readonly maxOps?: number;
}

/** Scenarios: 2 to 4 guests with a device each, and runs of their operations interleaved. */
export const arbIoScenario = (o: IoScenarioOptions = {}): fc.Arbitrary<IoScenario> => {
  const g = o.geometry ?? DEFAULT_GEOMETRY;
  const minGuests = o.minGuests ?? 2;
  const maxGuests = o.maxGuests ?? 4;
  const maxOps = o.maxOps ?? 24;
  return fc
    .record({
      guests: fc.array(arbIoGuestSpec, { minLength: minGuests, maxLength: maxGuests }),
      runs: fc.array(fc.tuple(fc.nat({ max: maxGuests - 1 }), arbRun(g)), { minLength: 1, maxLength: 6 }),
    })
    .map(({ guests, runs }) => ({
      geometry: g,
      guests,
      ops: runs.flatMap(([guest, ops]) => ops.map((op) => ({ guest: guest % guests.length, op }))).slice(0, maxOps),
    }));
};
