/**
 * Direct paging, the guest's side: how a paravirtual kernel runs the guest's bare-metal
 * operations on Xen's paravirtualized MMU (direct-paging.ts), and the abstraction function that
 * maps the hosted machine back to the guest's pseudo-physical view.
 *
 * The guest's page tables hold machine frame numbers: the kernel's P2M is one extent, machine
 * frame = the guest's first host frame + pseudo-physical frame (and M2P its inverse), applied to
 * the frame field of every present entry of a frame the real MMU walks for the guest (its base
 * pointer and the tables that base names). Every other frame holds the guest's own words.
 *
 * What a scenario's operation becomes:
 *
 * - a guest-kernel store to one of its page tables (by its own tables' walk) is the kernel's
 *   `set_pte`: handed to the hypervisor, emulated on the guest's view, and every entry it changed
 *   installed by hypercall: `update_va_mapping` for an L1 entry (`mmu_update` when Xen cannot find
 *   or lock it), `mmu_update` for an L2 entry;
 * - MOV to CR3 (and CR0.PG) is a new base pointer: `mmuext_op` PIN_L2_TABLE of the new directory,
 *   NEW_BASEPTR, UNPIN_TABLE of the old one (as Linux pins a pgd while it is in use);
 * - INVLPG is `mmuext_op(INVLPG_LOCAL)`; a CR3 reload or a CR0.PG/WP change flushes through Xen;
 * - a guest-kernel load from one of its page tables is the kernel's `pte_val()`: it runs natively
 *   and the kernel translates the machine frame back (M2P); user code reading a page table it
 *   may read sees machine frame numbers (a real limit of direct paging, stated in the README);
 * - any write to a table frame that reaches the real MMU (user mode, or the kernel with CR0.WP
 *   clear) faults on the read-only mapping; Xen reflects the #PF to the guest kernel, which
 *   completes the write the same way (in the model the hypervisor's handler plays both parts).
 *
 * The kernel asks Xen first for exactly what the bare-metal guest wrote, translated (a naive or
 * malicious port would); when Xen refuses, it does what a correct PV kernel does: makes the
 * frame that is becoming a page table read-only everywhere first, or maps a page table read-only,
 * or, as a last resort, leaves the entry not present and keeps the guest's value in its own
 * records (the kernel's memory, kept by the model beside the guest's frames): accesses through
 * such an entry fault and are emulated. A frame that becomes a page table is first written in
 * machine form (`mmu_update` on a frame with no page-table type is a plain write), its entries
 * that map page tables read-only; a frame that stops being one is written back to pseudo-physical
 * form, which Xen allows only once its type count is zero.
 */
import { CR0 } from '../bits.ts';
import { PAGE_SIZE } from '../geometry.ts';
import { peekWalk } from '../inspect.ts';
import {
  EMPTY_MEMORY,
  extractRegion,
  frameWords,
  type PhysicalMemory,
  readWord,
  replaceRegion,
  writeWord,
} from '../memory.ts';
import type { Op } from '../ops.ts';
import { PTE } from '../paging.ts';
import type { Machine } from '../state.ts';
import type { Design } from './design.ts';
import {
  formatHypercall,
  type Hypercall,
  isGuestL2Slot,
  L1_DISALLOW,
  L2_DISALLOW,
  type PageInfo,
  runHypercall,
  UNTYPED,
  XEN_L2_SLOT,
  XEN_RULES,
  type XenGuestMm,
  type XenMm,
  type XenResult,
} from './direct-paging.ts';
import { guestBase, regionFrames } from './layout.ts';
import { type HostMachine, withGuest } from './machine.ts';
import { pageTableFrames } from './page-tables.ts';
import { tlbFlushPage, tlbFlushTag, tlbView } from './tlb.ts';

/** What the PV kernel keeps for an entry whose machine form is not the plain translation of the guest's value. */
export interface PvKernelRecord {
  /** `read-only`: installed without R/W (the accessed bit comes from the machine entry); `absent`: not installed. */
  readonly kind: 'read-only' | 'absent';
  /** The guest's own (pseudo-physical) value of the entry. */
  readonly value: number;
}

/** A hypercall the guest made and Xen's answer, tagged with the guest operation it was made for (`counters.ops`). */
export interface HypercallLogEntry {
  readonly op: number;
  readonly call: Hypercall;
  readonly rc: XenResult;
}

