/**
 * Boundary motifs (issue 20): three general capabilities that real hypervisor bugs need and that
 * no single step shows, each a motif of generators/host.ts (`capacity`, `window`, `warmCache`):
 *
 * - `capacity`: drive a bounded structure past its limit. The window's data pages are the most
 *   distinct translations a scenario can name (the real TLB's capacity is the host's, not the
 *   scenario's, so the motif touches as many pages as the geometry has, from an arbitrary first one,
 *   and then accesses the first again: an entry evicted, or kept when it must not be). The
 *   network's bounded tables (the bridge's learned addresses, a card's receive queue) are driven
 *   by generators/net.ts's `capacity` runs, from their exported limits.
 * - `window`: an instruction that opens a window of one instruction (STI's interrupt shadow, SDM
 *   Vol. 3A §6.8.3 and the STI entry in Vol. 2B; the instruction after a fault is delivered and
 *   the handler resumes), then an asynchronous event or a switch exactly at one of the boundaries
 *   inside or right after the window: a timer tick, a device's completion, another guest's
 *   operation (a world switch), or an instruction that exits to the hypervisor.
 * - `warmCache`: access a word so that every cache of its translation is filled (a TLB entry, a
 *   shadow entry, an EPT-derived entry, accessed and dirty bits: a load and a store, or two
 *   accesses, since under shadow paging and binary translation the first access traps), then
 *   change what maps it (a PTE write through the window, INVLPG, a CR3 load, a DMA into its frame,
 *   another guest using the same address), possibly with another guest running in between, then
 *   access it again.
 *
 * Values come from the scenario's geometry and the model's boot layout only. Every operation of a
 * motif shrinks away on its own (the scenario shrinker drops operations one by one), and the
 * choices inside a motif shrink toward the shortest form.
 */
import fc from 'fast-check';
import {
  bootFrames,
  DMA_CMD,
  DMA_PORT_BASE,
  DMA_REG,
  type Geometry,
  linear,
  type Op,
  PAGE_SIZE,
  type Reg,
  SEL,
  systemPageLinear,
} from '../model/index.ts';

/**
 * A motif's operations and, for each, which guest runs it relative to the run's own guest (0 the
 * same one, 1 the next one: a switch there and back). Without `guests` every operation is the run's.
 */
export interface BoundaryOps {
  readonly ops: Op[];
  readonly guests?: readonly number[];
}

/** Data pages of the window as (dir, table): not the window pages that map tables, not the system page. */
export const windowDataPages = (g: Geometry): [number, number][] => {
  const sys = systemPageLinear(g);
  const pages: [number, number][] = [];
  for (let d = 0; d < g.dirEntries; d++)
    for (let t = 0; t < g.tableEntries; t++) if (!(d === 0 && t < 2) && linear(d, t) !== sys) pages.push([d, t]);
  return pages;
};

const dmaOut = (reg: number, value: number): Op[] => [
  { kind: 'movImm', dst: 0, imm: value >>> 0 },
  { kind: 'out', port: DMA_PORT_BASE + reg },
];

/** `capacity`: n distinct pages touched (as many as the window has by default), then the first again. */
export const arbCapacityMotif = (g: Geometry): fc.Arbitrary<BoundaryOps> => {
  const pages = windowDataPages(g);
  const all = pages.length;
  return fc
    .record({
      // Shrinks toward every page (the form that exceeds the most), then toward fewer.
      fewer: fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.nat({ max: all - 2 }) }),
      first: fc.nat({ max: all - 1 }),
      w: fc.nat({ max: g.wordsPerPage - 1 }),
      store: fc.boolean(),
      again: fc.constantFrom('load' as const, 'store' as const),
    })
    .map(({ fewer, first, w, store, again }): BoundaryOps => {
      const n = Math.max(2, all - fewer);
      const touched = Array.from({ length: n }, (_, i) => pages[(first + i) % all]!);
      const ops: Op[] = touched.map(([d, t], i) =>
        store && i === 0
          ? { kind: 'store', va: linear(d, t, w), src: 1 }
          : { kind: 'load', dst: 0, va: linear(d, t, w) },
      );
      const [d0, t0] = touched[0]!;
      ops.push(
        again === 'load'
          ? { kind: 'load', dst: 2, va: linear(d0, t0, w) }
          : { kind: 'store', va: linear(d0, t0, w), src: 3 },
      );
      return { ops };
    });
};

