/**
 * Scenarios for the hosted machine: 1 to 4 guests (each booted from a `GuestSpec`) and one
 * sequence of their operations, interleaved. Biased as DESIGN.md §5 asks: runs of operations
 * per guest so that switches fall between related operations, the window's live page-table
 * words, stale translations (a load, then a table write, then the load again), and the same
 * addresses in every guest. `uniform` gives the same operation kinds with uniform values, to
 * measure what the bias buys.
 */
import fc from 'fast-check';
import { DEFAULT_GEOMETRY, type Geometry, OP_KINDS, type Op, type OpKind } from '../model/index.ts';
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

/** Scenarios: guests and a sequence of runs of operations per guest. */
export const arbScenario = (o: ScenarioOptions = {}): fc.Arbitrary<Scenario> => {
  const g = o.geometry ?? DEFAULT_GEOMETRY;
  const minGuests = o.minGuests ?? 1;
  const maxGuests = o.maxGuests ?? 4;
  const maxOps = o.maxOps ?? 24;
  const kinds = o.kinds ?? OP_KINDS;
  const op = o.values === 'uniform' ? fc.oneof(...kinds.map((k) => arbOpUniform(g, k))) : arbOp(g, kinds);
  // No `chain`: guests and operations shrink independently (a guest index beyond the guests
  // that remain after shrinking folds back onto them).
  return fc
    .record({
      guests: fc.array(arbGuestSpec(g, [0, 0, 3]), { minLength: minGuests, maxLength: maxGuests }),
      runs: fc.array(fc.tuple(fc.nat({ max: maxGuests - 1 }), fc.array(op, { minLength: 1, maxLength: 4 })), {
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