/** Direct paging's state of one guest: Xen's, the PV kernel's records, and the latest operation's hypercalls. */
export interface DirectPagingState {
  readonly xen: XenGuestMm;
  /** The PV kernel's records, by machine address of the entry. */
  readonly records: Readonly<Record<number, PvKernelRecord>>;
  /** The hypercalls made for the latest guest operation that made any. */
  readonly log: readonly HypercallLogEntry[];
}

const EMPTY_STATE: DirectPagingState = Object.freeze({ xen: { pages: {} }, records: {}, log: [] });

/** Guest g's direct-paging state (an empty one before the design prepared it). */
export const directState = (h: HostMachine, g: number): DirectPagingState => h.guests[g]!.direct ?? EMPTY_STATE;

const firstFrame = (h: HostMachine, g: number) => guestBase(h.config, g);

/** P2M of an entry: a present entry's frame field moved to the guest's machine frames. */
export const toMachineEntry = (h: HostMachine, g: number, v: number): number =>
  v & PTE.P ? (v + firstFrame(h, g) * PAGE_SIZE) >>> 0 : v >>> 0;
/** M2P of an entry: the inverse of `toMachineEntry`. */
export const toPseudoEntry = (h: HostMachine, g: number, m: number): number =>
  m & PTE.P ? (m - firstFrame(h, g) * PAGE_SIZE) >>> 0 : m >>> 0;

const ownFrame = (h: HostMachine, g: number, mfn: number) => {
  const b = firstFrame(h, g);
  return mfn >= b && mfn < b + h.config.guestGeometry.frames;
};

/**
 * The machine frames the real MMU walks for guest g: its base pointer and the guest's frames its
 * present entries name (empty while the guest runs on the idle tables).
 */
export const machineTables = (h: HostMachine, g: number): ReadonlySet<number> => {
  const base = directState(h, g).xen.base;
  const out = new Set<number>();
  if (base === undefined) return out;
  out.add(base);
  for (const [i, e] of frameWords(h.memory, base))
    if (isGuestL2Slot(i) && e & PTE.P && ownFrame(h, g, e >>> 12)) out.add(e >>> 12);
  return out;
};

/** The guest's own value of the entry at machine address `pa` of one of its page tables. */
const guestEntry = (h: HostMachine, g: number, records: DirectPagingState['records'], pa: number): number => {
  const m = readWord(h.memory, pa);
  const r = records[pa];
  if (r === undefined) return toPseudoEntry(h, g, m);
  return r.kind === 'read-only' && m & PTE.P ? (r.value | (m & PTE.A)) >>> 0 : r.value;
};

/** Frame `mfn` of guest g as the guest sees it (its words at address 0 of a memory of its own). */
const pseudoFrame = (h: HostMachine, g: number, st: DirectPagingState, mfn: number): PhysicalMemory => {
  let mem = EMPTY_MEMORY;
  const lo = mfn * PAGE_SIZE;
  for (const [i] of frameWords(h.memory, mfn)) mem = writeWord(mem, i * 4, guestEntry(h, g, st.records, lo + i * 4));
  for (const k of Object.keys(st.records)) {
    const pa = Number(k);
    if (pa >>> 12 === mfn) mem = writeWord(mem, pa - lo, guestEntry(h, g, st.records, pa));
  }
  return mem;
};

/** Views made, by the guest's region of host memory and its direct-paging state (both immutable). */
const views = new WeakMap<PhysicalMemory, WeakMap<DirectPagingState, PhysicalMemory>>();

/**
 * The abstraction function's memory part for direct paging: guest g's region of host memory, with
 * every frame the real MMU walks for it translated back to pseudo-physical form (M2P, and the PV
 * kernel's records). Shares every other frame with host memory.
 */
export const pseudoPhysicalMemory = (h: HostMachine, g: number): PhysicalMemory => {
  const b = firstFrame(h, g);
  const region = extractRegion(h.memory, b, regionFrames(h.config));
  const st = h.guests[g]!.direct;
  if (st === undefined || st.xen.base === undefined) return region;
  let byState = views.get(region);
  if (!byState) {
    byState = new WeakMap();
    views.set(region, byState);
  }
  const cached = byState.get(st);
  if (cached) return cached;
  let mem = region;
  for (const mfn of machineTables(h, g)) mem = replaceRegion(mem, mfn - b, 1, pseudoFrame(h, g, st, mfn));
  byState.set(st, mem);
  return mem;
};

