/**
 * Resource control (DESIGN.md §4): invariants of the hosted machine after every step. The
 * hypervisor keeps every real resource: no guest-reachable translation (real TLB entry, shadow
 * entry, EPT entry) reaches a frame the guest does not own; the hardware running a guest (its own
 * code, its device's DMA) never changes hypervisor frames or another guest's, nor a frame of its
 * own that the design keeps read-only in EPT (only the hypervisor may change those); whoever wrote
 * it, the hypervisor's handler included, every frame outside the running guest's memory that
 * changes in its step is one of the structures the design keeps for that guest (the confused
 * deputy); the guest never runs at real ring 0 in root mode; real interrupts cannot be kept from
 * the hypervisor, and the timer always reaches it; a device's DMA reaches only its owner's memory
 * and its interrupt only its owner (properties/devices.ts).
 *
 * Incremental: the hypervisor's tables are scanned only when their frames changed in the step
 * (an O(1) test of shared structure), and ownership of memory is checked by region identity,
 * never by scanning memory.
 *
 * One allowance, stated: under ring compression the real CPU itself reads the hypervisor's
 * descriptor tables while the guest runs, so that page is mapped supervisor and read-only in
 * the guest's address space (real monitors also fence it with segment limits, which this model
 * does not have); under direct paging a guest's directory that maps itself (a linear page table,
 * read-only as Xen requires) also reads, supervisor and read-only, the page table Xen keeps in its
 * private slot. Any other reach outside the guest's frames is a violation.
 *
 * Under direct paging the real MMU walks the guest's own frames (its directory and the tables
 * it names): those must be the guest's, every entry must reach only the guest's frames, and no
 * translation the guest can use (a table entry, a real TLB entry) may let it write a frame the
 * MMU walks for it: with that, it would control machine memory (Xen's XSA-148, XSA-182).
 */
import {
  assignedRids,
  type Design,
  differingFrames,
  EFLAGS,
  extractRegion,
  formatHypercall,
  frameIdentity,
  frameOwner,
  frameWords,
  guestBase,
  type HostMachine,
  HV_FRAME,
  hex,
  hostFrames,
  hostIo,
  hypercallLog,
  hypervisorBlocks,
  netVfRid,
  PAGE_SIZE,
  POOL,
  PTE,
  poolBase,
  type RealTlb,
  realRoot,
  regionFrames,
  sameMemory,
  sameRegionNode,
  type TaggedTranslation,
  tableBlock,
  tlbView,
  writeTrackedInEpt,
  XEN_L2_SLOT,
} from '../model/index.ts';
import { deviceIsolationViolation } from './devices.ts';
import { networkResourceViolation } from './network/resource.ts';
import type { Property, PropertyFailure } from './property.ts';
import type { TraceStep } from './trace.ts';

const ringCompressed = (d: Design) => d.axes.cpu !== 'hardware-assisted';

/** May guest `g` reach host frame `frame` with these rights (RW/US bits)? */
const mayReach = (d: Design, h: HostMachine, g: number, frame: number, rights: number): boolean => {
  const o = frameOwner(h.config, frame);
  if (o.kind === 'guest' && o.guest === g) return true;
  const readable = frame === HV_FRAME.SYSTEM || (d.axes.mmu === 'direct' && frame === HV_FRAME.PAGE_TABLE);
  return ringCompressed(d) && readable && !(rights & PTE.RW) && !(rights & PTE.US);
};

const describeOwner = (h: HostMachine, frame: number) => {
  const o = frameOwner(h.config, frame);
  return o.kind === 'guest'
    ? `guest ${o.guest}'s frame`
    : o.kind === 'hypervisor'
      ? 'a hypervisor frame'
      : 'an unowned host frame';
};

/** The rights a shadow or EPT leaf entry grants, as RW/US bits. */
const leafRights = (d: Design, e: number) =>
  d.axes.mmu === 'nested' ? (e & 2 ? PTE.RW : 0) | PTE.US : e & (PTE.RW | PTE.US);

