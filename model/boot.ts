/**
 * A standard bare-metal machine, as a small protected-mode kernel would leave it: a page
 * directory and page tables over the geometry's linear window, a system page holding the GDT,
 * IDT, TSS and an LDT, and data frames. Generators start from here and vary it.
 *
 * Physical layout (frame numbers): 0 page directory; 1 .. dirEntries page tables; then the
 * system page; then one data frame per window page; then the kernel stack and the user stack
 * frames; the rest are spare.
 * Linear layout: window page (0,0) maps the page table of directory slot 0 and (0,1) the page
 * directory (supervisor, writable), so ordinary stores can rewrite live paging structures;
 * the last window page maps the system page (supervisor); every other page maps its data frame.
 * Just past the window, in the last directory slot's page table, the kernel stack page
 * (supervisor, writable) and the user stack page (user, writable): see `stackPages`.
 */
import { CR0, EFLAGS } from './bits.ts';
import { IDLE_DMA_ENGINE } from './devices.ts';
import { DEFAULT_GEOMETRY, type Geometry, linear, PAGE_SIZE } from './geometry.ts';
import { EMPTY_MEMORY, type PhysicalMemory, writeWord } from './memory.ts';
import { PTE } from './paging.ts';
import type { Cpl, Machine } from './state.ts';
import { EMPTY_TLB } from './tlb.ts';

/** Selectors of the standard GDT (SDM Vol. 3A §3.4.2: index << 3 | TI << 2 | RPL). */
export const SEL = {
  KERNEL_CODE: 0x08,
  KERNEL_DATA: 0x10,
  USER_CODE: 0x1b,
  USER_DATA: 0x23,
  TSS: 0x28,
  LDT: 0x30,
  RING1_CODE: 0x39,
  RING1_DATA: 0x41,
  CONFORMING_CODE: 0x48,
  USER_READONLY_DATA: 0x53,
  USER_EXECONLY_CODE: 0x5b,
  NOT_PRESENT_DATA: 0x60,
  AVAILABLE_TSS: 0x68,
} as const;

/** Byte offsets of the system structures inside the system page. */
export const SYSTEM_PAGE = { GDT: 0x000, TSS: 0x400, LDT: 0x500, TSS2: 0x600, IDT: 0x800 } as const;
/** Limit of the standard GDT (14 descriptors of 8 bytes, minus one: SDM Vol. 3A §3.5.1). */
export const GDT_LIMIT = 14 * 8 - 1;
/** Offsets in a 32-bit TSS of ESP0 and SS0; ring n's are 8n further (SDM Vol. 3A Figure 7-2). */
export const TSS_STACK = { ESP0: 0x04, SS0: 0x08 } as const;
/** Limit of the standard IDT (256 gates of 8 bytes, minus one: SDM Vol. 3A §6.10). */
export const IDT_LIMIT = 256 * 8 - 1;
/** Limit of the standard 32-bit TSS (104 bytes, minus one). */
export const TSS_LIMIT = 0x67;
/** Limit of the standard LDT (2 descriptors of 8 bytes, minus one). */
export const LDT_LIMIT = 2 * 8 - 1;

/**
 * Where the conformance harness keeps its exception handlers and its own stack: the top 4 MiB of
 * the linear space (directory slot 1023), which no generated operation touches. The IDT's gate
 * offsets point there so that the same bytes run on a real x86; the frames events push go to the
 * guest's own stacks (`bootStack`), which the harness shares with the model.
 */
export const HARNESS = { HANDLERS: 0xffc0_1000, HANDLER_STRIDE: 16, STACK_TOP: 0xffff_f000 } as const;

/**
 * EIP at boot: the start of the code area in directory slot 1023, where the IDT's handlers also
 * lie. The model fetches no code (state.ts `eip`); the value matters only as what frames save.
 */
export const BOOT_EIP = 0xffc0_0000;

/** Vectors whose gates user code may INT to (DPL 3): an interrupt gate and a trap gate. */
export const USER_INT_VECTORS = { INTERRUPT_GATE: 0x80, TRAP_GATE: 0x81, NOT_PRESENT: 0x82 } as const;

/** A code/data or system descriptor as its two doublewords (SDM Figure 3-8). */
export const segmentDescriptor = (
  base: number,
  limit: number,
  access: number,
  flags = 0xc,
): { lo: number; hi: number } => ({
  lo: (((base & 0xffff) << 16) | (limit & 0xffff)) >>> 0,
  hi:
    ((base & 0xff00_0000) |
      ((flags & 0xf) << 20) |
      (limit & 0xf_0000) |
      ((access & 0xff) << 8) |
      ((base >>> 16) & 0xff)) >>>
    0,
});