// ---------------------------------------------------------------------------------------------
// Hypercalls, from the guest.

/** Make a hypercall for guest g: Xen's rules (the design's), its TLB flushes, and the log. */
export const hypercall = (
  d: Design,
  h: HostMachine,
  g: number,
  call: Hypercall,
): { readonly host: HostMachine; readonly rc: XenResult } => {
  const st = directState(h, g);
  const x: XenMm = {
    rules: d.directPaging ?? XEN_RULES,
    config: h.config,
    guest: g,
    memory: h.memory,
    pages: new Map(Object.entries(st.xen.pages).map(([k, v]) => [Number(k), v] as const)),
    base: st.xen.base,
    flushTlb: false,
    invalidate: [],
  };
  const rc = runHypercall(x, call);
  const tag = d.tag(h, g);
  let tlb = x.flushTlb ? tlbFlushTag(h.tlb, tag) : h.tlb;
  for (const page of x.invalidate) tlb = tlbFlushPage(tlb, tag, page);
  const pages: Record<number, PageInfo> = {};
  for (const [mfn, p] of x.pages) if (p !== UNTYPED) pages[mfn] = p;
  const xen: XenGuestMm = x.base === undefined ? { pages } : { pages, base: x.base };
  const op = h.counters.ops;
  const earlier = st.log.length > 0 && st.log[0]!.op === op ? st.log : [];
  const log = [...earlier, { op, call, rc }];
  let out = withGuest({ ...h, memory: x.memory, tlb }, g, { direct: { ...st, xen, log } });
  if (g === out.current && x.base !== st.xen.base)
    out = { ...out, cpu: { ...out.cpu, cr3: realRoot(out, g) * PAGE_SIZE } };
  return { host: out, rc };
};

/** The frame the real CR3 holds while guest g runs: its base pointer, or the idle tables (the pool's empty directory). */
export const realRoot = (h: HostMachine, g: number): number => {
  const ctx = h.guests[g]!;
  return ctx.direct?.xen.base ?? ctx.shadow.root;
};

/** The hypercalls guest g made for operation `op` (a step's `before.counters.ops`), with Xen's answers. */
export const hypercallLog = (h: HostMachine, g: number, op: number): readonly HypercallLogEntry[] =>
  (h.guests[g]?.direct?.log ?? []).filter((e) => e.op === op);

/** The same, as a person reads them: `mmu_update(ptr=…, val=…) -> EBUSY`. */
export const hypercallsOf = (h: HostMachine, g: number, op: number): readonly string[] =>
  hypercallLog(h, g, op).map((e) => `${formatHypercall(e.call)} -> ${e.rc}`);

const withRecords = (h: HostMachine, g: number, patch: (r: Record<number, PvKernelRecord>) => void): HostMachine => {
  const st = directState(h, g);
  const records = { ...st.records };
  patch(records);
  return withGuest(h, g, { direct: { ...st, records } });
};

// ---------------------------------------------------------------------------------------------
// The PV kernel.

/** The linear address an L1 entry at machine address `pa` maps in the current tables, if one does. */
const linearOf = (h: HostMachine, g: number, pa: number): number | undefined => {
  const base = directState(h, g).xen.base;
  if (base === undefined) return undefined;
  for (const [i, e] of frameWords(h.memory, base))
    if (isGuestL2Slot(i) && e & PTE.P && e >>> 12 === pa >>> 12)
      return ((i << 22) | (((pa & 0xfff) >>> 2) << 12)) >>> 0;
  return undefined;
};

/**
 * Write one entry of a page table, as a 2.6.18-xen kernel's set_pte_at does: `update_va_mapping`
 * for an L1 entry the current tables map, falling back to `mmu_update` when Xen cannot find or
 * lock that entry (EINVAL); `mmu_update` for the directory's entries.
 */
const writeEntry = (d: Design, h: HostMachine, g: number, pa: number, val: number) => {
  const isRoot = pa >>> 12 === directState(h, g).xen.base;
  const va = isRoot ? undefined : linearOf(h, g, pa);
  if (va !== undefined) {
    const r = hypercall(d, h, g, { kind: 'update_va_mapping', va, val, flags: 'none' });
    if (r.rc !== 'EINVAL') return r;
    return hypercall(d, r.host, g, { kind: 'mmu_update', requests: [{ ptr: pa, val }] });
  }
  return hypercall(d, h, g, { kind: 'mmu_update', requests: [{ ptr: pa, val }] });
};