/**
 * Verdicts on page tables already scanned, by the table's contents (memory.ts frameIdentity)
 * and what the verdict depends on besides: an unchanged table (a large guest's EPT has one per
 * 1024 frames) is not scanned again in the next scenario.
 */
const scanned = new WeakMap<object, Map<string, readonly [number, number] | null>>();

/** The first present entry of the table at `tableFrame` that guest g may not reach: [index, entry]. */
const tableViolation = (d: Design, h: HostMachine, g: number, tableFrame: number): readonly [number, number] | null => {
  const scan = () => {
    for (const [t, e] of frameWords(h.memory, tableFrame))
      if (e & 7 && !mayReach(d, h, g, e >>> 12, leafRights(d, e))) return [t, e] as const;
    return null;
  };
  const id = frameIdentity(h.memory, tableFrame);
  if (id === undefined) return null;
  const c = h.config;
  const key = `${g}/${d.axes.mmu}/${ringCompressed(d)}/${c.guests}/${c.guestGeometry.frames}`;
  let verdicts = scanned.get(id);
  if (!verdicts) {
    verdicts = new Map();
    scanned.set(id, verdicts);
  }
  let v = verdicts.get(key);
  if (v === undefined) {
    v = scan();
    verdicts.set(key, v);
  }
  return v;
};

/** Verdicts on real TLBs already checked (a step that leaves the TLB alone keeps the object). */
const tlbChecked = new WeakMap<RealTlb, Map<string, TaggedTranslation | null>>();

/** The first entry of the real TLB, usable under `tag`, that guest g may not reach. */
const tlbViolation = (d: Design, h: HostMachine, g: number, tag: number): TaggedTranslation | null => {
  const c = h.config;
  const key = `${tag}/${g}/${ringCompressed(d)}/${c.guests}/${c.guestGeometry.frames}`;
  let verdicts = tlbChecked.get(h.tlb);
  if (!verdicts) {
    verdicts = new Map();
    tlbChecked.set(h.tlb, verdicts);
  }
  let v = verdicts.get(key);
  if (v === undefined) {
    v = h.tlb.entries.find((e) => e.tag === tag && !mayReach(d, h, g, e.frame >>> 12, e.rights)) ?? null;
    verdicts.set(key, v);
  }
  return v;
};

/** Did guest g's tables (its pool, and a large guest's table block) change? */
const tablesChanged = (a: HostMachine, b: HostMachine, g: number) =>
  !sameRegionNode(a.memory, b.memory, poolBase(g), 32) ||
  !sameRegionNode(a.memory, b.memory, poolBase(g) + 32, 32) ||
  (b.config.guestGeometry.frames > 1024 &&
    [0, 32, 64, 96].some((o) => !sameRegionNode(a.memory, b.memory, tableBlock(g) + o, 32)));

/**
 * Direct paging: what the real MMU walks for guest g (its real root and the tables that root
 * links), and the first violation in it: a linked table that is not the guest's, an entry that
 * reaches outside the guest's frames, a writable mapping of a walked frame.
 */
