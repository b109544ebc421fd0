/**
 * Scenarios at the system-call level: 2 to 4 guests (a quota and the interface their programs
 * use) and one interleaved sequence of their calls. Biased toward collisions (DESIGN.md §5): few
 * pages, files and ports, so that guests name the same ones; motifs that map a page, use it and
 * unmap it; allocation sizes near the machine's free memory; pid listings after spawns.
 */
import fc from 'fast-check';
import type { OpKind } from '../model/ops.ts';
import {
  type Abi,
  type Call,
  type ForeignCall,
  type HostCall,
  KERNEL_GEOMETRY,
  NT,
  type SyscallGuest,
} from '../model/syscall/index.ts';
import { arbOpOfKind } from './reference.ts';

/** A call of one guest. */
export interface SyscallOp {
  readonly guest: number;
  readonly call: Call;
}

/** Guests and their interleaved calls, as plain data. */
export interface SyscallScenario {
  readonly guests: readonly SyscallGuest[];
  readonly ops: readonly SyscallOp[];
}

export interface SyscallScenarioOptions {
  /** The interface the guests' programs use (the design's). */
  readonly abi?: Abi;
  readonly minGuests?: number;
  readonly maxGuests?: number;
  /** Calls at most. */
  readonly maxOps?: number;
  /** Whether foreign programs also make host system calls directly (default true). */
  readonly directHostCalls?: boolean;
  /** Whether guests run kernel-mode instructions of their own code (default true). */
  readonly kernelModeInstructions?: boolean;
}

/** Kernel-mode instructions a guest's own kernel code may run: none of them halts or reconfigures the machine. */
export const PRIVILEGED_KINDS: readonly OpKind[] = [
  'cli',
  'sti',
  'pushf',
  'smsw',
  'movFromCr',
  'sldt',
  'str',
  'movFromCs',
];

const page = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 1 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 5 }) },
);
const word = fc.integer({ min: 0, max: KERNEL_GEOMETRY.wordsPerPage - 1 });
const value = fc.oneof(fc.integer({ min: 1, max: 9 }), fc.nat({ max: 0xffff_ffff }));
const file = fc.integer({ min: 0, max: 3 });
const port = fc.integer({ min: 0, max: 1 });
/** Sizes around a quota and around the whole free memory of a machine (12 to 18 frames). */
const pages = fc.constantFrom(1, 2, 3, 4, 8, 12, 16);

/** A host system call, a user instruction or a kernel-mode instruction. */
export const arbHostCall: fc.Arbitrary<HostCall> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('mmap' as const), page }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('munmap' as const), page }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('load' as const), page, word }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('store' as const), page, word, value }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('read' as const), file }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('write' as const), file, value }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'getpids' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'spawn' as const }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('send' as const), port, value }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('recv' as const), port }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('alloc' as const), pages }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'yield' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'exit' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'crash' as const }) },
  {
    weight: 2,
    arbitrary: fc
      .constantFrom(...PRIVILEGED_KINDS)
      .chain((k) => arbOpOfKind(KERNEL_GEOMETRY, k))
      .map((op) => ({ kind: 'privileged' as const, op })),
  },
);

/** A call of the foreign interface (foreign.ts), its arguments where that call reads them. */
export const arbForeignCall: fc.Arbitrary<ForeignCall> = fc
  .oneof(
    { weight: 3, arbitrary: fc.tuple(fc.constant(NT.ReadFile), fc.integer({ min: 0, max: 2 }), fc.constant(0)) },
    { weight: 3, arbitrary: fc.tuple(fc.constant(NT.WriteFile), value, fc.integer({ min: 0, max: 2 })) },
    { weight: 3, arbitrary: fc.tuple(fc.constant(NT.MapPage), fc.constant(0xffff_ffff), page) },
    { weight: 2, arbitrary: fc.tuple(fc.constant(NT.UnmapPage), fc.constant(0xffff_ffff), page) },
    { weight: 2, arbitrary: fc.tuple(fc.constant(NT.Commit), pages, fc.constant(0)) },
    { weight: 1, arbitrary: fc.tuple(fc.constant(NT.ProcessCount), fc.constant(0), fc.constant(0)) },
    { weight: 1, arbitrary: fc.tuple(fc.constant(NT.CreateProcess), fc.constant(0), fc.constant(0)) },
    { weight: 1, arbitrary: fc.tuple(fc.constant(NT.Terminate), fc.constant(0), fc.constant(0)) },
    { weight: 1, arbitrary: fc.tuple(fc.constant(0x99), fc.constant(0), fc.constant(0)) },
  )
  .map(([nr, a0, a1]) => ({ kind: 'foreign', nr, args: [a0, a1, 0] }));

