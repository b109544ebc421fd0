/**
 * The hypervisor toolkit: the pieces built-in designs are made of, public so that a user's design
 * can reuse them (and replace one). Each is a pure function of the host.
 *
 * - guest views: the abstraction function from the host to a guest's machine in reference form,
 *   and its inverse for the hypervisor's own writes;
 * - emulation: the hypervisor's instruction emulator is the reference semantics, run on the
 *   guest's view (as KVM's emulator runs x86 on the guest's state);
 * - MMU virtualization: shadow page tables (write-protected guest tables, filled on hidden page
 *   faults, synced on INVLPG, CR3 and CR0 writes) and EPT;
 * - CPU virtualization: context load/save for ring compression and for VMX non-root mode.
 */
import { CR0, EFLAGS } from '../bits.ts';
import { GDT_LIMIT, gateDescriptor, HARNESS, IDT_LIMIT, SEL, SYSTEM_PAGE, TSS_LIMIT } from '../boot.ts';
import { CANONICAL } from '../choice.ts';
import { descriptorDpl, isCodeOrData, isConformingCode } from '../descriptors.ts';
import { PAGE_SIZE, pageNumber } from '../geometry.ts';
import { peekWalk, peekWord } from '../inspect.ts';
import {
  deliverEvent,
  deliverPending,
  type ExitControls,
  type ExitInfo,
  type Hardware,
  type InjectedEvent,
  type Outcome,
  stepWith,
} from '../isa.ts';
import {
  clearFrame,
  extractRegion,
  frameWords,
  type PhysicalMemory,
  replaceRegion,
  sameRegionNode,
  writeWord,
} from '../memory.ts';
import { decodeNicPort } from '../nic.ts';
import { INSTRUCTION_KINDS, type Op, type OpKind } from '../ops.ts';
import { PF_ERR, PTE } from '../paging.ts';
import type { Cpl, Cpu, Machine } from '../state.ts';
import { EMPTY_TLB } from '../tlb.ts';
import type { Design, DesignAxes, HypervisorEntry } from './design.ts';
import { buildEpt, EPT_BITS, eptLeaf, eptPort, setEptRights } from './ept.ts';
import {
  assignedDevices,
  assignedRids,
  deviceMsi,
  guestDeviceEngines,
  hostIo,
  initIo,
  ioPortPassesThrough,
  ringBus,
  withGuestDeviceEngines,
} from './io.ts';
import { iommuPort, iommuRightsOfEpt, type MsiTarget, mapIova, routeMsi, routeMsiMessage } from './iommu.ts';
import { guestBase, HV_FRAME, HV_LINEAR, hostFrames, poolBase, regionFrames } from './layout.ts';
import { type HostMachine, POOL, secondLevelTables, withGuest } from './machine.ts';
import { networkBackEnd } from './net/index.ts';
import { guestNic, passedThroughNic, withGuestNic } from './net/state.ts';
import { pageTableFrames } from './page-tables.ts';
import {
  bootDirect,
  commitPseudoPhysical,
  directState,
  pseudoPhysicalMemory,
  pteVal,
  realRoot,
  syncDirect,
  writesOwnPageTable,
} from './pv-kernel.ts';
import { tlbFlushAll, tlbFlushPage, tlbFlushTag } from './tlb.ts';

export { pageTableFrames } from './page-tables.ts';

// ---------------------------------------------------------------------------------------------
// Guest views: the abstraction function.

/**
 * Guest `g` as it sees itself, in reference form: its virtual CPU (live fields taken from the
 * real CPU when it is the running guest) and its memory (its region of host memory, shared, O(1)).
 */
export const guestView = (d: Design, h: HostMachine, g: number): Machine => {
  const ctx = h.guests[g]!;
  const cpu = g === h.current ? d.save(h, g, h.cpu, ctx.vcpu) : ctx.vcpu;
  const devices = guestDeviceEngines(h, g);
  const nic = guestNic(h, g);
  return {
    geometry: h.config.guestGeometry,
    cpu,
    // Under direct paging the walked tables hold machine frames: translated back (M2P).
    memory:
      d.axes.mmu === 'direct'
        ? pseudoPhysicalMemory(h, g)
        : extractRegion(h.memory, guestBase(h.config, g), regionFrames(h.config)),
    tlb: EMPTY_TLB,
    ...(devices === undefined ? {} : { devices }),
    ...(nic === undefined ? {} : { nic }),
  };
};

/** Write a guest's view back: its memory region and virtual CPU (and the real CPU if it is running). */
export const commitGuest = (d: Design, h: HostMachine, g: number, view: Machine): HostMachine => {
  // Under direct paging, page-table entries go back through the PV kernel's hypercalls.
  const h0 =
    d.axes.mmu === 'direct' && h.guests[g]!.direct
      ? commitPseudoPhysical(d, withGuest(h, g, { vcpu: view.cpu }), g, guestView(d, h, g), view)
      : { ...h, memory: replaceRegion(h.memory, guestBase(h.config, g), regionFrames(h.config), view.memory) };
  const h1 = withGuestNic(withGuestDeviceEngines(withGuest(h0, g, { vcpu: view.cpu }), g, view.devices), g, view.nic);
  return g === h1.current ? { ...h1, cpu: d.load(h1, g, view.cpu) } : h1;
};

