/**
 * Efficiency (Popek–Goldberg's third requirement, DESIGN.md §4): measured as the share of guest
 * operations that ran without the hypervisor, per operation kind; and checked as a property that
 * counts traps against what the design's own mechanism needs, axis by axis:
 *
 * - CPU: an innocuous operation never traps and is never handed to the hypervisor, except for the
 *   guest's own exception (bare metal faults too and the hypervisor reflects it) and the MMU's
 *   counted faults below;
 * - MMU: a fault the guest does not see (a hidden #PF under shadow paging, an EPT violation) is
 *   taken at most once per page and access kind (read or write, user or supervisor) after the last
 *   change to what maps the page — for shadow paging the guest's own paging state for it (CR3,
 *   CR0.PG/WP, its PDE and PTE, whether its frame is a page table) or an INVLPG of it or a MOV to
 *   CR3; for EPT its EPT entries — or a fault on the same page at the other privilege (a supervisor
 *   write under CR0.WP = 0 and a user read cannot share one shadow entry). A page that stopped
 *   being a page table is therefore written without a trap once its first write has let the design
 *   notice. Exempt, because each such access must reach the hypervisor: an address with no memory
 *   behind it, a write to a live page table under shadow paging or to a page the design keeps
 *   read-only in EPT (write tracking), the hypervisor's own linear area under ring compression;
 * - TLB: a guest switch is not a change to what maps a page, so under either policy (flush, VPID)
 *   no page faults again because of a switch;
 * - I/O: on VT-x, the registers the design's I/O choice hands the guest (an assigned device's or a
 *   virtual function's, a paravirtual slot's but for the notify) are reached without an exit;
 * - network: software copies at most one per transmit and one per delivery, none on a hardware
 *   data path (network/efficiency.ts).
 *
 * Direct paging (Xen PV) is MMU virtualization without shadow tables: a guest-kernel store to its
 * own page table is its set_pte, a hypercall, and a write that faults on a page table mapped
 * read-only, or an access through an entry the kernel left not present because Xen refused it, is
 * a hidden #PF the design needs every time; those are not counted (the kernel's fallback faults on
 * every access by design).
 *
 * Interrupts need no rule of their own: each operation reaches the hypervisor at most once, and a
 * timer tick must (resource control).
 */
import {
  CR0,
  type Design,
  DMA_REG,
  decodeDmaPort,
  decodeNicPort,
  EPT_32,
  formatOp,
  guestView,
  type HostMachine,
  HV_LINEAR,
  hex,
  INSTRUCTION_KINDS,
  type Machine,
  MSI_REG,
  NOT_INNOCUOUS,
  type OpKind,
  PAGE_SIZE,
  PF_ERR,
  PTE,
  pageTableFrames,
  peekWalk,
  readWord,
  step,
  walk,
  writesOwnPageTable,
  writeTrackedInEpt,
} from '../model/index.ts';
import { networkCopiesViolation } from './network/efficiency.ts';
import type { Property, PropertyFailure } from './property.ts';
import type { Trace, TraceStep } from './trace.ts';

/** The innocuous instruction kinds (the classification's, see NOT_INNOCUOUS). */
export const INNOCUOUS_KINDS: readonly OpKind[] = INSTRUCTION_KINDS.filter((k) => !NOT_INNOCUOUS.has(k));

/**
 * Does bare metal raise an exception (or shut down) for this step's operation in the state the
 * guest was in before it? The guest's own state, not the reference run's: once a design has
 * diverged (an equivalence failure such as `bt`'s user-mode POPF, which equivalence reports), the
 * reference run is elsewhere, and whether a trap is the guest's own exception depends on where the
 * guest is. Computed only for the steps that trapped.
 */
const bareMetalFaults = (t: Trace, s: TraceStep): boolean => {
  const status = step(guestView(t.design, s.before, s.guest), s.op).outcome.status;
  return status === 'faulted' || status === 'shutdown';
};