/** A 32-bit interrupt (type 0xE) or trap (0xF) gate (SDM Figure 6-2). */
export const gateDescriptor = (
  selector: number,
  offset: number,
  opts: { type: 0xe | 0xf; dpl: number; present: boolean },
): { lo: number; hi: number } => ({
  lo: (((selector & 0xffff) << 16) | (offset & 0xffff)) >>> 0,
  hi: ((offset & 0xffff_0000) | (opts.present ? 0x8000 : 0) | ((opts.dpl & 3) << 13) | (opts.type << 8)) >>> 0,
});

/** How `bootMachine` starts the machine: its geometry, CPL, EFLAGS, CR0 and DMA engines. */
export interface BootOptions {
  readonly geometry: Geometry;
  readonly cpl: Cpl;
  readonly eflags: number;
  readonly cr0: number;
  /** DMA engines (devices.ts) at ports 0x40 + 4d, idle; none by default. */
  readonly devices: number;
}

/** Physical frame numbers of the standard layout for a geometry. */
export const bootFrames = (g: Geometry) => {
  const pageDirectory = 0;
  const pageTable = (dir: number) => 1 + dir;
  const system = 1 + g.dirEntries;
  const data = (dir: number, table: number) => system + 1 + dir * g.tableEntries + table;
  const kernelStack = system + 1 + g.dirEntries * g.tableEntries;
  const userStack = kernelStack + 1;
  const firstSpare = userStack + 1;
  return {
    pageDirectory,
    /** The page table of directory entry `dir`. */
    pageTable,
    system,
    /** The data frame mapped at directory entry `dir`, table entry `table`. */
    data,
    kernelStack,
    userStack,
    firstSpare,
  };
};

/**
 * The linear pages of the standard stacks: just past the window in the last directory slot's page
 * table (the system page's), so no window page changes and every address space that shares that
 * table (the system page's) has them. The kernel stack page is supervisor and writable; the user
 * stack page is user and writable.
 */
export const stackPages = (g: Geometry): { readonly kernel: number; readonly user: number } => ({
  kernel: linear(g.dirEntries - 1, g.tableEntries),
  user: linear(g.dirEntries - 1, g.tableEntries + 1),
});

/** Offset in the kernel stack page of the ring-1 stack's top (the TSS's ESP1): its lower half. */
export const RING1_STACK_OFFSET = 0x800;

/**
 * The standard stack of a ring (SS and the ESP of an empty stack): ring 0 the top of the kernel
 * stack page (the TSS's SS0:ESP0), ring 1 its middle (SS1:ESP1), ring 3 the top of the user stack
 * page. The standard GDT has no ring-2 data segment: ring 2 gets the ring-0 data segment with
 * RPL 2, which IRET refuses (#GP: its DPL is not 2), and the TSS's SS2 is null.
 * These are also the SS:ESP an `iret` operation's frame returns to at an outer level (ops.ts).
 */
export const bootStack = (g: Geometry, ring: Cpl): { readonly ss: number; readonly esp: number } => {
  const { kernel, user } = stackPages(g);
  switch (ring) {
    case 0:
      return { ss: SEL.KERNEL_DATA, esp: (kernel + PAGE_SIZE) >>> 0 };
    case 1:
      return { ss: SEL.RING1_DATA, esp: (kernel + RING1_STACK_OFFSET) >>> 0 };
    case 2:
      return { ss: (SEL.KERNEL_DATA & 0xfffc) | 2, esp: (kernel + RING1_STACK_OFFSET) >>> 0 };
    case 3:
      return { ss: SEL.USER_DATA, esp: (user + PAGE_SIZE) >>> 0 };
  }
};

/** The linear page (dir, table) the system page is mapped at: the last page of the window. */
export const systemPageLinear = (g: Geometry): number => linear(g.dirEntries - 1, g.tableEntries - 1);

/**
 * The boot memory of each geometry met so far. Memory is an immutable value, so every machine
 * booted with a geometry can share one (a property run boots several guests per scenario, and
 * writing the ~600 words of the layout was a third of a hosted run's cost).
 */
const bootMemories = new Map<string, PhysicalMemory>();