const sameFrame = (a: PhysicalMemory, b: PhysicalMemory, frame: number) => {
  if (sameRegionNode(a, b, frame, 1)) return true;
  const x = frameWords(a, frame);
  const y = frameWords(b, frame);
  return x.length === y.length && x.every(([w, v], i) => y[i]![0] === w && y[i]![1] === v);
};

// ---------------------------------------------------------------------------------------------
// Emulation.

/**
 * Emulate `op` for the running guest on its view with the reference semantics, write the result
 * back and keep the MMU in sync. `from` is the host to emulate from (for a trap, the host before
 * the trapping operation: the emulator restarts it).
 */
export const emulate = (
  d: Design,
  from: HostMachine,
  op: Op,
): { readonly host: HostMachine; readonly outcome: Outcome } => {
  const g = from.current;
  const v0 = guestView(d, from, g);
  const r = stepWith(v0, op, CANONICAL);
  const h1 = commitGuest(d, from, g, r.machine);
  return { host: syncMmu(d, from, h1, v0, r.machine, op, r.outcome), outcome: r.outcome };
};

/** Deliver the running guest's pending virtual interrupts that its IF allows (event injection). */
export const injectPending = (d: Design, from: HostMachine): HostMachine => {
  const g = from.current;
  const v0 = guestView(d, from, g);
  const r = deliverPending(v0);
  if (r.machine === v0) return from;
  const h1 = commitGuest(d, from, g, r.machine);
  return syncMmu(d, from, h1, v0, r.machine, undefined, r.outcome);
};

/**
 * Inject an event into the running guest: VM entry's event injection (SDM Vol. 3C §27.6.1, the
 * VM-entry interruption-information field), or under ring compression the hypervisor's bounce of
 * a trap to the guest kernel. The reference semantics delivers it on the guest's view at its
 * current EIP — through the guest's IDT, onto the guest's stack (the TSS's for an inner level),
 * with the Table 6-5 rules for faults on the way — and for #PF writes the guest's CR2 first.
 * What the frame holds (the error code, the EFLAGS image) is what the guest's state says: a
 * hypervisor that reflects a fault must give the guest's own error code and EFLAGS.
 */
export const injectEvent = (d: Design, from: HostMachine, ev: InjectedEvent): HostMachine => {
  const g = from.current;
  const v0 = guestView(d, from, g);
  const r = deliverEvent(v0, ev);
  if (r.machine === v0) return from;
  const h1 = commitGuest(d, from, g, r.machine);
  return syncMmu(d, from, h1, v0, r.machine, undefined, r.outcome);
};

/**
 * After the hypervisor changed a guest's state, bring the MMU structures along: the real TLB
 * entries of the guest's tag, and for shadow paging the shadow tables (zapped when the guest's
 * tables or paging controls changed, one entry dropped on INVLPG).
 */
export const syncMmu = (
  d: Design,
  _before: HostMachine,
  after: HostMachine,
  v0: Machine,
  v1: Machine,
  op: Op | undefined,
  outcome: Outcome,
): HostMachine => {
  const g = after.current;
  const tag = d.tag(after, g);
  const before = _before;
  const c0 = v0.cpu;
  const c1 = v1.cpu;
  const retired = outcome.status === 'retired';
  // Any MOV to CR3 that retires flushes the guest's TLB, even when it reloads the same value (SDM §4.10.4.1).
  const newSpace =
    c0.cr3 !== c1.cr3 || ((c0.cr0 ^ c1.cr0) & (CR0.PG | CR0.WP)) !== 0 || (op?.kind === 'movToCr3' && retired);
  let h = after;
  // A #PF the guest takes invalidates the faulting page in its TLB (SDM §4.10.4.1); when the
  // hypervisor delivers that #PF by emulation, it must make the real TLB forget the page too.
  if (outcome.events.some((e) => e.vector === 14 && e.source === 'exception'))
    h = { ...h, tlb: tlbFlushPage(h.tlb, tag, pageNumber(c1.cr2)) };
  if (d.axes.mmu === 'direct') {
    const baseChanged = directState(before, g).xen.base !== directState(h, g).xen.base;
    return syncDirect(d, h, g, retired ? op : undefined, newSpace, baseChanged);
  }
  if (d.axes.mmu === 'nested') {
    if (newSpace) h = { ...h, tlb: tlbFlushTag(h.tlb, tag) };
    else if (op?.kind === 'invlpg' && retired) h = { ...h, tlb: tlbFlushPage(h.tlb, tag, pageNumber(op.va)) };
    return h;
  }
  if (newSpace) {
    h = shadowZap(d, h, g);
    h = { ...h, tlb: tlbFlushTag(h.tlb, tag) };
  } else if (!(c1.cr0 & CR0.PG)) {
    // Paging off: the shadow maps guest-physical space, which no table write changes.
  } else if (op?.kind === 'invlpg' && retired) {
    h = shadowDrop(h, g, op.va);
    h = { ...h, tlb: tlbFlushPage(h.tlb, tag, pageNumber(op.va)) };
  } else h = shadowSyncTables(h, g, v0, v1);
  return h;
};

/**
 * Drop the shadow entries a change of the guest's paging structures made stale, and only those
 * (KVM's shadow MMU likewise zaps the shadow pages of the guest tables written, found through its
 * reverse maps, not every shadow page): for a changed PDE, every entry of its slot's shadow table;
 * for a changed entry of a page table, the entry of each slot whose PDE points at that table; for
 * a frame that became or stopped being a page table, every entry that maps it (a table's frame is
 * mapped read-only, so that the hypervisor sees its writes). Entries the change did not touch still
 * say what the guest's tables say, and keep serving without a fault.
 */
