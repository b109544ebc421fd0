/**
 * fast-check arbitraries for the reference machine: machines reachable from the standard boot
 * layout and operations over them. Values are biased toward collisions (DESIGN.md §5): addresses
 * of live page-table words and descriptor-table slots, PTE-looking values, real selectors, the
 * window's pages, and prefixes of operations that leave stale TLB entries behind.
 */
import fc from 'fast-check';
import {
  bootFrames,
  bootMachine,
  bootStack,
  type Cpl,
  CR0,
  CR0_DEFINED,
  DEFAULT_GEOMETRY,
  EFLAGS,
  type Geometry,
  HARNESS,
  idleNic,
  linear,
  type Machine,
  MODELED_FLAGS,
  OP_KINDS,
  type Op,
  type OpKind,
  PAGE_SIZE,
  PTE,
  type Reg,
  replayChoices,
  SEL,
  SYSTEM_PAGE,
  stepWith,
  systemPageLinear,
  TIMER_VECTOR,
  USER_INT_VECTORS,
  writeWord,
} from '../model/index.ts';

/** Selectors worth trying: the boot GDT's and LDT's, with every RPL, plus null and out-of-limit ones. */
export const INTERESTING_SELECTORS: readonly number[] = Object.freeze([
  0x00, 0x03, 0x04, 0x07, 0x0c, 0x0f, 0x08, 0x0b, 0x10, 0x13, 0x18, 0x1b, 0x20, 0x23, 0x28, 0x2b, 0x30, 0x38, 0x39,
  0x3b, 0x40, 0x41, 0x48, 0x4b, 0x50, 0x53, 0x58, 0x5b, 0x60, 0x63, 0x68, 0x6b, 0x70, 0x73, 0x100, 0xfff8,
]);

const arbReg: fc.Arbitrary<Reg> = fc.constantFrom(0, 1, 2, 3);

/** PTE-looking values: an installed frame with a subset of P, R/W, U/S, A, D. */
export const arbPteValue = (g: Geometry): fc.Arbitrary<number> =>
  fc
    .tuple(fc.integer({ min: 0, max: g.frames - 1 }), fc.subarray([PTE.P, PTE.RW, PTE.US, PTE.A, PTE.D]))
    .map(([frame, bits]) => (frame * PAGE_SIZE + bits.reduce((a, b) => a | b, 0)) >>> 0);

/**
 * PTE-looking values naming a frame just past the installed ones: bare metal has no memory there; a
 * hypervisor may have another guest's (DESIGN.md §5: addresses near other guests' memory). Not
 * drawn by the default generators (see mutants/direct.ts, which draws them).
 */
export const arbPteValuePastMemory = (g: Geometry): fc.Arbitrary<number> =>
  fc
    .tuple(fc.integer({ min: g.frames, max: g.frames + 3 }), fc.subarray([PTE.P, PTE.RW, PTE.US, PTE.A, PTE.D]))
    .map(([frame, bits]) => (frame * PAGE_SIZE + bits.reduce((a, b) => a | b, 0)) >>> 0);

/** Register values: selectors, PTE-looking values, small numbers, anything. */
export const arbRegValue = (g: Geometry): fc.Arbitrary<number> =>
  fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...INTERESTING_SELECTORS) },
    { weight: 3, arbitrary: arbPteValue(g) },
    { weight: 2, arbitrary: fc.integer({ min: 0, max: 16 }) },
    { weight: 1, arbitrary: fc.nat({ max: 0xffff_ffff }) },
  );

/** Linear addresses (4-aligned): the window's words, live paging structures, descriptor tables, unmapped pages. */
export const arbVa = (g: Geometry): fc.Arbitrary<number> => {
  const sys = systemPageLinear(g);
  return fc.oneof(
    {
      weight: 6,
      arbitrary: fc
        .tuple(
          fc.integer({ min: 0, max: g.dirEntries - 1 }),
          fc.integer({ min: 0, max: g.tableEntries - 1 }),
          fc.integer({ min: 0, max: g.wordsPerPage - 1 }),
        )
        .map(([d, t, w]) => linear(d, t, w)),
    },
    // Window page (0,0) maps directory slot 0's page table, (0,1) the page directory.
    { weight: 2, arbitrary: fc.integer({ min: 0, max: g.tableEntries - 1 }).map((i) => linear(0, 0, i)) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: g.dirEntries - 1 }).map((i) => linear(0, 1, i)) },
    {
      weight: 1,
      arbitrary: fc.oneof(
        fc.integer({ min: 0, max: 25 }).map((i) => sys + SYSTEM_PAGE.GDT + i * 4),
        fc
          .constantFrom(13, 14, TIMER_VECTOR, USER_INT_VECTORS.INTERRUPT_GATE, USER_INT_VECTORS.TRAP_GATE)
          .chain((v) => fc.constantFrom(sys + SYSTEM_PAGE.IDT + v * 8, sys + SYSTEM_PAGE.IDT + v * 8 + 4)),
      ),
    },
    {
      weight: 1,
      arbitrary: fc.integer({ min: 0, max: g.wordsPerPage - 1 }).map((w) => linear(g.dirEntries % 1024, 0, w)),
    },
  );
};