/** What opens a window of one instruction. */
type Opener = 'sti' | 'stiPending' | 'fault' | 'iret';
/** What happens at a boundary: an event, a switch to another guest, an instruction that exits. */
type WindowEvent = 'timer' | 'dmaComplete' | 'switch' | 'exit';

/** `window`: an opener, then `event` at boundary `at` (0: right after the opener, inside the window). */
export const arbWindowMotif = (g: Geometry): fc.Arbitrary<BoundaryOps> => {
  const reg = fc.constantFrom<Reg>(0, 1, 2, 3);
  const f = bootFrames(g);
  // Instructions that run in and after the window: HLT right after STI is the idle loop's idiom,
  // PUSHF reads IF back, a load and a move are the plain case.
  const inWindow = fc.oneof(
    fc.constant<Op>({ kind: 'hlt' }),
    reg.map((dst): Op => ({ kind: 'pushf', dst })),
    reg.map((dst): Op => ({ kind: 'movImm', dst, imm: 1 })),
    fc.constant<Op>({ kind: 'load', dst: 0, va: linear(0, 2, 0) }),
  );
  return fc
    .record({
      opener: fc.constantFrom<Opener>('sti', 'stiPending', 'fault', 'iret'),
      event: fc.constantFrom<WindowEvent>('timer', 'switch', 'dmaComplete', 'exit'),
      at: fc.nat({ max: 2 }),
      first: inWindow,
      second: inWindow,
      // What the other guest does in a switch: a plain instruction, or it takes a tick itself.
      other: fc.constantFrom<Op>({ kind: 'movImm', dst: 1, imm: 2 }, { kind: 'timer' }, { kind: 'cli' }),
      address: fc.nat({ max: g.wordsPerPage - 1 }).map((w) => (f.data(1, 0) * PAGE_SIZE + w * 4) >>> 0),
    })
    .map(({ opener, event, at, first, second, other, address }): BoundaryOps => {
      const open: Op[] =
        opener === 'sti'
          ? [{ kind: 'cli' }, { kind: 'sti' }]
          : opener === 'stiPending'
            ? [{ kind: 'cli' }, { kind: 'timer' }, { kind: 'sti' }]
            : opener === 'fault'
              ? [{ kind: 'sti' }, { kind: 'ud2' }]
              : [{ kind: 'sti' }, { kind: 'iret', cs: SEL.USER_CODE, eflags: 0x202 }];
      // A completion needs a transfer started first (before the window, so it is in flight).
      const before: Op[] =
        event === 'dmaComplete'
          ? [
              ...dmaOut(DMA_REG.ADDRESS, address),
              ...dmaOut(DMA_REG.DATA, 0x5a5a_5a5a),
              ...dmaOut(DMA_REG.COMMAND, DMA_CMD.START | DMA_CMD.TO_MEMORY),
            ]
          : [];
      const happening: Op =
        event === 'timer'
          ? { kind: 'timer' }
          : event === 'dmaComplete'
            ? { kind: 'dmaComplete', device: 0 }
            : event === 'switch'
              ? other
              : { kind: 'in', port: DMA_PORT_BASE + DMA_REG.VECTOR_STATUS };
      const after: Op[] = [first, second];
      const ops: Op[] = [...before, ...open, ...after.slice(0, at), happening, ...after.slice(at)];
      const guests = ops.map((op) => (event === 'switch' && op === happening ? 1 : 0));
      return event === 'switch' ? { ops, guests } : { ops };
    });
};