/** Write frame `mfn`'s words with an `mmu_update` batch (plain writes: the frame is no page table), if any differ. */
const writeFrame = (
  d: Design,
  h: HostMachine,
  g: number,
  mfn: number,
  words: ReadonlyMap<number, number>,
): { readonly host: HostMachine; readonly rc: XenResult } => {
  const requests = [...words]
    .filter(([i, v]) => readWord(h.memory, mfn * PAGE_SIZE + i * 4) !== v >>> 0)
    .map(([i, v]) => ({ ptr: mfn * PAGE_SIZE + i * 4, val: v >>> 0 }));
  if (requests.length === 0) return { host: h, rc: 'ok' };
  return hypercall(d, h, g, { kind: 'mmu_update', requests });
};

/**
 * Put frame `mfn` (a pseudo-physical frame of guest g's memory, no page table yet) in machine
 * form for the role it is about to take: an L2 (`root`) or an L1. Entries that could never be
 * installed (a frame past the guest's memory, flags Xen refuses, another L2) are kept in records;
 * an L1's entries that map page tables (`tables`, pseudo-physical frames) are read-only.
 */
const encodeFrame = (
  d: Design,
  h: HostMachine,
  g: number,
  mfn: number,
  role: 'l1' | 'l2',
  tables: ReadonlySet<number>,
): HostMachine => {
  const frames = h.config.guestGeometry.frames;
  const words = new Map<number, number>();
  const recs = new Map<number, PvKernelRecord>();
  const pages = directState(h, g).xen.pages;
  const add = (i: number, v: number) => {
    if (role === 'l2' && !isGuestL2Slot(i)) {
      recs.set(i, { kind: 'absent', value: v });
      return;
    }
    if (!(v & PTE.P)) return;
    const pfn = v >>> 12;
    const target = pfn + firstFrame(h, g);
    const typedL2 = pages[target]?.type === 'l2' && (pages[target]?.count ?? 0) > 0 && target !== mfn;
    if (pfn >= frames || v & (role === 'l1' ? L1_DISALLOW : L2_DISALLOW) || (role === 'l2' && typedL2)) {
      words.set(i, 0);
      recs.set(i, { kind: 'absent', value: v });
      return;
    }
    const m = toMachineEntry(h, g, v);
    const readOnly = v & PTE.RW && (role === 'l1' ? tables.has(pfn) : target === mfn);
    words.set(i, readOnly ? m & ~PTE.RW : m);
    if (readOnly) recs.set(i, { kind: 'read-only', value: v });
  };
  for (const [i, v] of frameWords(h.memory, mfn)) add(i, v);
  if (role === 'l2' && !words.has(XEN_L2_SLOT) && !recs.has(XEN_L2_SLOT)) add(XEN_L2_SLOT, 0);
  const r = writeFrame(d, h, g, mfn, words);
  if (r.rc !== 'ok') return r.host;
  return withRecords(r.host, g, (rs) => {
    for (const [i, rec] of recs) rs[mfn * PAGE_SIZE + i * 4] = rec;
  });
};

/** Put frame `mfn` back in pseudo-physical form, if Xen lets the kernel write it (it is no page table any more). */
const decodeFrame = (d: Design, h: HostMachine, g: number, mfn: number): HostMachine => {
  const st = directState(h, g);
  const lo = mfn * PAGE_SIZE;
  const words = new Map<number, number>();
  for (const [i] of frameWords(h.memory, mfn)) words.set(i, guestEntry(h, g, st.records, lo + i * 4));
  const mine = Object.keys(st.records)
    .map(Number)
    .filter((pa) => pa >>> 12 === mfn);
  for (const pa of mine) words.set((pa - lo) >>> 2, guestEntry(h, g, st.records, pa));
  const r = writeFrame(d, h, g, mfn, words);
  if (r.rc !== 'ok' || mine.length === 0) return r.host;
  return withRecords(r.host, g, (rs) => {
    for (const pa of mine) delete rs[pa];
  });
};