/** The top six words of the kernel, ring-1 and user stacks (boot.ts `bootStack`): where frames land. */
export const arbStackWord = (g: Geometry): fc.Arbitrary<number> =>
  fc
    .tuple(fc.constantFrom<Cpl>(0, 1, 3), fc.integer({ min: 1, max: 6 }))
    .map(([ring, k]) => (bootStack(g, ring).esp - 4 * k) >>> 0);

/** An EFLAGS image POPF/IRET may load: any modelled flags (never TF, NT, RF, VM, VIF, VIP). */
export const arbEflagsImage: fc.Arbitrary<number> = fc
  .tuple(fc.nat({ max: 0xffff_ffff }), fc.boolean(), fc.integer({ min: 0, max: 3 }))
  .map(
    ([bits, intf, pl]) =>
      ((bits & MODELED_FLAGS & ~(EFLAGS.IF | EFLAGS.IOPL)) | (intf ? EFLAGS.IF : 0) | (pl << 12)) >>> 0,
  );

/** A CR0 value with PE set (real mode is outside the subset), usually with paging on. */
export const arbCr0Value: fc.Arbitrary<number> = fc
  .tuple(
    fc.subarray([CR0.MP, CR0.EM, CR0.TS, CR0.NE, CR0.WP, CR0.AM, CR0.NW, CR0.CD]),
    fc.boolean(),
    fc.nat({ max: 0xffff_ffff }),
  )
  .map(([bits, pgOff, noise]) => {
    let v = CR0.PE | CR0.ET | bits.reduce((a, b) => a | b, 0);
    if (!pgOff) v |= CR0.PG;
    // Occasionally set reserved bits too: writes to them are ignored.
    if ((noise & 7) === 0) v |= noise & ~CR0_DEFINED;
    return v >>> 0;
  });

/** CR3 values: the boot page directory mostly, other frames sometimes, with the PWT/PCD bits. */
export const arbCr3Value = (g: Geometry): fc.Arbitrary<number> =>
  fc
    .tuple(
      fc.oneof(
        { weight: 4, arbitrary: fc.constant(bootFrames(g).pageDirectory) },
        fc.integer({ min: 0, max: g.frames - 1 }),
      ),
      fc.constantFrom(0, 0x8, 0x10),
    )
    .map(([frame, low]) => (frame * PAGE_SIZE) | low);

const arbVector = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      USER_INT_VECTORS.INTERRUPT_GATE,
      USER_INT_VECTORS.TRAP_GATE,
      USER_INT_VECTORS.NOT_PRESENT,
      TIMER_VECTOR,
      13,
      14,
      8,
      3,
    ),
  },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) },
);

/** An operation of one kind. */
export const arbOpOfKind = (g: Geometry, kind: OpKind): fc.Arbitrary<Op> => {
  const va = arbVa(g);
  switch (kind) {
    case 'movImm':
      return fc.record({ kind: fc.constant(kind), dst: arbReg, imm: arbRegValue(g) });
    case 'add':
      return fc.record({ kind: fc.constant(kind), dst: arbReg, src: arbReg });
    case 'load':
      // Loads also read the top of a stack (a landmark): the frames events push are guest memory.
      return fc.record({
        kind: fc.constant(kind),
        dst: arbReg,
        va: fc.oneof({ weight: 12, arbitrary: va }, { weight: 1, arbitrary: arbStackWord(g) }),
      });
    case 'store':
      return fc.record({ kind: fc.constant(kind), va, src: arbReg });
    case 'movToCr0':
      return fc.record({ kind: fc.constant(kind), value: arbCr0Value });
    case 'movToCr3':
      return fc.record({ kind: fc.constant(kind), value: arbCr3Value(g) });
    case 'movFromCr':
      return fc.record({
        kind: fc.constant(kind),
        dst: arbReg,
        cr: fc.constantFrom(0 as const, 2 as const, 3 as const),
      });
    case 'invlpg':
      return fc.record({ kind: fc.constant(kind), va });
    case 'lgdt':
    case 'lidt':
    case 'sgdt':
    case 'sidt':
      return fc.record({ kind: fc.constant(kind), va });
    case 'lldt':
    case 'ltr':
    case 'verr':
    case 'verw':
      return fc.record({ kind: fc.constant(kind), src: arbReg });
    case 'sldt':
    case 'str':
    case 'smsw':
    case 'pushf':
    case 'movFromCs':
      return fc.record({ kind: fc.constant(kind), dst: arbReg });
    case 'lar':
    case 'lsl':
      return fc.record({ kind: fc.constant(kind), dst: arbReg, src: arbReg });
    case 'in':
    case 'out':
      return fc.record({ kind: fc.constant(kind), port: fc.integer({ min: 0, max: 255 }) });
    case 'popf':
      return fc.record({ kind: fc.constant(kind), image: arbEflagsImage });
    case 'iret':
      return fc.record({
        kind: fc.constant(kind),
        cs: fc.oneof(
          { weight: 4, arbitrary: fc.constantFrom(SEL.USER_CODE, SEL.KERNEL_CODE) },
          { weight: 1, arbitrary: fc.constantFrom(...INTERESTING_SELECTORS) },
        ),
        eflags: arbEflagsImage,
      });
    case 'int':
      return fc.record({ kind: fc.constant(kind), vector: arbVector });
    case 'clts':
    case 'cli':
    case 'sti':
    case 'hlt':
    case 'ud2':
    case 'timer':
      return fc.constant({ kind } as Op);
    case 'dmaComplete':
      // Device 0 is the one generated machines have; others exercise an absent device.
      return fc.record({ kind: fc.constant(kind), device: fc.constantFrom(0, 0, 0, 1) });
    case 'frameIn':
      return fc.record({ kind: fc.constant(kind), frame: fc.nat({ max: 0xffff_ffff }) });
  }
};