export const shadowSyncTables = (h: HostMachine, g: number, v0: Machine, v1: Machine): HostMachine => {
  const frames = v0.geometry.frames;
  const t0 = pageTableFrames(v0);
  const t1 = pageTableFrames(v1);
  const changedWords = (f: number): number[] => {
    if (f >= frames || sameFrame(v0.memory, v1.memory, f)) return [];
    const a = new Map(frameWords(v0.memory, f));
    const b = new Map(frameWords(v1.memory, f));
    return [...new Set([...a.keys(), ...b.keys()])].filter((i) => (a.get(i) ?? 0) !== (b.get(i) ?? 0));
  };
  const pd = (v1.cpu.cr3 & PTE.FRAME) >>> 12;
  const pdChanged = changedWords(pd);
  const tableWrites = [...new Set([...t0, ...t1])]
    .map((f) => [f, changedWords(f)] as const)
    .filter(([, w]) => w.length);
  const retyped = [...t0, ...t1].filter((f) => t0.has(f) !== t1.has(f));
  if (pdChanged.length === 0 && tableWrites.length === 0 && retyped.length === 0) return h;
  const s = h.guests[g]!.shadow;
  const shadowTable = new Map(s.tables);
  let mem = h.memory;
  for (const dir of pdChanged) {
    const t = shadowTable.get(dir);
    if (t !== undefined) mem = clearFrame(mem, t);
  }
  // The slots whose PDE points at a table, before or after the change.
  const slotsOf = (table: number): number[] => {
    const out: number[] = [];
    for (const v of [v0, v1])
      for (const [dir, pde] of frameWords(v.memory, pd))
        if (pde & PTE.P && pde >>> 12 === table && !out.includes(dir)) out.push(dir);
    return out;
  };
  for (const [table, words] of tableWrites)
    for (const dir of slotsOf(table)) {
      const t = shadowTable.get(dir);
      if (t === undefined) continue;
      for (const i of words) if (i < 1024) mem = writeWord(mem, t * PAGE_SIZE + i * 4, 0);
    }
  if (retyped.length > 0) {
    const base = guestBase(h.config, g);
    const hostFramesRetyped = new Set(retyped.map((f) => base + f));
    for (const [, t] of s.tables)
      for (const [i, e] of frameWords(mem, t))
        if (hostFramesRetyped.has(e >>> 12)) mem = writeWord(mem, t * PAGE_SIZE + i * 4, 0);
  }
  return mem === h.memory ? h : { ...h, memory: mem };
};

// ---------------------------------------------------------------------------------------------
// Shadow page tables (GVA -> HPA), in the guest's pool.

/** Whether a design maps the hypervisor's own area into the guest's address spaces (ring compression). */
const mapsHypervisorArea = (d: Design) => d.axes.cpu !== 'hardware-assisted';

/** Empty a guest's shadow tables (they refill on hidden page faults). */
export const shadowZap = (d: Design, h: HostMachine, g: number): HostMachine => {
  const s = h.guests[g]!.shadow;
  let mem = clearFrame(h.memory, s.root);
  for (const [, t] of s.tables) mem = clearFrame(mem, t);
  if (mapsHypervisorArea(d))
    mem = writeWord(mem, s.root * PAGE_SIZE + 1023 * 4, (HV_FRAME.PAGE_TABLE * PAGE_SIZE) | PTE.P | PTE.RW | PTE.A);
  return withGuest({ ...h, memory: mem }, g, { shadow: { root: s.root, tables: [] } });
};

/** Drop the shadow entry of one linear page. */
export const shadowDrop = (h: HostMachine, g: number, va: number): HostMachine => {
  const s = h.guests[g]!.shadow;
  const t = s.tables.find(([dir]) => dir === va >>> 22);
  if (!t) return h;
  return { ...h, memory: writeWord(h.memory, t[1] * PAGE_SIZE + ((va >>> 12) & 0x3ff) * 4, 0) };
};

/**
 * Fill the shadow entry for linear address `va` from the guest's tables, if the guest's
 * translation is valid, already accessed (so the hardware need not set A for the guest), and backed:
 * writable only if the guest allows writes, its PTE is dirty, and the frame is not one of the
 * guest's page tables (write protection, so the hypervisor sees every table write).
 */