const tablesOf = new WeakMap<Machine, ReadonlySet<number>>();
/** The guest-physical frames of a view's live paging structures (memoized per view). */
const liveTables = (v: Machine): ReadonlySet<number> => {
  let t = tablesOf.get(v);
  if (!t) {
    t = pageTableFrames(v);
    tablesOf.set(v, t);
  }
  return t;
};

/**
 * The guest's translation of `va` as the one walker reads it (no side effects), with bare metal's
 * physical memory: past the installed frames a read answers all ones (README, scope).
 */
const guestWalk = (v: Machine, va: number) =>
  peekWalk(v, va, (pa) => (pa >>> 12 < v.geometry.frames ? readWord(v.memory, pa) : 0xffff_ffff));

/** What maps linear page `va` for the guest: its paging controls, the entries on its path, whether its frame is a table. */
const shadowSignature = (v: Machine, va: number): string => {
  const c = v.cpu;
  const controls = `${c.cr3 & PTE.FRAME}/${c.cr0 & (CR0.PG | CR0.WP)}`;
  if (!(c.cr0 & CR0.PG)) return controls;
  const r = guestWalk(v, va);
  const path = r.path.map((p) => p.entry).join(',');
  return `${controls}/${path}/${r.ok ? liveTables(v).has(r.frame >>> 12) : r.reason}`;
};

/** What maps guest-physical page `gpa` in guest g's EPT: the entries on its EPT path. */
const eptSignature = (h: HostMachine, g: number, gpa: number): string => {
  const r = walk(
    EPT_32,
    h.guests[g]!.eptRoot * PAGE_SIZE,
    gpa,
    (pa) => readWord(h.memory, pa),
    () => true,
  );
  return `${r.path.map((p) => p.entry).join(',')}/${r.ok ? 'ok' : r.reason}`;
};

/** A counted MMU fault: its page and access kind, what mapped the page after it, and where it was. */
interface FaultRecord {
  readonly guest: number;
  readonly kind: 'shadow' | 'ept';
  readonly page: number;
  readonly write: boolean;
  readonly user: boolean;
  signature: string;
  readonly step: number;
}

const describeAccess = (r: Pick<FaultRecord, 'write' | 'user'>) =>
  `${r.user ? 'user' : 'supervisor'} ${r.write ? 'write' : 'read'}`;

/** The MMU-virtualization fault a trapped step took, or undefined (the trap is something else). */
type MmuFault =
  | { readonly kind: 'shadow'; readonly va: number; readonly write: boolean; readonly user: boolean }
  | { readonly kind: 'ept'; readonly gpa: number; readonly write: boolean };

const mmuFaultOf = (d: Design, s: TraceStep): MmuFault | undefined => {
  if (s.ran.kind !== 'trap') return undefined;
  const e = s.ran.exit;
  if (d.axes.mmu === 'shadow' && e.reason === 'exception' && e.vector === 14 && e.address !== undefined)
    return {
      kind: 'shadow',
      va: e.address >>> 0,
      write: ((e.errorCode ?? 0) & PF_ERR.WR) !== 0,
      user: ((e.errorCode ?? 0) & PF_ERR.US) !== 0,
    };
  if (e.reason === 'ept-violation') return { kind: 'ept', gpa: e.address >>> 0, write: e.write };
  return undefined;
};

/**
 * Why each access of this fault must reach the hypervisor (it is exempt from the count), or
 * undefined when the design's mechanism needs it only once.
 */
const exempt = (d: Design, s: TraceStep, before: Machine, f: MmuFault): string | undefined => {
  const frames = before.geometry.frames;
  if (f.kind === 'ept') {
    if (f.gpa >>> 12 >= frames) return 'no memory';
    if (f.write && writeTrackedInEpt(s.before, s.guest, f.gpa)) return 'write-tracked';
    return undefined;
  }
  if (d.axes.cpu !== 'hardware-assisted' && f.va >>> 0 >= HV_LINEAR) return "the hypervisor's area";
  let frame = f.va >>> 12;
  if (before.cpu.cr0 & CR0.PG) {
    const r = guestWalk(before, f.va);
    if (!r.ok) return undefined;
    frame = r.frame >>> 12;
  }
  if (frame >= frames) return 'no memory';
  if (f.write && liveTables(before).has(frame)) return 'a page table';
  return undefined;
};