/** Make every L1 entry of the current tables that maps `target` writable read-only (before it becomes a page table). */
const makeReadOnly = (d: Design, h: HostMachine, g: number, target: number): HostMachine => {
  let out = h;
  const base = directState(h, g).xen.base;
  for (const mfn of machineTables(h, g)) {
    if (mfn === base) continue;
    for (const [i, e] of frameWords(out.memory, mfn)) {
      if (!(e & PTE.P && e & PTE.RW && e >>> 12 === target)) continue;
      const pa = mfn * PAGE_SIZE + i * 4;
      const value = guestEntry(out, g, directState(out, g).records, pa);
      const r = writeEntry(d, out, g, pa, e & ~PTE.RW);
      out =
        r.rc === 'ok'
          ? withRecords(r.host, g, (rs) => {
              rs[pa] = { kind: 'read-only', value };
            })
          : r.host;
    }
  }
  return out;
};

/**
 * The kernel's `set_pte`: install the guest's value `v` at machine address `pa` of one of its
 * page tables (the walked set). `tables`: the guest's page tables after the operation
 * (pseudo-physical), for the frames an L2 entry is about to link.
 */
const setEntry = (
  d: Design,
  h0: HostMachine,
  g: number,
  pa: number,
  v: number,
  tables: ReadonlySet<number>,
): HostMachine => {
  let h = h0;
  const mfn = pa >>> 12;
  const slot = (pa & 0xfff) >>> 2;
  const isRoot = mfn === directState(h, g).xen.base;
  const record = (rec: PvKernelRecord | undefined) =>
    (h = withRecords(h, g, (rs) => {
      if (rec) rs[pa] = rec;
      else delete rs[pa];
    }));
  const attempt = (val: number): boolean => {
    const r = writeEntry(d, h, g, pa, val);
    h = r.host;
    return r.rc === 'ok';
  };
  // An L2 entry about to link a frame that is not a page table yet: put the frame in machine form first.
  const target = (v >>> 12) + firstFrame(h, g);
  const links =
    isRoot && isGuestL2Slot(slot) && v & PTE.P && ownFrame(h, g, target) && !machineTables(h, g).has(target);
  if (links) h = encodeFrame(d, h, g, target, 'l1', tables);
  const literal = toMachineEntry(h, g, v);
  let done = attempt(literal);
  if (done) record(undefined);
  // Refused: the frame may still be mapped writable somewhere; make it read-only and ask again.
  if (!done && links) {
    h = makeReadOnly(d, h, g, target);
    done = attempt(literal);
    if (done) record(undefined);
  }
  if (!done && v & PTE.P && v & PTE.RW && isGuestL2Slot(slot)) {
    done = attempt(literal & ~PTE.RW);
    if (done) record({ kind: 'read-only', value: v });
  }
  if (!done) {
    // Leave it not present (Xen's own slot stays Xen's); the guest's value lives in the kernel's records.
    if (isGuestL2Slot(slot) || !isRoot) attempt(0);
    record({ kind: 'absent', value: v });
  }
  // A frame prepared for a link that did not happen goes back to pseudo-physical form.
  if (links && !machineTables(h, g).has(target)) h = decodeFrame(d, h, g, target);
  return h;
};

/** After the tables changed: frames no longer walked go back to memory; read-only entries whose target is no table any more become writable. */
const reconcile = (d: Design, h0: HostMachine, g: number, before: Iterable<number>): HostMachine => {
  let h = h0;
  const now = machineTables(h, g);
  for (const mfn of [...new Set(before)].sort((a, b) => a - b)) if (!now.has(mfn)) h = decodeFrame(d, h, g, mfn);
  const base = directState(h, g).xen.base;
  for (const [k, rec] of Object.entries(directState(h, g).records)) {
    const pa = Number(k);
    if (rec.kind !== 'read-only' || pa >>> 12 === base || !now.has(pa >>> 12)) continue;
    const target = (rec.value >>> 12) + firstFrame(h, g);
    if (now.has(target)) continue;
    const r = writeEntry(d, h, g, pa, toMachineEntry(h, g, guestEntry(h, g, directState(h, g).records, pa)));
    h = r.rc === 'ok' ? withRecords(r.host, g, (rs) => void delete rs[pa]) : r.host;
  }
  return h;
};