export const shadowFill = (
  d: Design,
  h: HostMachine,
  g: number,
  va: number,
  access?: { readonly write: boolean; readonly user: boolean },
): HostMachine => {
  const view = guestView(d, h, g);
  const c = view.cpu;
  let gpaFrame: number;
  let rights = PTE.RW | PTE.US;
  let dirty = true;
  if (c.cr0 & CR0.PG) {
    const r = peekWalk(view, va);
    if (!r.ok || !r.path.every((s) => s.entry & PTE.A)) return h;
    gpaFrame = r.frame >>> 12;
    rights = r.rights;
    dirty = (r.path[r.path.length - 1]!.entry & PTE.D) !== 0;
  } else gpaFrame = va >>> 12;
  if (gpaFrame >= h.config.guestGeometry.frames) return h; // no guest memory there: keep trapping
  // With the guest's CR0.WP = 0 a supervisor write to a read-only page succeeds (SDM §4.6), but the
  // real CPU runs with WP = 1: after such a write fault, map the page writable and supervisor-only,
  // so that user accesses still fault (KVM's shadow MMU does the same for CR0.WP = 0).
  const supervisorWrite = access?.write === true && !access.user && !(c.cr0 & CR0.WP);
  if (supervisorWrite && !(rights & PTE.RW)) rights = (rights & ~PTE.US) | PTE.RW;
  const writable = (rights & PTE.RW) !== 0 && dirty && !pageTableFrames(view).has(gpaFrame);
  let hh = h;
  let s = hh.guests[g]!.shadow;
  const dir = va >>> 22;
  if (dir === 1023 && mapsHypervisorArea(d)) return h;
  let table = s.tables.find(([x]) => x === dir)?.[1];
  if (table === undefined) {
    if (POOL.FIRST_SHADOW_TABLE + s.tables.length >= POOL.SIZE) {
      hh = shadowZap(d, hh, g);
      s = hh.guests[g]!.shadow;
    }
    table = poolBase(g) + POOL.FIRST_SHADOW_TABLE + s.tables.length;
    const mem = writeWord(
      hh.memory,
      s.root * PAGE_SIZE + dir * 4,
      (table * PAGE_SIZE) | PTE.P | PTE.RW | PTE.US | PTE.A,
    );
    hh = withGuest({ ...hh, memory: mem }, g, { shadow: { root: s.root, tables: [...s.tables, [dir, table]] } });
  }
  const hostFrame = guestBase(h.config, g) + gpaFrame;
  const pte = (hostFrame * PAGE_SIZE) | PTE.P | PTE.A | PTE.D | (rights & PTE.US) | (writable ? PTE.RW : 0);
  return { ...hh, memory: writeWord(hh.memory, table * PAGE_SIZE + ((va >>> 12) & 0x3ff) * 4, pte >>> 0) };
};

// ---------------------------------------------------------------------------------------------
// The hypervisor's own pages (ring compression): its GDT, TSS and IDT at HV_LINEAR.

/**
 * Write the hypervisor's system page: a GDT mirroring guest `g`'s, with ring-0 code and data
 * compressed to ring 1 (the guest kernel runs there), its TSS, and the page table that maps the
 * page at HV_LINEAR, supervisor and read-only.
 */
export const writeHypervisorPage = (d: Design, h: HostMachine, g: number): HostMachine => {
  const view = guestView(d, h, g);
  let mem = h.memory;
  const sys = HV_FRAME.SYSTEM * PAGE_SIZE;
  for (let i = 0; i <= GDT_LIMIT; i += 8) {
    const read = (off: number) => readLinearWord(view, (view.cpu.gdtr.base + i + off) >>> 0);
    const lo = read(0);
    let hi = read(4);
    if (isCodeOrData(hi) && !isConformingCode(hi) && descriptorDpl(hi) === 0) hi = (hi & ~(3 << 13)) | (1 << 13);
    mem = writeWord(mem, sys + SYSTEM_PAGE.GDT + i, lo);
    mem = writeWord(mem, sys + SYSTEM_PAGE.GDT + i + 4, hi >>> 0);
  }
  mem = writeWord(mem, sys + SYSTEM_PAGE.TSS + 4, HARNESS.STACK_TOP);
  mem = writeWord(mem, sys + SYSTEM_PAGE.TSS + 8, SEL.KERNEL_DATA);
  mem = writeWord(mem, sys + SYSTEM_PAGE.TSS + 0x64, (TSS_LIMIT + 1) << 16);
  for (let v = 0; v < 256; v++) {
    const gate = gateDescriptor(SEL.KERNEL_CODE, HV_LINEAR + 0x1000, { type: 0xe, dpl: 0, present: true });
    mem = writeWord(mem, sys + SYSTEM_PAGE.IDT + v * 8, gate.lo);
    mem = writeWord(mem, sys + SYSTEM_PAGE.IDT + v * 8 + 4, gate.hi);
  }
  mem = writeWord(mem, HV_FRAME.PAGE_TABLE * PAGE_SIZE, (HV_FRAME.SYSTEM * PAGE_SIZE) | PTE.P | PTE.A);
  return { ...h, memory: mem };
};

/** A word at a linear address of a machine, read without side effects (0 if unmapped). */
const readLinearWord = (m: Machine, va: number): number => peekWord(m, va) ?? 0;

// ---------------------------------------------------------------------------------------------
// CPU virtualization: context load and save.