/**
 * What a foreign program does besides foreign calls: user instructions, yield and a kernel bug. A
 * program translated at the API is an application: it has no kernel-mode code of its own.
 */
const arbCommonCall = arbHostCall.filter(
  (c) => c.kind === 'load' || c.kind === 'store' || c.kind === 'yield' || c.kind === 'crash',
);
/** A host system call a foreign program makes directly (not through the translation library). */
const arbDirectHostCall = arbHostCall.filter((c) => c.kind !== 'privileged');

/** A call of a program written for `abi`. */
export const arbCall = (abi: Abi, directHostCalls = true, kernelModeInstructions = true): fc.Arbitrary<Call> =>
  abi === 'host'
    ? kernelModeInstructions
      ? arbHostCall
      : arbDirectHostCall
    : fc.oneof(
        { weight: 6, arbitrary: arbForeignCall },
        { weight: 3, arbitrary: arbCommonCall },
        ...(directHostCalls ? [{ weight: 2, arbitrary: arbDirectHostCall as fc.Arbitrary<Call> }] : []),
      );

/** Motifs of related calls: use a fresh page; write then read a file; send then receive. */
const arbMotif = (abi: Abi): fc.Arbitrary<Call[]> => {
  if (abi === 'foreign')
    return fc.tuple(page, value).map(([p, v]): Call[] => [
      { kind: 'foreign', nr: NT.MapPage, args: [0xffff_ffff, p, 0] },
      { kind: 'store', page: p, word: 0, value: v },
      { kind: 'load', page: p, word: 0 },
    ]);
  return fc.oneof(
    fc.tuple(page, word, value).map(([p, w, v]): Call[] => [
      { kind: 'mmap', page: p },
      { kind: 'store', page: p, word: w, value: v },
      { kind: 'load', page: p, word: w },
      { kind: 'munmap', page: p },
    ]),
    fc.tuple(file, value).map(([f, v]): Call[] => [
      { kind: 'write', file: f, value: v },
      { kind: 'read', file: f },
    ]),
    fc.tuple(port, value).map(([p, v]): Call[] => [
      { kind: 'send', port: p, value: v },
      { kind: 'recv', port: p },
    ]),
  );
};

/** Scenarios: guests and runs of calls per guest, interleaved. */
export const arbSyscallScenario = (o: SyscallScenarioOptions = {}): fc.Arbitrary<SyscallScenario> => {
  const abi = o.abi ?? 'host';
  const minGuests = o.minGuests ?? 2;
  const maxGuests = o.maxGuests ?? 4;
  const maxOps = o.maxOps ?? 16;
  const plain = fc.array(arbCall(abi, o.directHostCalls ?? true, o.kernelModeInstructions ?? true), {
    minLength: 1,
    maxLength: 4,
  });
  const run = fc.oneof({ weight: 3, arbitrary: plain }, { weight: 1, arbitrary: arbMotif(abi) });
  return fc
    .record({
      guests: fc.array(fc.record({ quota: fc.integer({ min: 1, max: 3 }), abi: fc.constant(abi) }), {
        minLength: minGuests,
        maxLength: maxGuests,
      }),
      runs: fc.array(fc.tuple(fc.nat({ max: maxGuests - 1 }), run), { minLength: 1, maxLength: Math.ceil(maxOps / 2) }),
    })
    .map(({ guests, runs }) => ({
      guests,
      ops: runs.flatMap(([g, calls]) => calls.map((call) => ({ guest: g % guests.length, call }))).slice(0, maxOps),
    }));
};