/** What changes the translation after it was warmed. */
type Change = 'pte' | 'pteInvlpg' | 'pteCr3' | 'cr3' | 'invlpg' | 'dma' | 'otherGuest';

/** `warmCache`: warm a word's translation, change what maps it, access it again (possibly across a switch). */
export const arbWarmMotif = (g: Geometry): fc.Arbitrary<BoundaryOps> => {
  const f = bootFrames(g);
  // Pages (0,t) with t >= 2: their PTE is word t of page table 0, which window page (0,0) maps.
  const t = fc.integer({ min: Math.min(2, g.tableEntries - 1), max: g.tableEntries - 1 });
  const pte = fc.oneof(
    fc
      .tuple(fc.nat({ max: g.frames - 1 }), fc.constantFrom(0x7, 0x5, 0x3, 0x27, 0x67, 0x25))
      .map(([fr, bits]) => ((fr << 12) | bits) >>> 0),
    fc.constant(0),
  );
  return fc
    .record({
      t,
      w: fc.nat({ max: g.wordsPerPage - 1 }),
      warm: fc.constantFrom('loadStore' as const, 'loadLoad' as const, 'storeStore' as const),
      change: fc.constantFrom<Change>('pte', 'pteCr3', 'pteInvlpg', 'cr3', 'invlpg', 'dma', 'otherGuest'),
      value: pte,
      // Another guest runs between the warming and the change, or between the change and the access.
      across: fc.constantFrom('none' as const, 'before' as const, 'after' as const),
      again: fc.constantFrom('load' as const, 'store' as const),
    })
    .map(({ t: tt, w, warm, change, value, across, again }): BoundaryOps => {
      const va = linear(0, tt, w);
      const load = (dst: Reg): Op => ({ kind: 'load', dst, va });
      const store = (src: Reg): Op => ({ kind: 'store', va, src });
      const warming: Op[] =
        warm === 'loadStore' ? [load(0), store(1)] : warm === 'loadLoad' ? [load(0), load(0)] : [store(1), store(1)];
      const writePte: Op[] = [
        { kind: 'movImm', dst: 2, imm: value },
        { kind: 'store', va: linear(0, 0, tt), src: 2 },
      ];
      const cr3: Op = { kind: 'movToCr3', value: f.pageDirectory * PAGE_SIZE };
      const own = (ops: Op[]) => ops.map((op) => ({ op, guest: 0 }));
      const changing: { op: Op; guest: number }[] =
        change === 'pte'
          ? own(writePte)
          : change === 'pteCr3'
            ? own([...writePte, cr3])
            : change === 'pteInvlpg'
              ? own([...writePte, { kind: 'invlpg', va }])
              : change === 'cr3'
                ? own([cr3])
                : change === 'invlpg'
                  ? own([{ kind: 'invlpg', va }])
                  : change === 'dma'
                    ? own([
                        ...dmaOut(DMA_REG.ADDRESS, f.data(0, tt) * PAGE_SIZE + w * 4),
                        ...dmaOut(DMA_REG.DATA, value),
                        ...dmaOut(DMA_REG.COMMAND, DMA_CMD.START | DMA_CMD.TO_MEMORY),
                        { kind: 'dmaComplete', device: 0 },
                      ])
                    : // The same address used in another guest: its own translation of it, its own caches.
                      [...writePte, store(3)].map((op) => ({ op, guest: 1 }));
      const other = { op: load(3), guest: 1 };
      const seq: { op: Op; guest: number }[] = [
        ...own(warming),
        ...(across === 'before' ? [other] : []),
        ...changing,
        ...(across === 'after' ? [other] : []),
        ...own([again === 'load' ? load(2) : store(3)]),
      ];
      const ops = seq.map((x) => x.op);
      return seq.some((x) => x.guest !== 0) ? { ops, guests: seq.map((x) => x.guest) } : { ops };
    });
};