/** Ring compression: guest rings 0-2 run at real ring 1, ring 3 at ring 3; the hypervisor keeps IF, IOPL, CR0, CR3 and the descriptor tables. */
export const ringCompression = {
  /** The real CPU state that runs guest `g`'s vCPU `v`. */
  load: (h: HostMachine, g: number, v: Cpu): Cpu => {
    const cpl: Cpl = v.cpl === 3 ? 3 : 1;
    return {
      ...v,
      cpl,
      cs: ((v.cs & 0xfffc) | cpl) >>> 0,
      // The guest's stack too: SS's ring-0 data segment is a DPL-1 one in the hypervisor's GDT.
      ss: ((v.ss & 0xfffc) | cpl) >>> 0,
      eflags: ((v.eflags & ~(EFLAGS.IF | EFLAGS.IOPL)) | EFLAGS.IF) >>> 0,
      cr0: (CR0.PE | CR0.ET | CR0.NE | CR0.WP | CR0.PG) >>> 0,
      // The shadow root, or under direct paging the guest's base pointer (realRoot).
      cr3: realRoot(h, g) * PAGE_SIZE,
      gdtr: { base: HV_LINEAR + SYSTEM_PAGE.GDT, limit: GDT_LIMIT },
      idtr: { base: HV_LINEAR + SYSTEM_PAGE.IDT, limit: IDT_LIMIT },
      ldtr: { selector: 0, base: 0, limit: 0 },
      tr: { selector: SEL.TSS, base: HV_LINEAR + SYSTEM_PAGE.TSS, limit: TSS_LIMIT },
      pending: [],
    };
  },
  /** The vCPU `v` after it ran as the real CPU state `real`. */
  save: (_h: HostMachine, _g: number, real: Cpu, v: Cpu): Cpu => {
    // Real ring 1 runs guest rings 0-2: which one is the vCPU's own (the guest never leaves ring 3 natively:
    // every interrupt and exception reaches the hypervisor, which records the ring it delivers to).
    const cpl: Cpl = real.cpl === 3 ? 3 : v.cpl === 3 ? 0 : v.cpl;
    return {
      ...v,
      cpl,
      cs: ((real.cs & 0xfffc) | cpl) >>> 0,
      eip: real.eip,
      ss: ((real.ss & 0xfffc) | cpl) >>> 0,
      esp: real.esp,
      eflags: ((real.eflags & ~(EFLAGS.IF | EFLAGS.IOPL)) | (v.eflags & (EFLAGS.IF | EFLAGS.IOPL))) >>> 0,
      regs: real.regs,
      stiShadow: real.stiShadow,
      run: real.run,
    };
  },
  /** Every exception, INT n and external interrupt goes through the hypervisor's IDT to the hypervisor. */
  exits: {
    /** Every exception exits. */
    exception: () => true,
    softwareInterrupt: true,
    externalInterrupt: true,
  } satisfies ExitControls,
} as const;

/** VMX non-root mode: the guest runs at its own CPL on its own state; under shadow paging the hypervisor owns CR3 and CR0.PG/WP. */
export const vmx = {
  /** The real CPU state that runs guest `g`'s vCPU `v` in non-root mode. */
  load: (h: HostMachine, g: number, v: Cpu, mmu: DesignAxes['mmu']): Cpu =>
    mmu === 'nested' ? v : { ...v, cr3: h.guests[g]!.shadow.root * PAGE_SIZE, cr0: (v.cr0 | CR0.PG | CR0.WP) >>> 0 },
  /** The vCPU after a VM exit, from the real CPU state `real` and what the hypervisor owns of `v`. */
  save: (real: Cpu, v: Cpu, mmu: DesignAxes['mmu']): Cpu =>
    mmu === 'nested'
      ? real
      : { ...real, cr3: v.cr3, cr0: ((real.cr0 & ~(CR0.PG | CR0.WP)) | (v.cr0 & (CR0.PG | CR0.WP))) >>> 0 },
  /** Exit controls: HLT and I/O exiting, external-interrupt exiting; with shadow paging also CR3 and INVLPG exiting, #PF in the exception bitmap, and CR0.PG/WP owned. */
  exits: (mmu: DesignAxes['mmu'], vcpu: Cpu): ExitControls =>
    mmu === 'nested'
      ? { instruction: (op) => op.kind === 'hlt' || op.kind === 'in' || op.kind === 'out', externalInterrupt: true }
      : {
          instruction: (op) =>
            op.kind === 'hlt' ||
            op.kind === 'in' ||
            op.kind === 'out' ||
            op.kind === 'movToCr3' ||
            op.kind === 'invlpg' ||
            (op.kind === 'movFromCr' && op.cr === 3),
          exception: (v) => v === 14,
          externalInterrupt: true,
          cr0Mask: CR0.PG | CR0.WP,
          cr0ReadShadow: vcpu.cr0,
        },
} as const;

/**
 * Instructions a binary translator rewrites in guest kernel code, and a paravirtual kernel
 * replaces with hypercalls: every kind that is privileged or sensitive (the Popek–Goldberg
 * classification, properties/classify.ts; a test checks the two agree).
 */
export const NOT_INNOCUOUS: ReadonlySet<OpKind> = new Set<OpKind>(
  INSTRUCTION_KINDS.filter((k) => !['movImm', 'add', 'load', 'store', 'ud2'].includes(k)),
);

// ---------------------------------------------------------------------------------------------
// Devices: interrupts from assigned devices.

/**
 * Make `vector` pending in guest `g`'s virtual CPU; if `g` runs, deliver what its IF allows now
 * (event injection at the next VM entry), otherwise it waits for the guest's next entry.
 */
export const injectInterrupt = (d: Design, h: HostMachine, g: number, vector: number): HostMachine => {
  const view = guestView(d, h, g);
  if (view.cpu.pending.includes(vector) && g !== h.current) return h;
  const pending = view.cpu.pending.includes(vector)
    ? view.cpu.pending
    : [...view.cpu.pending, vector].sort((a, b) => a - b);
  const h1 = commitGuest(d, h, g, { ...view, cpu: { ...view.cpu, pending } });
  return g === h1.current ? injectPending(d, h1) : h1;
};