const directTables = (
  d: Design,
  h: HostMachine,
  g: number,
): {
  readonly walked: ReadonlySet<number>;
  readonly violation?: string;
  /** Machine addresses of the entries at fault (the leaf, and a directory entry that links the frame). */
  readonly entries?: readonly number[];
  /** The linear page the faulty leaf maps. */
  readonly page?: number;
} => {
  const root = realRoot(h, g);
  const walked = new Set<number>([root]);
  const linked: (readonly [number, number])[] = [];
  for (const [dir, pde] of frameWords(h.memory, root)) {
    if (!(pde & PTE.P)) continue;
    const t = pde >>> 12;
    const own = frameOwner(h.config, t);
    const xen = dir === XEN_L2_SLOT && t === HV_FRAME.PAGE_TABLE;
    if (!xen && !(own.kind === 'guest' && own.guest === g))
      return {
        walked,
        violation: `guest ${g}'s directory (host frame ${hex(root, 5)}) links host frame ${hex(t, 5)} (${describeOwner(h, t)}) as a page table at slot ${dir}`,
        entries: [root * 4096 + dir * 4],
      };
    walked.add(t);
    linked.push([dir, pde]);
  }
  for (const [dir, pde] of linked)
    for (const [i, pte] of frameWords(h.memory, pde >>> 12)) {
      if (!(pte & PTE.P)) continue;
      const frame = pte >>> 12;
      const rights = pde & pte & (PTE.RW | PTE.US);
      const va = ((dir << 22) | (i << 12)) >>> 0;
      const leaf = (pde >>> 12) * 4096 + i * 4;
      if (!mayReach(d, h, g, frame, rights))
        return {
          walked,
          violation: `a page-table entry of guest ${g} maps ${hex(va)} to host frame ${hex(frame, 5)} (${describeOwner(h, frame)})`,
          entries: [leaf],
          page: va >>> 12,
        };
      if (rights & PTE.RW && walked.has(frame)) {
        // The leaf, and the directory entries that make the frame a walked table.
        const links = linked.filter(([, e]) => e >>> 12 === frame).map(([k]) => root * 4096 + k * 4);
        return {
          walked,
          violation: `guest ${g} can write its own live page table: ${hex(va)} maps host frame ${hex(frame, 5)}, which the MMU walks for it, writable`,
          entries: [leaf, ...links],
          page: va >>> 12,
        };
      }
    }
  return { walked };
};

/**
 * The hypercall of the step that broke the invariant, for the message: the last one Xen accepted
 * that wrote an entry at fault (or, for update_va_mapping, the entry of the page at fault); else
 * the accepted ones.
 */
const blamedHypercall = (s: TraceStep, g: number, entries: readonly number[], page?: number): string => {
  const accepted = hypercallLog(s.after, g, s.before.counters.ops).filter((e) => e.rc === 'ok');
  if (accepted.length === 0) return '';
  const culprit = [...accepted]
    .reverse()
    .find(({ call }) =>
      call.kind === 'mmu_update'
        ? call.requests.some((r) => entries.includes(r.ptr & ~3))
        : call.kind === 'update_va_mapping' && call.va >>> 12 === page,
    );
  if (culprit) return `; Xen accepted ${formatHypercall(culprit.call)} in this step`;
  const shown = accepted.slice(-3).map((e) => formatHypercall(e.call));
  return ` (hypercalls accepted in this step${accepted.length > 3 ? `, the last 3 of ${accepted.length}` : ''}: ${shown.join('; ')})`;
};