/** The standard machine for a geometry. Throws only on a geometry too small to hold the layout. */
export const bootMachine = (options: Partial<BootOptions> = {}): Machine => {
  const geometry = options.geometry ?? DEFAULT_GEOMETRY;
  const cpl = options.cpl ?? 0;
  const f = bootFrames(geometry);
  if (f.firstSpare > geometry.frames) throw new RangeError(`geometry needs at least ${f.firstSpare} frames`);
  if (geometry.tableEntries < 2 && geometry.dirEntries < 2)
    throw new RangeError('geometry needs a window of at least 2 pages');
  if (geometry.tableEntries > 1022)
    throw new RangeError('geometry needs 2 page-table entries past the window for the stacks');
  const key = `${geometry.dirEntries}/${geometry.tableEntries}/${geometry.frames}/${geometry.wordsPerPage}`;
  let memory = bootMemories.get(key);
  if (memory === undefined) {
    memory = bootMemory(geometry);
    bootMemories.set(key, memory);
  }
  const sysLinear = systemPageLinear(geometry);
  const cs = cpl === 0 ? SEL.KERNEL_CODE : cpl === 3 ? SEL.USER_CODE : cpl === 1 ? SEL.RING1_CODE : SEL.KERNEL_CODE;
  const devices = options.devices ?? 0;
  return {
    geometry,
    memory,
    tlb: EMPTY_TLB,
    ...(devices > 0 ? { devices: Array.from({ length: devices }, () => IDLE_DMA_ENGINE) } : {}),
    cpu: {
      cpl,
      cs: ((cs & 0xfffc) | cpl) >>> 0,
      eip: BOOT_EIP,
      ...bootStack(geometry, cpl),
      eflags: ((options.eflags ?? 0) | EFLAGS.RESERVED1) >>> 0,
      regs: [0, 0, 0, 0],
      cr0: (options.cr0 ?? CR0.PE | CR0.ET | CR0.WP | CR0.PG) >>> 0,
      cr2: 0,
      cr3: f.pageDirectory * PAGE_SIZE,
      gdtr: { base: sysLinear + SYSTEM_PAGE.GDT, limit: GDT_LIMIT },
      idtr: { base: sysLinear + SYSTEM_PAGE.IDT, limit: IDT_LIMIT },
      ldtr: { selector: SEL.LDT, base: sysLinear + SYSTEM_PAGE.LDT, limit: LDT_LIMIT },
      tr: { selector: SEL.TSS, base: sysLinear + SYSTEM_PAGE.TSS, limit: TSS_LIMIT },
      run: 'running',
      stiShadow: false,
      pending: [],
    },
  };
};