/**
 * The hypervisor's handler for an assigned device's completion (`device-interrupt` exit): record
 * the IOMMU's DMA fault if it blocked the transfer, route the MSI (interrupt remapping, or the
 * hypervisor's host-vector table when MSIs are not remapped) and inject it into its guest.
 */
export const deviceInterrupt = (
  d: Design,
  h: HostMachine,
  exit: Extract<ExitInfo, { reason: 'device-interrupt' }>,
): HostMachine => {
  const io = hostIo(h);
  const rid = assignedRids(h, h.current)[exit.device];
  if (rid === undefined) return h;
  let faults = io.iommu.faults;
  if (exit.blocked)
    faults = [...faults, { kind: 'dma', rid, address: exit.blocked.address, write: exit.blocked.write }];
  let hostInterrupts = io.hostInterrupts;
  const targets: MsiTarget[] = [];
  if (exit.message === undefined && exit.request === undefined) {
    // An exit built without messages (a bare vector): routed by source id, as before messages existed.
    const target = exit.vector === undefined ? undefined : routeMsi(io.iommu, io.hostVectors, rid, exit.vector);
    if (target?.kind === 'blocked') faults = [...faults, { kind: 'interrupt', rid, vector: exit.vector! }];
    if (target) targets.push(target);
  } else {
    const dev = assignedDevices(h, h.current)[exit.device];
    const sent = [exit.request, exit.message && deviceMsi(dev, exit.message)];
    for (const m of sent) {
      if (!m) continue;
      const r = routeMsiMessage(io.iommu, io.hostVectors, rid, m);
      if (r.kind !== 'blocked') targets.push(r);
      else if (r.recorded && r.reason !== 'illegal-vector')
        faults = [
          ...faults,
          {
            kind: 'interrupt',
            rid,
            vector: m.data & 0xff,
            reason: r.reason,
            ...(r.index === undefined ? {} : { index: r.index }),
          },
        ];
    }
  }
  for (const t of targets) if (t.kind === 'host') hostInterrupts = [...hostInterrupts, { rid, vector: t.vector }];
  let h1: HostMachine =
    faults === io.iommu.faults && hostInterrupts === io.hostInterrupts
      ? h
      : { ...h, io: { ...io, iommu: { ...io.iommu, faults }, hostInterrupts } };
  for (const t of targets) if (t.kind === 'guest') h1 = injectInterrupt(d, h1, t.guest, t.vector);
  return h1;
};

// ---------------------------------------------------------------------------------------------
// Write tracking through EPT, and device mappings derived from it.

/** The EPT leaf entry that maps guest `g`'s guest-physical address `gpa`, or undefined. */
export const guestEptLeaf = (h: HostMachine, g: number, gpa: number): number | undefined =>
  eptLeaf(h.memory, h.guests[g]!.eptRoot * PAGE_SIZE, gpa);

/** Does guest `g`'s EPT map `gpa` readable but not writable (a page the hypervisor write-tracks)? */
export const writeTrackedInEpt = (h: HostMachine, g: number, gpa: number): boolean => {
  const e = guestEptLeaf(h, g, gpa);
  return e !== undefined && (e & EPT_BITS.R) !== 0 && !(e & EPT_BITS.W);
};

/**
 * Guest `g`'s devices' IOMMU mappings of guest frames `frames`, derived from its EPT: the same host
 * frame, with the rights the EPT entry gives the guest's CPU (`iommuRightsOfEpt`), unmapped where
 * EPT maps nothing. A device then cannot write what the guest's CPU cannot write without the
 * hypervisor seeing it.
 */
export const deriveIommuFromEpt = (h: HostMachine, g: number, frames: readonly number[]): HostMachine => {
  const rids = assignedRids(h, g);
  const roots = [
    ...new Set(
      hostIo(h)
        .iommu.domains.filter((x) => rids.includes(x.rid))
        .map((x) => x.root),
    ),
  ];
  let memory = h.memory;
  for (const root of roots)
    for (const f of frames) {
      const e = guestEptLeaf(h, g, f * PAGE_SIZE);
      memory = mapIova(
        memory,
        root * PAGE_SIZE,
        f * PAGE_SIZE,
        e === undefined ? 0 : e & EPT_BITS.FRAME,
        e === undefined ? 0 : iommuRightsOfEpt(e),
      );
    }
  return memory === h.memory ? h : { ...h, memory };
};

/**
 * Keep guest `g`'s frames `frames` read-only in its EPT (R and X, no W), derive its devices'
 * mappings of them from EPT (read-only too), and drop the guest's cached translations (INVEPT:
 * the real TLB may hold writable ones).
 */
export const writeProtectInEpt = (d: Design, h: HostMachine, g: number, frames: readonly number[]): HostMachine => {
  const root = h.guests[g]!.eptRoot * PAGE_SIZE;
  let memory = h.memory;
  for (const f of frames) memory = setEptRights(memory, root, f * PAGE_SIZE, EPT_BITS.R | EPT_BITS.X);
  const h1 = deriveIommuFromEpt({ ...h, memory }, g, frames);
  return { ...h1, tlb: tlbFlushTag(h1.tlb, d.tag(h1, g)) };
};

/**
 * The hypervisor's answer to a DMA fault on a page it write-tracks: it records the fault, then
 * completes the transfer itself (the reference completion on the guest's view, from before the
 * device ran: the word lands, the engine is DONE, the MSI is raised), so the guest sees what bare
 * metal shows while every device write still passes through the hypervisor. (PCIe page requests,
 * VT-d §7.5, let a device retry after the host resolves its fault; the model folds the retry into
 * the handler.)
 */