/** Relative weights of operation kinds in generated sequences: data and paging traffic dominate. */
export const DEFAULT_KIND_WEIGHTS: Readonly<Partial<Record<OpKind, number>>> = Object.freeze({
  movImm: 6,
  add: 2,
  load: 8,
  store: 8,
  invlpg: 3,
  movToCr3: 2,
  movToCr0: 2,
  iret: 3,
  int: 2,
  popf: 2,
  timer: 2,
  // Device completions only act on machines booted with devices (generators/io.ts mixes them in).
  dmaComplete: 0,
  // Frames from the outside world only matter to guests with a network card (generators/net.ts).
  frameIn: 0,
});

/** Any operation, kinds weighted by `weights` (default 1 for unlisted kinds). */
export const arbOp = (
  g: Geometry = DEFAULT_GEOMETRY,
  kinds: readonly OpKind[] = OP_KINDS,
  weights: Readonly<Partial<Record<OpKind, number>>> = DEFAULT_KIND_WEIGHTS,
): fc.Arbitrary<Op> => {
  // Cross-shrinking moves any operation toward the first kind: a load, the simplest memory access,
  // so counterexamples shrink to plain accesses where the failure allows.
  const ordered = [...kinds].sort((a, b) => Number(b === 'load') - Number(a === 'load'));
  return fc.oneof(
    { withCrossShrink: true },
    ...ordered.map((k) => ({ weight: weights[k] ?? 1, arbitrary: arbOpOfKind(g, k) })),
  );
};

const CS_FOR_CPL: Record<Cpl, number> = { 0: SEL.KERNEL_CODE, 1: SEL.RING1_CODE, 2: SEL.KERNEL_CODE, 3: SEL.USER_CODE };

/** The machine with CPL (and CS's RPL) set to `cpl`, on that ring's standard stack, as after a transition to that ring. */
export const withCpl = (m: Machine, cpl: Cpl): Machine => ({
  ...m,
  cpu: { ...m.cpu, cpl, cs: ((CS_FOR_CPL[cpl] & 0xfffc) | cpl) >>> 0, ...bootStack(m.geometry, cpl) },
});

/**
 * How a guest machine is booted and varied: CPL, EFLAGS, CR0.WP/TS, registers, and the P, R/W
 * and U/S bits of the window's PTEs and PDEs (the system page stays mapped). Plain data, so a
 * counterexample can carry it.
 */
export interface GuestSpec {
  readonly cpl: Cpl;
  readonly eflags: number;
  readonly wp: boolean;
  readonly ts: boolean;
  readonly regs: readonly [number, number, number, number];
  /** P/RW/US bits of each window page's PTE, row by row (dir-major). */
  readonly pteFlags: readonly number[];
  /** P/RW/US bits of each window PDE. */
  readonly pdeFlags: readonly number[];
  /** DMA engines the guest has (0 or 1; absent: none). */
  readonly devices?: number;
  /** The MAC address of the guest's network card (model/nic.ts); absent: no card. */
  readonly nic?: number;
}