/** The counted-fault bookkeeping of one trace: records per guest, checked and renewed step by step. */
const faultCounter = (t: Trace) => {
  const records = new Map<string, FaultRecord>();
  const key = (g: number, kind: string, page: number, write: boolean, user: boolean) =>
    `${g}/${kind}/${page}/${write}/${user}`;
  const signatureIn = (r: FaultRecord, view: Machine, h: HostMachine) =>
    r.kind === 'shadow' ? shadowSignature(view, r.page << 12) : eptSignature(h, r.guest, r.page << 12);
  /** Forget every record of guest g whose page's mapping is no longer what it was. */
  const revalidate = (g: number, view: () => Machine, h: HostMachine) => {
    for (const [k, r] of records) if (r.guest === g && signatureIn(r, view(), h) !== r.signature) records.delete(k);
  };
  let last: TraceStep | undefined;
  return (s: TraceStep): PropertyFailure | undefined => {
    const g = s.guest;
    let beforeView: Machine | undefined;
    const before = () => {
      beforeView ??= guestView(t.design, s.before, g);
      return beforeView;
    };
    // What happened between this guest's steps (a switch may inject an interrupt).
    if (last && last.guest !== g) revalidate(g, before, s.before);
    last = s;
    let failure: PropertyFailure | undefined;
    const f = mmuFaultOf(t.design, s);
    let counted: FaultRecord | undefined;
    if (f) {
      // The guest's own fault (bare metal faults too, perhaps not with #PF: a #PF whose delivery fails becomes #DF).
      const own = f.kind === 'shadow' && bareMetalFaults(t, s);
      if (!own && exempt(t.design, s, before(), f) === undefined) {
        const page = (f.kind === 'shadow' ? f.va : f.gpa) >>> 12;
        const user = f.kind === 'shadow' && f.user;
        const k = key(g, f.kind, page, f.write, user);
        const previous = records.get(k);
        if (previous)
          failure = {
            step: s.index,
            guest: g,
            message: `${f.kind === 'shadow' ? 'hidden page fault' : 'EPT violation'} on ${f.kind === 'shadow' ? 'linear' : 'guest-physical'} page ${hex(page << 12)} (a ${describeAccess({ write: f.write, user })}) taken again though nothing that maps the page changed since the same fault at step ${previous.step}: a trap the design's mechanism does not need (at most one per page and access kind)`,
          };
        // A fault at the other privilege may reshape the page's one shadow entry: its faults start afresh.
        for (const [x, r] of records)
          if (r.guest === g && r.kind === f.kind && r.page === page && r.user !== user) records.delete(x);
        counted = { guest: g, kind: f.kind, page, write: f.write, user, signature: '', step: s.index };
      }
    }
    // Invalidations the guest asked for: its INVLPG drops a page, its MOV to CR3 every page.
    if (s.op.kind === 'invlpg') {
      const page = s.op.va >>> 12;
      for (const [x, r] of records) if (r.guest === g && r.kind === 'shadow' && r.page === page) records.delete(x);
    }
    if (s.op.kind === 'movToCr3') for (const [x, r] of records) if (r.guest === g) records.delete(x);
    revalidate(g, () => s.view, s.after);
    if (counted) {
      counted.signature = signatureIn(counted, s.view, s.after);
      records.set(key(g, counted.kind, counted.page, counted.write, counted.user), counted);
    }
    return failure;
  };
};

/**
 * Does the design's I/O choice hand this port to the guest (VT-x only: an assigned device's or
 * virtual function's registers, a paravirtual slot's but for the notify)? Then IN/OUT must not exit.
 */