/** Install `frame` (pseudo-physical) as the new directory: its frames in machine form, PIN_L2_TABLE, NEW_BASEPTR. */
const install = (
  d: Design,
  h0: HostMachine,
  g: number,
  mfn: number,
  tables: ReadonlySet<number>,
): { readonly host: HostMachine; readonly ok: boolean; readonly prepared: readonly number[] } => {
  let h = h0;
  const prepared: number[] = [];
  const walked = machineTables(h, g);
  if (!walked.has(mfn)) {
    h = encodeFrame(d, h, g, mfn, 'l2', tables);
    prepared.push(mfn);
    for (const [i, e] of frameWords(h.memory, mfn)) {
      const l1 = e >>> 12;
      if (!isGuestL2Slot(i) || !(e & PTE.P) || !ownFrame(h, g, l1) || walked.has(l1) || prepared.includes(l1)) continue;
      h = encodeFrame(d, h, g, l1, 'l1', tables);
      prepared.push(l1);
    }
  }
  const pin = hypercall(d, h, g, { kind: 'mmuext_op', cmd: 'PIN_L2_TABLE', mfn });
  h = pin.host;
  if (pin.rc !== 'ok') return { host: h, ok: false, prepared };
  const r = hypercall(d, h, g, { kind: 'mmuext_op', cmd: 'NEW_BASEPTR', mfn });
  return { host: r.host, ok: r.rc === 'ok', prepared };
};

/**
 * A new base pointer for guest g: the directory its CR3 names while paging is on (`want`, a
 * machine frame), or none. Pins the new directory, switches, unpins the old one; if the new one
 * cannot be pinned while the old tables are live, releases them first (the guest runs on the
 * idle tables meanwhile) and tries once more; failing that, stays on the idle tables, where every
 * access faults to the hypervisor and is emulated.
 */
const newBase = (
  d: Design,
  h0: HostMachine,
  g: number,
  want: number | undefined,
  tables: ReadonlySet<number>,
): HostMachine => {
  let h = h0;
  const old = directState(h, g).xen.base;
  if (want === old) return hypercall(d, h, g, { kind: 'mmuext_op', cmd: 'NEW_BASEPTR', mfn: want }).host;
  const walked = [...machineTables(h, g)];
  let r = want === undefined ? undefined : install(d, h, g, want, tables);
  let prepared = r?.prepared ?? [];
  if (r) h = r.host;
  if (!r?.ok) h = hypercall(d, h, g, { kind: 'mmuext_op', cmd: 'NEW_BASEPTR', mfn: undefined }).host;
  if (old !== undefined) h = hypercall(d, h, g, { kind: 'mmuext_op', cmd: 'UNPIN_TABLE', mfn: old }).host;
  h = reconcile(d, h, g, [...walked, ...prepared]);
  if (want !== undefined && r && !r.ok) {
    r = install(d, h, g, want, tables);
    h = r.host;
    prepared = r.prepared;
    h = reconcile(d, h, g, prepared);
  }
  // Entries of the new directory left out while the old tables were live may go in now.
  const base = directState(h, g).xen.base;
  if (base !== undefined)
    for (const [k, rec] of Object.entries(directState(h, g).records)) {
      const pa = Number(k);
      if (pa >>> 12 === base && rec.kind === 'absent' && isGuestL2Slot((pa & 0xfff) >>> 2))
        h = setEntry(d, h, g, pa, rec.value, tables);
    }
  return h;
};

/** The machine frame of the directory guest g's CPU names, if paging is on and it is the guest's memory. */
const wantedBase = (h: HostMachine, g: number, view: Machine): number | undefined => {
  if (!(view.cpu.cr0 & CR0.PG)) return undefined;
  const pfn = view.cpu.cr3 >>> 12;
  return pfn < h.config.guestGeometry.frames ? pfn + firstFrame(h, g) : undefined;
};

/**
 * Write guest g's new view back (the inverse of the abstraction for the hypervisor's own writes
 * and emulation): every frame outside the walked tables directly; every changed entry of a
 * walked table through the kernel's `set_pte`; a new directory through a new base pointer.
 */