/** The standard boot with no variation: CPL 0, IF = 0, every window page present, writable, user. */
export const plainGuestSpec = (g: Geometry = DEFAULT_GEOMETRY, cpl: Cpl = 0): GuestSpec => ({
  cpl,
  eflags: 0,
  wp: true,
  ts: false,
  regs: [0, 0, 0, 0],
  pteFlags: new Array(g.dirEntries * g.tableEntries).fill(PTE.P | PTE.RW | PTE.US),
  pdeFlags: new Array(g.dirEntries).fill(PTE.P | PTE.RW | PTE.US),
});

/** The machine a guest spec describes. */
export const bootGuest = (spec: GuestSpec, g: Geometry = DEFAULT_GEOMETRY): Machine => {
  const f = bootFrames(g);
  const sys = systemPageLinear(g);
  const base = bootMachine({
    geometry: g,
    devices: spec.devices ?? 0,
    eflags: spec.eflags,
    cr0: (CR0.PE | CR0.ET | CR0.PG | (spec.wp ? CR0.WP : 0) | (spec.ts ? CR0.TS : 0)) >>> 0,
  });
  let memory = base.memory;
  const sysDir = sys >>> 22;
  for (let d = 0; d < g.dirEntries; d++) {
    const pdePa = f.pageDirectory * PAGE_SIZE + d * 4;
    const keep = d === sysDir ? PTE.P | PTE.RW | PTE.US : (spec.pdeFlags[d] ?? PTE.P | PTE.RW | PTE.US);
    memory = writeWord(memory, pdePa, (f.pageTable(d) * PAGE_SIZE) | keep);
    for (let t = 0; t < g.tableEntries; t++) {
      if (linear(d, t) === sys) continue;
      const ptePa = f.pageTable(d) * PAGE_SIZE + t * 4;
      const frame = d === 0 && t === 0 ? f.pageTable(0) : d === 0 && t === 1 ? f.pageDirectory : f.data(d, t);
      memory = writeWord(
        memory,
        ptePa,
        (frame * PAGE_SIZE) | (spec.pteFlags[d * g.tableEntries + t] ?? PTE.P | PTE.RW | PTE.US),
      );
    }
  }
  return withCpl(
    {
      ...base,
      memory,
      cpu: { ...base.cpu, regs: [...spec.regs] as [number, number, number, number] },
      ...(spec.nic === undefined ? {} : { nic: idleNic(spec.nic) }),
    },
    spec.cpl,
  );
};

/** Guest specs, varied as `bootGuest` describes; `cpls` restricts the starting CPL. */
export const arbGuestSpec = (
  g: Geometry = DEFAULT_GEOMETRY,
  cpls: readonly Cpl[] = [0, 0, 3, 3, 1],
): fc.Arbitrary<GuestSpec> => {
  const flagVariants = fc.oneof(
    { weight: 5, arbitrary: fc.constant(PTE.P | PTE.RW | PTE.US) },
    { weight: 3, arbitrary: fc.subarray([PTE.P, PTE.RW, PTE.US]).map((b) => b.reduce((a, x) => a | x, 0)) },
  );
  return fc.record({
    cpl: fc.constantFrom<Cpl>(...cpls),
    eflags: arbEflagsImage,
    wp: fc.boolean(),
    ts: fc.boolean(),
    regs: fc.tuple(arbRegValue(g), arbRegValue(g), arbRegValue(g), arbRegValue(g)),
    pteFlags: fc.array(flagVariants, {
      minLength: g.dirEntries * g.tableEntries,
      maxLength: g.dirEntries * g.tableEntries,
    }),
    pdeFlags: fc.array(flagVariants, { minLength: g.dirEntries, maxLength: g.dirEntries }),
  });
};

/** A machine freshly booted and varied (see `GuestSpec`). */
export const arbBootedMachine = (g: Geometry = DEFAULT_GEOMETRY): fc.Arbitrary<Machine> =>
  arbGuestSpec(g).map((spec) => bootGuest(spec, g));

/**
 * A machine reachable from a varied boot by a short prefix of operations, each resolved with
 * generated architectural choices, so TLBs hold stale entries and tables have been rewritten.
 */
export const arbMachine = (g: Geometry = DEFAULT_GEOMETRY, maxPrefix = 8): fc.Arbitrary<Machine> =>
  fc
    .tuple(
      arbBootedMachine(g),
      fc.array(fc.tuple(arbOp(g), fc.array(fc.nat({ max: 3 }), { maxLength: 4 })), { maxLength: maxPrefix }),
    )
    .map(([m0, prefix]) => prefix.reduce((m, [op, choices]) => stepWith(m, op, replayChoices(choices)).machine, m0));

/** The harness region's first page (never generated: documents what operations avoid). */
export const HARNESS_REGION = HARNESS.HANDLERS & 0xffc0_0000;