const checkStep = (d: Design, s: TraceStep): PropertyFailure | undefined => {
  const h = s.after;
  const g = h.current;
  const fail = (message: string): PropertyFailure => ({ step: s.index, guest: s.guest, message });
  if (ringCompressed(d) && h.cpu.cpl === 0) return fail('the guest runs at real ring 0 in root mode');
  if (ringCompressed(d) && !(h.cpu.eflags & EFLAGS.IF))
    return fail('real EFLAGS.IF is clear while the guest runs: the hypervisor can be kept from its interrupts');
  if (!ringCompressed(d) && !d.hardware(h).exits?.externalInterrupt)
    return fail('external interrupts do not exit: the guest can keep the timer from the hypervisor');
  if (s.op.kind === 'timer' && s.ran.kind !== 'trap') return fail('the timer interrupt did not reach the hypervisor');

  // Real TLB entries usable by the running guest.
  const tag = d.tag(h, g);
  const e = tlbViolation(d, h, g, tag);
  if (e)
    return fail(
      `the real TLB lets guest ${g} reach host frame ${hex(e.frame >>> 12, 5)} (${describeOwner(h, e.frame >>> 12)}) at linear ${hex(e.page << 12)}`,
    );

  // Direct paging: the guest's own tables, which the real MMU walks, and the real TLB.
  if (d.axes.mmu === 'direct') {
    for (const ctx of h.guests) {
      const changed =
        s.index === 0 ||
        s.before.guests[ctx.id]!.direct !== ctx.direct ||
        !sameRegionNode(s.before.memory, h.memory, guestBase(h.config, ctx.id), regionFrames(h.config));
      if (!changed && ctx.id !== g) continue;
      const r = directTables(d, h, ctx.id);
      if (r.violation) return fail(`${r.violation}${blamedHypercall(s, ctx.id, r.entries ?? [], r.page)}`);
      if (ctx.id !== g) continue;
      const w = tlbView(h.tlb, tag).translations.find((t) => t.rights & PTE.RW && r.walked.has(t.frame >>> 12));
      if (w)
        return fail(
          `the real TLB lets guest ${g} write host frame ${hex(w.frame >>> 12, 5)}, a page table the MMU walks for it, at ${hex(w.page << 12)}${blamedHypercall(s, g, [], w.page)}`,
        );
    }
    return checkOwnCode(d, s, fail);
  }

  // Shadow and EPT entries of every guest whose tables changed.
  for (const ctx of h.guests) {
    if (!tablesChanged(s.before, h, ctx.id) && s.index > 0) continue;
    const root = d.axes.mmu === 'nested' ? ctx.eptRoot : ctx.shadow.root;
    for (const [dir, pde] of frameWords(h.memory, root)) {
      if (!(pde & 7)) continue;
      const v = tableViolation(d, h, ctx.id, pde >>> 12);
      if (!v) continue;
      const [page, frame] = [(dir << 10) | v[0], v[1] >>> 12];
      return fail(
        `${d.axes.mmu === 'nested' ? 'an EPT' : 'a shadow'} entry of guest ${ctx.id} maps ${hex(page << 12)} to host frame ${hex(frame, 5)} (${describeOwner(h, frame)})`,
      );
    }
  }

  return checkOwnCode(d, s, fail);
};