const passedThrough = (d: Design, s: TraceStep, before: () => Machine): boolean => {
  if (d.axes.cpu !== 'hardware-assisted' || (s.op.kind !== 'in' && s.op.kind !== 'out')) return false;
  const io = d.axes.io ?? 'emulated';
  const at = decodeDmaPort(s.op.port, before().devices?.length ?? 0);
  // An assigned device's MSI address and data are the hypervisor's to program (the MSI capability
  // in configuration space, which VFIO emulates): those ports exit by design.
  const msi = at !== undefined && (at.reg === MSI_REG.ADDRESS || at.reg === MSI_REG.DATA);
  if (at && !msi && (io === 'passthrough' || io === 'sriov')) return true;
  if (at && io === 'paravirtual') return !(s.op.kind === 'out' && at.reg === DMA_REG.COMMAND);
  return d.axes.net === 'sriov' && before().nic !== undefined && decodeNicPort(s.op.port) !== undefined;
};

export const efficiency: Property = {
  name: 'efficiency',
  description:
    'traps counted against what the design’s mechanism needs: innocuous operations run natively (bar the guest’s own faults), MMU faults at most once per page and access kind until what maps the page changes, passed-through I/O never exits',
  check: (design, _scenario, trace) => {
    const net = networkCopiesViolation(design, trace);
    const count = faultCounter(trace);
    for (const s of trace.steps) {
      if (net && net.step <= s.index) return net;
      const storm = count(s);
      if (storm) return storm;
      if (s.ran.kind === 'native') continue;
      const innocuous = INNOCUOUS_KINDS.includes(s.op.kind);
      if (s.ran.kind === 'call') {
        // Under ring compression the top of the linear space is the hypervisor's: an access there is its to emulate.
        const hvArea = 'va' in s.op && design.axes.cpu !== 'hardware-assisted' && s.op.va >>> 0 >= HV_LINEAR;
        // Direct paging: the guest kernel's store to its own page table is its set_pte, a hypercall.
        const setPte =
          design.axes.mmu === 'direct' &&
          s.op.kind === 'store' &&
          writesOwnPageTable(guestView(design, s.before, s.guest), s.op.va);
        if (innocuous && !hvArea && !setPte)
          return { step: s.index, guest: s.guest, message: `innocuous ${formatOp(s.op)} was handed to the hypervisor` };
        continue;
      }
      const e = s.ran.exit;
      const before = () => guestView(trace.design, s.before, s.guest);
      if (passedThrough(design, s, before) && !bareMetalFaults(trace, s))
        return {
          step: s.index,
          guest: s.guest,
          message: `${formatOp(s.op)} exited (${e.reason}) though the design hands that port to the guest`,
        };
      if (!innocuous) continue;
      // The MMU's faults were counted above; any other trap of an innocuous operation is the guest's own or a failure.
      const directHidden = design.axes.mmu === 'direct' && e.reason === 'exception' && e.vector === 14;
      if (mmuFaultOf(design, s) || directHidden || bareMetalFaults(trace, s)) continue;
      return {
        step: s.index,
        guest: s.guest,
        message: `innocuous ${formatOp(s.op)} trapped (${e.reason}${e.reason === 'exception' ? ` ${e.vector}` : ''}) though bare metal runs it without fault`,
      };
    }
    return net;
  },
};

/** Per operation kind: operations, and how many ran without the hypervisor. */
export const efficiencyTable = (traces: readonly Trace[]): Record<string, { ops: number; native: number }> => {
  const t: Record<string, { ops: number; native: number }> = {};
  for (const tr of traces)
    for (const s of tr.steps) {
      const row = t[s.op.kind] ?? { ops: 0, native: 0 };
      t[s.op.kind] = row;
      row.ops++;
      if (s.ran.kind === 'native') row.native++;
    }
  return t;
};