export const commitPseudoPhysical = (
  d: Design,
  h: HostMachine,
  g: number,
  before: Machine,
  view: Machine,
): HostMachine => {
  const b = firstFrame(h, g);
  const v0 = before.memory;
  const walked = [...machineTables(h, g)].sort((a, c) => a - c);
  let memory = replaceRegion(h.memory, b, regionFrames(h.config), view.memory);
  for (const mfn of walked) memory = replaceRegion(memory, mfn, 1, extractRegion(h.memory, mfn, 1));
  let out: HostMachine = { ...h, memory };
  const tables = pageTableFrames(view);
  const base = directState(h, g).xen.base;
  // In walk order, the directory first: a table one of its entries unlinks on the way is no page
  // table any more, and its changed words are plain writes before it goes back to memory.
  const order = [...walked.filter((m) => m === base), ...walked.filter((m) => m !== base)];
  for (const mfn of order) {
    const pfn = mfn - b;
    const a = new Map(frameWords(v0, pfn));
    const c = new Map(frameWords(view.memory, pfn));
    for (const i of [...new Set([...a.keys(), ...c.keys()])].sort((x, y) => x - y)) {
      const v = c.get(i) ?? 0;
      if ((a.get(i) ?? 0) === v) continue;
      out = setEntry(d, out, g, mfn * PAGE_SIZE + i * 4, v, tables);
    }
  }
  out = reconcile(d, out, g, walked);
  // A new directory (CR3 or CR0.PG changed): a new base pointer. One that could not be installed
  // is tried again at the next change, not at every operation.
  const want = wantedBase(out, g, view);
  if (want !== wantedBase(out, g, before) && want !== directState(out, g).xen.base)
    out = newBase(d, out, g, want, tables);
  return out;
};

/** Prepare guest g for direct paging, as Xen's domain builder and the kernel's first CR3 load do. */
export const bootDirect = (d: Design, h0: HostMachine, g: number, view: Machine): HostMachine => {
  let h = withGuest(h0, g, { direct: EMPTY_STATE });
  const want = wantedBase(h, g, view);
  if (want !== undefined) h = newBase(d, h, g, want, pageTableFrames(view));
  return withGuest(h, g, { direct: { ...directState(h, g), log: [] } });
};

/** The TLB maintenance a guest operation asks for, through Xen: a CR3 reload, a CR0.PG/WP change, an INVLPG. */
export const syncDirect = (
  d: Design,
  h: HostMachine,
  g: number,
  op: Op | undefined,
  newSpace: boolean,
  baseChanged: boolean,
): HostMachine => {
  // A new base pointer already went through NEW_BASEPTR, which flushes.
  if (newSpace && !baseChanged) {
    const base = directState(h, g).xen.base;
    return op?.kind === 'movToCr3'
      ? hypercall(d, h, g, { kind: 'mmuext_op', cmd: 'NEW_BASEPTR', mfn: base }).host
      : hypercall(d, h, g, { kind: 'mmuext_op', cmd: 'TLB_FLUSH_LOCAL' }).host;
  }
  if (!newSpace && op?.kind === 'invlpg')
    return hypercall(d, h, g, { kind: 'mmuext_op', cmd: 'INVLPG_LOCAL', va: op.va }).host;
  return h;
};

/** Does a store to linear `va` write one of the guest's own page tables (by its own tables' walk)? */
export const writesOwnPageTable = (view: Machine, va: number): boolean => {
  if (!(view.cpu.cr0 & CR0.PG)) return false;
  const r = peekWalk(view, va);
  return r.ok && pageTableFrames(view).has(r.frame >>> 12);
};

/**
 * After a native load of the guest kernel: if the real CPU read a page table's word, the kernel's
 * `pte_val()` translates the machine frame back (M2P; the kernel's records for entries it keeps).
 */
export const pteVal = (d: Design, h: HostMachine, op: Op, kernel: boolean): HostMachine => {
  if (op.kind !== 'load' || !kernel) return h;
  const g = h.current;
  const st = h.guests[g]!.direct;
  if (st === undefined || st.xen.base === undefined) return h;
  const page = op.va >>> 12;
  const cached = tlbView(h.tlb, d.tag(h, g)).translations.find((t) => t.page === page);
  const frame = cached?.frame ?? realFrame(h, op.va);
  if (frame === undefined || !machineTables(h, g).has(frame >>> 12)) return h;
  const pa = ((frame & PTE.FRAME) | (op.va & 0xffc)) >>> 0;
  // Only a load that ran and read the machine word (a halted CPU runs nothing).
  if (h.cpu.run !== 'running' || h.cpu.regs[op.dst] !== readWord(h.memory, pa)) return h;
  const value = guestEntry(h, g, st.records, pa);
  if (h.cpu.regs[op.dst] === value) return h;
  const regs = [...h.cpu.regs] as [number, number, number, number];
  regs[op.dst] = value;
  return { ...h, cpu: { ...h.cpu, regs } };
};

/** The frame address the real tables map `va` to (no permission check), if any. */
const realFrame = (h: HostMachine, va: number): number | undefined => {
  const r = peekWalk(h, va);
  return r.ok ? r.frame : undefined;
};