/** Devices, the network, and what the guest's own code wrote. */
const checkOwnCode = (
  d: Design,
  s: TraceStep,
  fail: (message: string) => PropertyFailure,
): PropertyFailure | undefined => {
  const h = s.after;
  const g = h.current;
  // A device's transfer reaches only its owner's memory and its interrupt only its owner.
  if (s.op.kind === 'dmaComplete') {
    const v = deviceIsolationViolation(d, s.before, h, g);
    if (v) return fail(`guest ${g}'s device: ${v}`);
  }

  // Frames leave guests with their own MACs, and only the card's owner programs the card.
  const net = networkResourceViolation(s);
  if (net) return fail(net);

  // What the hardware did by itself (the real CPU running the guest's code, the guest's device's
  // DMA): compare what it left, before the hypervisor's handler or afterNative ran.
  const real = s.ran.kind === 'call' ? undefined : s.ran.real;
  if (real) {
    const who = s.ran.kind === 'native' ? `guest ${g}'s own code` : `the hardware (before the hypervisor's handler)`;
    // A guest's own code changes only its own frames (and the ring page it shares with a paravirtual back end).
    const c = h.config;
    const ring = poolBase(g) + POOL.VIRTIO_RING;
    for (const base of hypervisorBlocks(c)) {
      if (sameRegionNode(s.before.memory, real.memory, base, 32)) continue;
      for (let frame = base; frame < base + 32; frame++)
        if (frame !== ring && !sameRegionNode(s.before.memory, real.memory, frame, 1))
          return fail(`${who} changed hypervisor memory (host frame ${frame})`);
    }
    for (let other = 0; other < c.guests; other++) {
      if (other === g) continue;
      if (!sameRegionNode(s.before.memory, real.memory, guestBase(c, other), regionFrames(c)))
        return fail(`${who} changed guest ${other}'s memory`);
    }
    // A page the hypervisor keeps read-only for the guest in EPT changes only through the hypervisor:
    // neither the guest's CPU (EPT stops it) nor its device (an IOMMU derived from EPT stops it) writes it.
    const tracked = writeTrackedChange(d, s.before, real, g);
    if (tracked !== undefined)
      return fail(
        `${s.op.kind === 'dmaComplete' ? `guest ${g}'s device` : who} wrote guest ${g}'s frame ${hex(tracked, 3)}, which its EPT keeps read-only, without the hypervisor`,
      );
  }

  // Whoever wrote it, the hypervisor's handler included: every frame outside the running guest's
  // own memory that changed in its step is one of the structures the design keeps for that guest
  // (the confused deputy: a hypervisor that writes another guest's frame while serving this one).
  const deputy = unaccountedChange(d, s.before, h, g);
  if (deputy !== undefined)
    return fail(
      `while guest ${g} ran ${s.op.kind}, host frame ${hex(deputy, 5)} (${describeOwner(h, deputy)}) changed, and nothing the hypervisor keeps for guest ${g} accounts for it`,
    );
  return undefined;
};

/** Host frames whose words differ between two hosts (structure shared by unchanged subtrees is skipped). */
const changedFrames = (a: HostMachine, b: HostMachine): number[] => {
  if (a.memory === b.memory) return [];
  const last = hostFrames(a.config);
  return differingFrames(a.memory, b.memory).filter(
    (f) => f < last && !sameMemory(extractRegion(a.memory, f, 1), extractRegion(b.memory, f, 1)),
  );
};

/** A frame of guest g that changed from `a` to `b` though g's EPT maps it read-only (nested MMU only). */
const writeTrackedChange = (d: Design, a: HostMachine, b: HostMachine, g: number): number | undefined => {
  if (d.axes.mmu !== 'nested' || a.memory === b.memory) return undefined;
  const base = guestBase(a.config, g);
  if (sameRegionNode(a.memory, b.memory, base, regionFrames(a.config))) return undefined;
  const frames = a.config.guestGeometry.frames;
  for (const f of changedFrames(a, b))
    if (f >= base && f < base + frames && writeTrackedInEpt(a, g, (f - base) * PAGE_SIZE)) return f - base;
  return undefined;
};

/**
 * The host frames the design's records name as its structures for guest g, in either host: the
 * shadow root and tables, the EPT root and the tables it points to, the IOMMU domains of g's
 * devices (and of its network virtual function) and their tables, the paravirtual ring page; and
 * under ring compression the hypervisor's own system page and its page table (they mirror the
 * running guest's descriptor tables).
 */
const accountedFrames = (d: Design, hosts: readonly HostMachine[], g: number): Set<number> => {
  const out = new Set<number>();
  const withTables = (h: HostMachine, root: number) => {
    out.add(root);
    for (const [, e] of frameWords(h.memory, root)) if (e & 7) out.add(e >>> 12);
  };
  for (const h of hosts) {
    const ctx = h.guests[g]!;
    out.add(ctx.shadow.root);
    for (const [, t] of ctx.shadow.tables) out.add(t);
    withTables(h, ctx.eptRoot);
    if (ctx.devices?.kind === 'ring') out.add(ctx.devices.frame);
    const rids = new Set([...assignedRids(h, g), netVfRid(g)]);
    for (const dom of hostIo(h).iommu.domains) if (rids.has(dom.rid)) withTables(h, dom.root);
    if (ringCompressed(d)) {
      out.add(HV_FRAME.SYSTEM);
      out.add(HV_FRAME.PAGE_TABLE);
    }
  }
  return out;
};

/** A frame outside guest g's memory that changed from `a` to `b` and that nothing kept for g accounts for. */
const unaccountedChange = (d: Design, a: HostMachine, b: HostMachine, g: number): number | undefined => {
  if (a.memory === b.memory) return undefined;
  const base = guestBase(a.config, g);
  const own = (f: number) => f >= base && f < base + a.config.guestGeometry.frames;
  const outside = changedFrames(a, b).filter((f) => !own(f));
  if (outside.length === 0) return undefined;
  const accounted = accountedFrames(d, [a, b], g);
  return outside.find((f) => !accounted.has(f));
};

export const resourceControl: Property = {
  name: 'resource-control',
  description: 'the hypervisor keeps control of every real resource (memory reach, privilege, interrupts)',
  check: (design, _scenario, trace) => {
    for (const s of trace.steps) {
      const f = checkStep(design, s);
      if (f) return f;
    }
    return undefined;
  },
};