/** The standard layout's memory for a geometry (paging structures, GDT, LDT, TSSs, IDT). */
const bootMemory = (geometry: Geometry): PhysicalMemory => {
  const f = bootFrames(geometry);
  let mem: PhysicalMemory = EMPTY_MEMORY;
  const w = (pa: number, v: number) => {
    mem = writeWord(mem, pa, v);
  };
  const sysLinear = systemPageLinear(geometry);
  const sysPa = f.system * PAGE_SIZE;

  // Paging structures.
  for (let d = 0; d < geometry.dirEntries; d++) {
    w(f.pageDirectory * PAGE_SIZE + d * 4, (f.pageTable(d) * PAGE_SIZE) | PTE.P | PTE.RW | PTE.US);
    for (let t = 0; t < geometry.tableEntries; t++) {
      const va = linear(d, t);
      let pte: number;
      if (va === sysLinear) pte = (f.system * PAGE_SIZE) | PTE.P | PTE.RW;
      else if (d === 0 && t === 0) pte = (f.pageTable(0) * PAGE_SIZE) | PTE.P | PTE.RW;
      else if (d === 0 && t === 1) pte = (f.pageDirectory * PAGE_SIZE) | PTE.P | PTE.RW;
      else pte = (f.data(d, t) * PAGE_SIZE) | PTE.P | PTE.RW | PTE.US;
      w(f.pageTable(d) * PAGE_SIZE + t * 4, pte >>> 0);
    }
  }
  // The stack pages, past the window in the last slot's table.
  const stackTable = f.pageTable(geometry.dirEntries - 1) * PAGE_SIZE;
  w(stackTable + geometry.tableEntries * 4, (f.kernelStack * PAGE_SIZE) | PTE.P | PTE.RW);
  w(stackTable + (geometry.tableEntries + 1) * 4, (f.userStack * PAGE_SIZE) | PTE.P | PTE.RW | PTE.US);

  // GDT (flat 4 GiB segments unless noted). Access byte = P | DPL | S | type (SDM Figure 3-8).
  const gdt: { lo: number; hi: number }[] = [
    { lo: 0, hi: 0 },
    segmentDescriptor(0, 0xfffff, 0x9b), // 0x08 ring-0 code, execute/read, accessed
    segmentDescriptor(0, 0xfffff, 0x93), // 0x10 ring-0 data
    segmentDescriptor(0, 0xfffff, 0xfb), // 0x18 ring-3 code
    segmentDescriptor(0, 0xfffff, 0xf3), // 0x20 ring-3 data
    segmentDescriptor(sysLinear + SYSTEM_PAGE.TSS, TSS_LIMIT, 0x8b, 0), // 0x28 32-bit TSS, busy (TR holds it)
    segmentDescriptor(sysLinear + SYSTEM_PAGE.LDT, LDT_LIMIT, 0x82, 0), // 0x30 LDT
    segmentDescriptor(0, 0xfffff, 0xbb), // 0x38 ring-1 code
    segmentDescriptor(0, 0xfffff, 0xb3), // 0x40 ring-1 data
    segmentDescriptor(0, 0xfffff, 0x9f), // 0x48 ring-0 conforming code
    segmentDescriptor(0, 0xfffff, 0xf1), // 0x50 ring-3 read-only data
    segmentDescriptor(0, 0xfffff, 0xf9), // 0x58 ring-3 execute-only code
    segmentDescriptor(0, 0xfffff, 0x13), // 0x60 ring-0 data, not present
    segmentDescriptor(sysLinear + SYSTEM_PAGE.TSS2, TSS_LIMIT, 0x89, 0), // 0x68 32-bit TSS, available (for LTR)
  ];
  gdt.forEach((d, i) => {
    w(sysPa + SYSTEM_PAGE.GDT + i * 8, d.lo);
    w(sysPa + SYSTEM_PAGE.GDT + i * 8 + 4, d.hi);
  });
  // LDT: a ring-3 data segment (selector 0x07) and a ring-0 data segment (0x0c).
  [segmentDescriptor(0, 0xfffff, 0xf3), segmentDescriptor(0, 0xfffff, 0x93)].forEach((d, i) => {
    w(sysPa + SYSTEM_PAGE.LDT + i * 8, d.lo);
    w(sysPa + SYSTEM_PAGE.LDT + i * 8 + 4, d.hi);
  });
  // TSSs: the stacks of entries to rings 0 and 1 (SS0:ESP0, SS1:ESP1; SS2 null: no ring-2 stack);
  // the I/O map base lies past the limit (no bitmap).
  for (const tss of [SYSTEM_PAGE.TSS, SYSTEM_PAGE.TSS2]) {
    for (const ring of [0, 1] as const) {
      const s = bootStack(geometry, ring);
      w(sysPa + tss + TSS_STACK.ESP0 + ring * 8, s.esp);
      w(sysPa + tss + TSS_STACK.SS0 + ring * 8, s.ss);
    }
    w(sysPa + tss + 0x64, (TSS_LIMIT + 1) << 16);
  }
  // IDT: ring-0 interrupt gates, except the user vectors.
  for (let v = 0; v < 256; v++) {
    const handler = (HARNESS.HANDLERS + v * HARNESS.HANDLER_STRIDE) >>> 0;
    const g =
      v === USER_INT_VECTORS.INTERRUPT_GATE
        ? gateDescriptor(SEL.KERNEL_CODE, handler, { type: 0xe, dpl: 3, present: true })
        : v === USER_INT_VECTORS.TRAP_GATE
          ? gateDescriptor(SEL.KERNEL_CODE, handler, { type: 0xf, dpl: 3, present: true })
          : v === USER_INT_VECTORS.NOT_PRESENT
            ? gateDescriptor(SEL.KERNEL_CODE, handler, { type: 0xe, dpl: 3, present: false })
            : gateDescriptor(SEL.KERNEL_CODE, handler, { type: 0xe, dpl: 0, present: true });
    w(sysPa + SYSTEM_PAGE.IDT + v * 8, g.lo);
    w(sysPa + SYSTEM_PAGE.IDT + v * 8 + 4, g.hi);
  }

  return mem;
};