export const serviceDmaFault = (
  d: Design,
  h: HostMachine,
  entry: Extract<HypervisorEntry, { kind: 'exit' }>,
): HostMachine => {
  const exit = entry.exit;
  if (exit.reason !== 'device-interrupt' || !exit.blocked) return h;
  const rid = assignedRids(h, h.current)[exit.device];
  const io = hostIo(entry.before);
  const logged =
    rid === undefined
      ? entry.before
      : {
          ...entry.before,
          io: {
            ...io,
            iommu: {
              ...io.iommu,
              faults: [
                ...hostIo(h).iommu.faults,
                { kind: 'dma' as const, rid, address: exit.blocked.address, write: exit.blocked.write },
              ],
            },
          },
        };
  return emulate(d, { ...logged, tlb: h.tlb }, entry.op).host;
};

// ---------------------------------------------------------------------------------------------
// A design from its axes.

/** The standard handler: emulate what trapped, keep the MMU in sync, fill the shadow after a hidden fault. */
export const standardHandle =
  (dref: () => Design) =>
  (h: HostMachine, entry: HypervisorEntry): HostMachine => {
    const d = dref();
    if (entry.kind === 'call') return emulate(d, h, entry.op).host;
    if (entry.exit.reason === 'device-interrupt') {
      const b = entry.exit.blocked;
      // A device write the IOMMU refused on a page the hypervisor write-tracks: it completes it.
      if (d.axes.mmu === 'nested' && b?.write && writeTrackedInEpt(h, h.current, b.address))
        return serviceDmaFault(d, h, entry);
      return deviceInterrupt(d, h, entry.exit);
    }
    let out: HostMachine;
    if (entry.phase === 'boundary') out = injectPending(d, h);
    // Restart the operation by emulation from before it ran, but keep what the real CPU did to the
    // real TLB on the way (a real #PF already dropped the page's entries, SDM §4.10.4.1).
    else out = emulate(d, { ...entry.before, tlb: h.tlb }, entry.op).host;
    if (
      d.axes.mmu === 'shadow' &&
      entry.exit.reason === 'exception' &&
      entry.exit.vector === 14 &&
      entry.exit.address !== undefined
    )
      out = shadowFill(d, out, out.current, entry.exit.address, {
        write: ((entry.exit.errorCode ?? 0) & PF_ERR.WR) !== 0,
        user: ((entry.exit.errorCode ?? 0) & PF_ERR.US) !== 0,
      });
    return out;
  };

/** Options of `composeDesign`: the axes, a name, and any function to replace. */
export type DesignSpec = { readonly name: string; readonly description: string; readonly axes: DesignAxes } & Partial<
  Omit<Design, 'name' | 'description' | 'axes'>
>;

/**
 * A design from its choices on each axis, with the toolkit's standard pieces; any piece given in
 * `spec` replaces the standard one (a user's new shadow-sync scheme, a mutant's missing flush).
 */
