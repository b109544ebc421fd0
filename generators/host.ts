/**
 * Scenarios for the hosted machine: 1 to 4 guests (each booted from a `GuestSpec`) and one
 * sequence of their operations, interleaved. Biased as DESIGN.md §5 asks: runs of operations
 * per guest so that switches fall between related operations, the window's live page-table
 * words, stale translations (a load, then a table write, then the load again), and the same
 * addresses in every guest. `uniform` gives the same operation kinds with uniform values, to
 * measure what the bias buys.
 */
import fc from 'fast-check';
import { bootFrames, DEFAULT_GEOMETRY, type Geometry, linear, OP_KINDS, type Op, type OpKind } from '../model/index.ts';
import { arbDmaTransfer } from './io.ts';
import { arbGuestSpec, arbOp, arbOpOfKind, type GuestSpec } from './reference.ts';

/** An operation of one guest. */
export interface ScenarioOp {
  readonly guest: number;
  readonly op: Op;
}

/** Guests and their interleaved operations: everything a hosted run needs, as plain data. */
export interface Scenario {
  readonly geometry: Geometry;
  readonly guests: readonly GuestSpec[];
  readonly ops: readonly ScenarioOp[];
}

/** What generated scenarios look like: the guest machines' geometry, how many guests (min..max), operations and values. */
export interface ScenarioOptions {
  readonly geometry?: Geometry;
  readonly minGuests?: number;
  readonly maxGuests?: number;
  /** Operations at most (1 to this many). */
  readonly maxOps?: number;
  /** Operation kinds to draw from. */
  readonly kinds?: readonly OpKind[];
  /** Biased values (default) or uniform ones. */
  readonly values?: 'biased' | 'uniform';
}

/** Uniform values for an operation kind: any register, any 4-aligned address, any word. */
export const arbOpUniform = (g: Geometry, kind: OpKind): fc.Arbitrary<Op> => {
  const va = fc.nat({ max: 0x3fff_ffff }).map((w) => w * 4);
  const u32 = fc.nat({ max: 0xffff_ffff });
  const reg = fc.constantFrom(0 as const, 1 as const, 2 as const, 3 as const);
  switch (kind) {
    case 'movImm':
      return fc.record({ kind: fc.constant(kind), dst: reg, imm: u32 });
    case 'load':
      return fc.record({ kind: fc.constant(kind), dst: reg, va });
    case 'store':
      return fc.record({ kind: fc.constant(kind), va, src: reg });
    case 'invlpg':
    case 'lgdt':
    case 'lidt':
    case 'sgdt':
    case 'sidt':
      return fc.record({ kind: fc.constant(kind), va });
    case 'movToCr3':
      return fc.record({ kind: fc.constant(kind), value: u32 });
    default:
      return arbOpOfKind(g, kind);
  }
};

/**
 * Short motifs of related operations, the bias DESIGN.md §5 asks for beyond single values: use a
 * translation, rewrite its PTE through the page-table window, invalidate (or reload CR3), use it
 * again; or mask interrupts around a timer tick. Directory slot 0's table is mapped at window page
 * (0,0), so linear(0,0,t) is the PTE of page (0,t). Every operation of a motif shrinks away on its own.
 */
export const arbMotif = (g: Geometry): fc.Arbitrary<Op[]> => {
  const t = fc.integer({ min: 2, max: Math.max(2, g.tableEntries - 1) });
  const w = fc.integer({ min: 0, max: g.wordsPerPage - 1 });
  const reg = fc.constantFrom(0 as const, 1 as const, 2 as const, 3 as const);
  const pte = fc
    .tuple(fc.integer({ min: 0, max: g.frames - 1 }), fc.constantFrom(0x7, 0x5, 0x3, 0x27, 0x67))
    .map(([f, bits]) => ((f << 12) | bits) >>> 0);
  const staleTranslation = fc
    .tuple(t, w, pte, reg, fc.constantFrom('invlpg' as const, 'movToCr3' as const, 'none' as const))
    .map(([tt, ww, value, r, invalidate]) => {
      const page = linear(0, tt, ww);
      const ops: Op[] = [
        { kind: 'load', dst: 0, va: page },
        { kind: 'movImm', dst: r, imm: value },
        { kind: 'store', va: linear(0, 0, tt), src: r },
      ];
      if (invalidate === 'invlpg') ops.push({ kind: 'invlpg', va: page });
      if (invalidate === 'movToCr3') ops.push({ kind: 'movToCr3', value: bootFrames(g).pageDirectory * 4096 });
      ops.push({ kind: 'load', dst: 1, va: page });
      return ops;
    });
  const maskedTick = fc.constantFrom<Op[]>(
    [
      { kind: 'cli' },
      { kind: 'timer' },
      { kind: 'pushf', dst: 0 },
      { kind: 'sti' },
      { kind: 'movImm', dst: 1, imm: 1 },
    ],
    [{ kind: 'sti' }, { kind: 'timer' }, { kind: 'hlt' }, { kind: 'timer' }],
  );
  return fc.oneof(
    { weight: 3, arbitrary: staleTranslation },
    { weight: 1, arbitrary: maskedTick },
    { weight: 2, arbitrary: arbDmaTransfer(g) },
  );
};

/** Scenarios: guests and a sequence of runs of operations per guest. */
export const arbScenario = (o: ScenarioOptions = {}): fc.Arbitrary<Scenario> => {
  const g = o.geometry ?? DEFAULT_GEOMETRY;
  const minGuests = o.minGuests ?? 1;
  const maxGuests = o.maxGuests ?? 4;
  const maxOps = o.maxOps ?? 24;
  const kinds = o.kinds ?? OP_KINDS;
  const op = o.values === 'uniform' ? fc.oneof(...kinds.map((k) => arbOpUniform(g, k))) : arbOp(g, kinds);
  const plain = fc.array(op, { minLength: 1, maxLength: 4 });
  const run =
    o.values === 'uniform' || o.kinds !== undefined
      ? plain
      : fc.oneof({ weight: 4, arbitrary: plain }, { weight: 1, arbitrary: arbMotif(g) });
  // No `chain`: guests and operations shrink independently (a guest index beyond the guests
  // that remain after shrinking folds back onto them).
  return fc
    .record({
      // Guests have a DMA engine unless operation kinds were named (then they are plain machines).
      guests: fc.array(
        arbGuestSpec(g, [0, 0, 3]).map((spec) =>
          o.kinds === undefined && o.values !== 'uniform' ? { ...spec, devices: 1 } : spec,
        ),
        { minLength: minGuests, maxLength: maxGuests },
      ),
      runs: fc.array(fc.tuple(fc.nat({ max: maxGuests - 1 }), run), {
        minLength: 1,
        maxLength: Math.max(1, Math.ceil(maxOps / 2)),
      }),
    })
    .map(({ guests, runs }) => ({
      geometry: g,
      // Ring compression runs guest rings 0-2 at ring 1; generated guests start at CPL 0 or 3.
      guests,
      ops: runs.flatMap(([guest, ops]) => ops.map((x) => ({ guest: guest % guests.length, op: x }))).slice(0, maxOps),
    }));
};