export const composeDesign = (spec: DesignSpec): Design => {
  const { axes } = spec;
  // Direct paging needs a guest kernel that asks the hypervisor for every page-table change.
  if (axes.mmu === 'direct' && axes.cpu !== 'paravirtual')
    throw new RangeError(`${spec.name}: direct paging needs the paravirtual CPU (cpu: 'paravirtual')`);
  const rc = axes.cpu !== 'hardware-assisted';
  let self: Design;
  const std: Design = {
    name: spec.name,
    description: spec.description,
    axes,
    init: (h0) => {
      let h = h0;
      if (rc) h = writeHypervisorPage(self, h, 0);
      for (const ctx of h.guests) {
        if (axes.mmu === 'nested') {
          const tables = secondLevelTables(h.config, ctx.id, 'ept');
          h = {
            ...h,
            memory: buildEpt(h.memory, ctx.eptRoot, tables, h.config.guestGeometry.frames, guestBase(h.config, ctx.id)),
          };
        } else h = shadowZap(self, h, ctx.id);
        // Direct paging: the guest's own tables in machine form, pinned, its base pointer (the
        // shadow root above stays as the idle tables of a guest with none).
        if (axes.mmu === 'direct') h = bootDirect(self, h, ctx.id, guestView(self, h, ctx.id));
      }
      h = initIo(axes, h);
      if (self.network && h.net) h = self.network.init(self, h);
      if (axes.mmu === 'nested' && self.readOnlyInEpt)
        for (const ctx of h.guests) h = writeProtectInEpt(self, h, ctx.id, self.readOnlyInEpt(h, ctx.id));
      return { ...h, cpu: self.load(h, h.current, h.guests[h.current]!.vcpu) };
    },
    hardware: (h) => {
      const bytes = hostFrames(h.config) * PAGE_SIZE;
      const identity = (pa: number) => (pa < bytes ? pa : -1);
      const vcpu = h.guests[h.current]!.vcpu;
      const physical = axes.mmu === 'nested' ? eptPort(h.guests[h.current]!.eptRoot * PAGE_SIZE, bytes) : identity;
      const base = vmx.exits(axes.mmu, vcpu);
      // The I/O bitmap leaves the ports of an assigned device, and a paravirtual slot's, open.
      const exits: ExitControls = rc
        ? ringCompression.exits
        : {
            ...base,
            instruction: (op, cpu) =>
              !ioPortPassesThrough(h, op) && !nicPortPassesThrough(h, op) && (base.instruction?.(op, cpu) ?? false),
          };
      const devices = h.guests[h.current]!.devices;
      return {
        physical,
        exits,
        // Devices reach memory only through the IOMMU (absent: bus addresses are host addresses).
        dma: iommuPort(hostIo(h).iommu, assignedRids(h, h.current), bytes),
        ...(devices?.kind === 'ring' ? { ports: ringBus(devices.frame, devices.count) } : {}),
      } satisfies Hardware;
    },
    load: (h, g, v) => (rc ? ringCompression.load(h, g, v) : vmx.load(h, g, v, axes.mmu)),
    save: (h, g, real, v) => (rc ? ringCompression.save(h, g, real, v) : vmx.save(real, v, axes.mmu)),
    dispatch: (h, op) => {
      // An emulated or paravirtual device's completion is the hypervisor's device model or back end at work.
      if (op.kind === 'dmaComplete') return h.guests[h.current]!.devices?.kind === 'assigned' ? 'native' : 'hypervisor';
      // A frame from the wire interrupts the card's owner, unless the card's hardware switches it alone.
      if (op.kind === 'frameIn') return self.network?.dataPath === 'software' ? 'hypervisor' : 'native';
      if (axes.cpu !== 'binary-translation' && axes.cpu !== 'paravirtual') return 'native';
      const v = self.save(h, h.current, h.cpu, h.guests[h.current]!.vcpu);
      if (v.cpl === 3) return 'native';
      // A translator emits guest-kernel memory accesses against truncated segments, so an access to
      // the area the hypervisor keeps at the top of the linear space faults to it and is emulated
      // on the guest's own view (VMware's segment truncation); a PV kernel knows the area is Xen's
      // (the PV ABI reserves it), so its loads there read it.
      if (axes.cpu === 'binary-translation' && op.kind === 'load' && op.va >>> 22 === HV_LINEAR >>> 22)
        return 'hypervisor';
      // Under direct paging a kernel store to one of its page tables is its set_pte: a hypercall.
      if (axes.mmu === 'direct' && op.kind === 'store')
        return writesOwnPageTable(guestView(self, h, h.current), op.va) ? 'hypervisor' : 'native';
      return NOT_INNOCUOUS.has(op.kind) ? 'hypervisor' : 'native';
    },
    handle: standardHandle(() => self),
    afterNative: (h0, op) => {
      if (!rc) return h0; // VMX delivers injected interrupts itself at the guest's instruction boundaries
      const v = self.save(h0, h0.current, h0.cpu, h0.guests[h0.current]!.vcpu);
      // Under direct paging the kernel reads its page-table entries with pte_val() (M2P).
      const h = axes.mmu === 'direct' && op ? pteVal(self, h0, op, v.cpl !== 3) : h0;
      return v.pending.length > 0 && v.eflags & EFLAGS.IF && !v.stiShadow ? injectPending(self, h) : h;
    },
    tag: (_h, g) => (axes.tlb === 'vpid' ? g + 1 : 0),
    switchTo: (h, to) => {
      if (to === h.current) return h;
      const saved = withGuest(h, h.current, { vcpu: self.save(h, h.current, h.cpu, h.guests[h.current]!.vcpu) });
      const tlb = axes.tlb === 'flush' ? tlbFlushAll(saved.tlb) : saved.tlb;
      const next = { ...saved, tlb, current: to };
      const entered = { ...next, cpu: self.load(next, to, next.guests[to]!.vcpu) };
      // VM entry injects the virtual interrupts that became pending while the guest was out, if its IF allows.
      const v = entered.guests[to]!.vcpu;
      return v.pending.length > 0 && v.eflags & EFLAGS.IF && !v.stiShadow ? injectPending(self, entered) : entered;
    },
  };
  for (const f of Object.values(std)) if (typeof f === 'function') STANDARD_PIECES.add(f);
  // The network piece: the spec's own, or the built-in back end of the axis (a built-in one spread
  // from another design's spec is that design's axis choice, not this one's).
  const given = spec.network && !STANDARD_PIECES.has(spec.network) ? spec.network : undefined;
  const network = given ?? (axes.net ? networkBackEnd(axes.net) : undefined);
  if (network && !given) STANDARD_PIECES.add(network);
  if (network) (std as { network?: typeof network }).network = network;
  const { name: _n, description: _d, axes: _a, ...overrides } = spec;
  // A spec spread from another composed design (`{ ...ept, tag: … }`) carries that design's
  // standard pieces, bound to it: drop them, so this design's own standard pieces serve.
  const own = Object.fromEntries(
    Object.entries(overrides).filter(
      ([, f]) => !((typeof f === 'function' || typeof f === 'object') && f !== null && STANDARD_PIECES.has(f)),
    ),
  );
  self = { ...std, ...own };
  return self;
};

/** Whether IN/OUT `op` of the running guest reaches its network virtual function without the hypervisor. */
const nicPortPassesThrough = (h: HostMachine, op: Op): boolean =>
  (op.kind === 'in' || op.kind === 'out') &&
  passedThroughNic(h, h.current) !== undefined &&
  decodeNicPort(op.port) !== undefined;

/** The standard pieces `composeDesign` made (recognised when a spec is spread from a design). */
const STANDARD_PIECES = new WeakSet<object>();
