/**
 * The translation paths of the address a step accesses, for the trace record: through the guest's
 * own page tables, then through what the hardware really uses (shadow tables, or the guest's tables
 * with every read translated by EPT, then EPT), or for a device's DMA through its IOMMU domain, down
 * to the host frame and its owner. Every walk is the model's one walker (model/paging.ts `walk`,
 * which returns the path), with the format and the entry reader of the structure walked; nothing
 * here names a design: the real walk starts from the real CPU's CR3, EPT from the guest's EPT root.
 */
import {
  CR0,
  type Design,
  type EntryReader,
  EPT_32,
  EPT_BITS,
  guestBase,
  guestDeviceEngines,
  guestView,
  type HostMachine,
  hex,
  hostFrames,
  hostIo,
  type Machine,
  type Op,
  PAGE_SIZE,
  type PagingFormat,
  PTE,
  pageNumber,
  readWord,
  tlbView,
  VTD_BITS,
  VTD_SL_32,
  type WalkResult,
  walk,
  X86_32,
  x86Permits,
} from '../../model/index.ts';
import { entryFlags, entryName, ownerOf, rightsText, x86RightsText } from './owner.ts';
import type { AccessRecord, AddressRecord, AddressSpace, EntryRecord, TlbEntryRecord, WalkRecord } from './types.ts';

/** The page offset bits of an address. */
const offset = (a: number) => a & (PAGE_SIZE - 1);
const plus = (frame: number, a: number) => (frame + offset(a)) >>> 0;

/** Turn a walk's result into a record. `space` names the spaces: of the entries' addresses, and of the output. */
export const walkRecord = <F>(
  role: WalkRecord['role'],
  title: string,
  format: PagingFormat,
  root: AddressRecord,
  input: AddressRecord,
  r: WalkResult<F>,
  spaces: { readonly entries: AddressSpace; readonly output: AddressSpace },
  decorate: (e: EntryRecord) => EntryRecord = (e) => e,
  failureText: (failure: F) => string = () => 'the table read failed',
): WalkRecord => {
  // A walk that met a non-present entry shows it too: that entry is often the story.
  const read = !r.ok && r.reason === 'not-present' && r.absent ? [...r.path, r.absent] : r.path;
  const entries = read.map((s) =>
    decorate({
      level: s.level,
      name: entryName(format, s.level),
      index: (input.value >>> format.levels[s.level]!.shift) & ((1 << format.levels[s.level]!.bits) - 1),
      at: { space: spaces.entries, value: s.entryAddress },
      value: s.entry >>> 0,
      flags: entryFlags(format, s.entry),
      points: {
        space: s.level === format.levels.length - 1 ? spaces.output : spaces.entries,
        value: format.frameAddress(s.entry),
      },
    }),
  );
  const base = { role, title, format: format.name, input, root, entries };
  if (r.ok)
    return {
      ...base,
      end: {
        ok: true,
        output: { space: spaces.output, value: plus(r.frame, input.value) },
        rights: rightsText(format, r.rights),
      },
    };
  if (r.reason === 'read') return { ...base, end: { ok: false, text: failureText(r.failure) } };
  const at = entryName(format, r.level);
  return {
    ...base,
    end: {
      ok: false,
      level: r.level,
      text:
        r.reason === 'not-present' ? `not present at the ${at}` : `${rightsText(format, r.rights)} page: access denied`,
    },
  };
};

/** The memory access an operation makes, if it makes one through paging. */
const memoryAccess = (op: Op): { readonly va: number; readonly write: boolean; readonly what: string } | undefined => {
  switch (op.kind) {
    case 'load':
      return { va: op.va, write: false, what: 'data read' };
    case 'store':
      return { va: op.va, write: true, what: 'data write' };
    case 'lgdt':
    case 'lidt':
      return { va: op.va, write: false, what: `${op.kind.toUpperCase()} reads its operand` };
    case 'sgdt':
    case 'sidt':
      return { va: op.va, write: true, what: `${op.kind.toUpperCase()} writes its operand` };
    case 'invlpg':
      return { va: op.va, write: false, what: 'INVLPG (the page it invalidates; no access)' };
    default:
      return undefined;
  }
};

/** The real TLB entries of `h` as records, seen from guest `g`. */
export const tlbEntryRecord = (
  h: HostMachine,
  g: number,
  e: {
    readonly tag: number;
    readonly page: number;
    readonly frame: number;
    readonly rights: number;
    readonly dirty: boolean;
  },
): TlbEntryRecord => ({
  tag: e.tag,
  gva: (e.page * PAGE_SIZE) >>> 0,
  hpa: e.frame >>> 0,
  rights: x86RightsText(e.rights),
  dirty: e.dirty,
  owner: ownerOf(h.config, e.frame, g),
});

/** Do x86 rights `b` grant something `a` does not (write, or user access)? (Words of `x86RightsText`.) */
const wider = (a: string, b: string): boolean =>
  (b.startsWith('writable') && !a.startsWith('writable')) || (b.endsWith('user') && !a.endsWith('user'));

/**
 * The translations of the address step `op` of guest `g` accesses on host `h` (the host just before
 * the step, the guest running), or undefined when the step accesses no memory through paging or DMA.
 */
export const accessRecord = (design: Design, h: HostMachine, g: number, op: Op): AccessRecord | undefined => {
  if (op.kind === 'dmaComplete') return dmaAccess(design, h, g, op.device);
  const a = memoryAccess(op);
  if (!a) return undefined;
  const view = guestView(design, h, g);
  const user = view.cpu.cpl === 3 && op.kind !== 'invlpg';
  const access = { write: a.write, user };
  const c = h.config;
  const regionHpa = (gpa: number): number | undefined =>
    gpa < c.guestGeometry.frames * PAGE_SIZE ? (guestBase(c, g) * PAGE_SIZE + gpa) >>> 0 : undefined;
  const walks: WalkRecord[] = [];
  // The guest's own translation: its page tables in its own memory, as on bare metal.
  const guestWalk = guestTables(view, a.va, access);
  if (guestWalk) walks.push(guestWalk);
  const gpa = guestWalk ? (guestWalk.end.ok ? guestWalk.end.output.value : undefined) : a.va;
  const nested = design.axes.mmu === 'nested';
  if (!nested && gpa !== undefined) {
    // Where the guest's memory is: guest-physical frame f is host frame base(g) + f (layout.ts).
    const hpa = regionHpa(gpa);
    walks.push({
      role: 'region',
      title: "the guest's memory region (the abstraction: GPA to HPA by the host's layout)",
      input: { space: 'GPA', value: gpa },
      entries: [],
      end:
        hpa === undefined
          ? { ok: false, text: 'past the guest’s installed memory' }
          : { ok: true, output: { space: 'HPA', value: hpa }, rights: 'guest memory', owner: ownerOf(c, hpa, g) },
    });
  }
  // What the real processor uses: its own CR3 (shadow tables, or the guest's tables through EPT).
  const real = h.cpu;
  const realAccess = { write: a.write, user: real.cpl === 3 && op.kind !== 'invlpg' };
  const realWp = (real.cr0 & CR0.WP) !== 0;
  const ept = (address: number, write: boolean): WalkRecord => {
    const root = h.guests[g]!.eptRoot * PAGE_SIZE;
    const r = walk(
      EPT_32,
      root,
      address,
      (pa) => readWord(h.memory, pa),
      (rights) => (write ? (rights & EPT_BITS.W) !== 0 : (rights & EPT_BITS.R) !== 0),
    );
    const rec = walkRecord(
      'ept',
      `EPT (root ${hex(root)}, GPA → HPA)`,
      EPT_32,
      { space: 'HPA', value: root },
      { space: 'GPA', value: address },
      r,
      { entries: 'HPA', output: 'HPA' },
      (e) => ({ ...e, owner: ownerOf(c, e.at.value, g) }),
    );
    return rec.end.ok
      ? { ...rec, end: { ...rec.end, owner: ownerOf(c, rec.end.output.value, g) } }
      : { ...rec, end: { ...rec.end, text: `EPT violation: ${rec.end.text}` } };
  };
  let realWalk: WalkRecord | undefined;
  if (nested) {
    if (real.cr0 & CR0.PG) {
      // The two-dimensional walk: every guest table entry is read at a GPA that EPT translates.
      const vias = new Map<number, WalkRecord>();
      const read: EntryReader<WalkRecord> = (pa) => {
        const t = ept(pa, false);
        vias.set(pa, t);
        return t.end.ok ? readWord(h.memory, t.end.output.value) : { failure: t };
      };
      const root = (real.cr3 & PTE.FRAME) >>> 0;
      realWalk = walkRecord(
        'real',
        `guest page tables as the processor walks them (CR3 ${hex(real.cr3)}), each read through EPT`,
        X86_32,
        { space: 'GPA', value: root },
        { space: 'GVA', value: a.va },
        walk(X86_32, root, a.va, read, (rights) => x86Permits(rights, realAccess, realWp)),
        { entries: 'GPA', output: 'GPA' },
        (e) => {
          const via = vias.get(e.at.value);
          return via ? { ...e, via } : e;
        },
        (failed) => `reading a guest table: ${failed.end.ok ? 'failed' : failed.end.text}`,
      );
      // The processor walks the guest's own tables: shown once, with each read's EPT translation.
      const same =
        guestWalk !== undefined &&
        guestWalk.root?.value === realWalk.root?.value &&
        guestWalk.entries.length === realWalk.entries.length &&
        guestWalk.entries.every(
          (e, i) => e.at.value === realWalk!.entries[i]!.at.value && e.value === realWalk!.entries[i]!.value,
        );
      if (same) walks.splice(walks.indexOf(guestWalk), 1);
      walks.push(realWalk);
    }
    const realGpa = realWalk ? (realWalk.end.ok ? realWalk.end.output.value : undefined) : a.va;
    if (realGpa !== undefined) {
      realWalk = ept(realGpa, a.write);
      walks.push(realWalk);
    }
  } else if (real.cr0 & CR0.PG) {
    const root = (real.cr3 & PTE.FRAME) >>> 0;
    const shadow = design.axes.mmu === 'shadow';
    const rec = walkRecord(
      shadow ? 'shadow' : 'real',
      `${shadow ? 'shadow page tables' : 'the real page tables'} (real CR3 ${hex(real.cr3)}, GVA → HPA)`,
      X86_32,
      { space: 'HPA', value: root },
      { space: 'GVA', value: a.va },
      walk(
        X86_32,
        root,
        a.va,
        (pa) => readWord(h.memory, pa),
        (rights) => x86Permits(rights, realAccess, realWp),
      ),
      { entries: 'HPA', output: 'HPA' },
      (e) => ({ ...e, owner: ownerOf(c, e.at.value, g) }),
    );
    realWalk = rec.end.ok ? { ...rec, end: { ...rec.end, owner: ownerOf(c, rec.end.output.value, g) } } : rec;
    walks.push(realWalk);
  }
  // The real TLB: under the running guest's tag, the real CPU uses the most recent entry for the page.
  const tag = design.tag(h, g);
  const cached = tlbView(h.tlb, tag).translations.filter((t) => t.page === pageNumber(a.va));
  const hit = cached[cached.length - 1];
  const tlbHit = hit ? tlbEntryRecord(h, g, { ...hit, tag }) : undefined;
  // The guest's translation, taken to the host by its region, against the real one: a mismatch is
  // the real translation permitting more than the guest's tables (a hidden fault, where the real
  // tables deny what the guest's allow, is how shadow paging and EPT fill in, and no mismatch).
  let mismatch: string | undefined;
  if (guestWalk && realWalk?.end.ok && op.kind !== 'invlpg') {
    const r = realWalk.end;
    const expectHpa = gpa === undefined ? undefined : regionHpa(gpa);
    if (!guestWalk.end.ok)
      mismatch = `the guest's tables deny this ${a.what} (${guestWalk.end.text}); the real translation allows it: ${hex(r.output.value)}, ${r.rights}`;
    else if (expectHpa !== undefined && expectHpa !== r.output.value)
      mismatch = `the guest's tables lead to ${hex(expectHpa)}; the real translation to ${hex(r.output.value)} (${r.owner?.text ?? 'unknown'})`;
    else if (realWalk.role !== 'ept' && wider(guestWalk.end.rights, r.rights))
      mismatch = `the guest's tables grant ${guestWalk.end.rights}; the real translation grants ${r.rights}`;
  }
  return {
    what: a.what,
    address: { space: 'GVA', value: a.va },
    write: a.write,
    user,
    walks,
    ...(tlbHit ? { tlbHit } : {}),
    ...(mismatch ? { mismatch } : {}),
  };
};

/** The guest's own walk of its page tables in its own memory (undefined with paging off). */
const guestTables = (view: Machine, va: number, access: { write: boolean; user: boolean }): WalkRecord | undefined => {
  const cpu = view.cpu;
  if (!(cpu.cr0 & CR0.PG)) return undefined;
  const root = (cpu.cr3 & PTE.FRAME) >>> 0;
  const wp = (cpu.cr0 & CR0.WP) !== 0;
  const installed = view.geometry.frames * PAGE_SIZE;
  return walkRecord(
    'guest',
    `the guest's page tables (its CR3 ${hex(cpu.cr3)}, GVA → GPA)`,
    X86_32,
    { space: 'GPA', value: root },
    { space: 'GVA', value: va },
    walk(
      X86_32,
      root,
      va,
      // Bare metal: past the installed frames, reads give all ones.
      (pa) => (pa < installed ? readWord(view.memory, pa) : 0xffff_ffff),
      (rights) => x86Permits(rights, access, wp),
    ),
    { entries: 'GPA', output: 'GPA' },
  );
};

/** A device's DMA: the bus address of its job, through its IOMMU domain (or none) to the host frame. */
const dmaAccess = (design: Design, h: HostMachine, g: number, device: number): AccessRecord | undefined => {
  const job = guestDeviceEngines(h, g)?.[device]?.job;
  if (!job) return undefined;
  const c = h.config;
  const what = `DMA ${job.toMemory ? 'write' : 'read'} by device ${device}`;
  const base = { what, write: job.toMemory, user: false };
  const d = h.guests[g]!.devices;
  const hostBytes = hostFrames(c) * PAGE_SIZE;
  // On the guest's own machine a bus address is a physical address: the guest's GPA, in its region.
  const inside = job.address < c.guestGeometry.frames * PAGE_SIZE;
  const regionHpa = (guestBase(c, g) * PAGE_SIZE + job.address) >>> 0;
  const region = (title: string): WalkRecord => ({
    role: 'region',
    title,
    input: { space: 'GPA', value: job.address },
    entries: [],
    end: inside
      ? {
          ok: true,
          output: { space: 'HPA', value: regionHpa },
          rights: 'guest memory',
          owner: ownerOf(c, regionHpa, g),
        }
      : { ok: false, text: 'past the guest’s installed memory: no memory answers' },
  });
  if (d?.kind !== 'assigned')
    // The hypervisor's device model (emulated, or a paravirtual back end) moves the word in the
    // guest's memory: the bus address is guest-physical, in the guest's region.
    return {
      ...base,
      address: { space: 'GPA', value: job.address },
      walks: [
        region(
          `the hypervisor's device model (${design.axes.io ?? 'emulated'}): the bus address is guest-physical, in the guest's region`,
        ),
      ],
    };
  const dev = hostIo(h).devices[d.physical[device]!]!;
  const iommu = hostIo(h).iommu;
  const address: AddressRecord = { space: 'IOVA', value: job.address };
  const expected = region("the guest's own machine: the bus address is its physical address (GPA, in its region)");
  let real: WalkRecord;
  if (!iommu.dmaRemapping) {
    real = {
      role: 'direct',
      title: `requester ${hex(dev.rid, 4)}: DMA remapping off, so the bus address is a host address`,
      input: address,
      entries: [],
      end:
        job.address < hostBytes
          ? {
              ok: true,
              output: { space: 'HPA', value: job.address },
              rights: 'unchecked (no IOMMU)',
              owner: ownerOf(c, job.address, g),
            }
          : { ok: false, text: 'no memory answers (master abort)' },
    };
  } else {
    const domain = iommu.domains.find((x) => x.rid === dev.rid);
    if (!domain)
      real = {
        role: 'iommu',
        title: `requester ${hex(dev.rid, 4)}: no IOMMU domain`,
        input: address,
        entries: [],
        end: { ok: false, text: 'blocked: the requester has no domain' },
      };
    else {
      const root = domain.root * PAGE_SIZE;
      const r = walk(
        VTD_SL_32,
        root,
        job.address,
        (pa) => readWord(h.memory, pa),
        (rights) => (rights & (job.toMemory ? VTD_BITS.W : VTD_BITS.R)) !== 0,
      );
      const rec = walkRecord(
        'iommu',
        `IOMMU domain of requester ${hex(dev.rid, 4)} (root ${hex(root)}, IOVA → HPA)`,
        VTD_SL_32,
        { space: 'HPA', value: root },
        address,
        r,
        { entries: 'HPA', output: 'HPA' },
        (e) => ({ ...e, owner: ownerOf(c, e.at.value, g) }),
      );
      real = rec.end.ok
        ? { ...rec, end: { ...rec.end, owner: ownerOf(c, rec.end.output.value, g) } }
        : { ...rec, end: { ...rec.end, text: `blocked (IOMMU fault): ${rec.end.text}` } };
    }
  }
  const mismatch =
    real.end.ok && (!inside || real.end.output.value !== regionHpa)
      ? `the guest's own machine ${inside ? `puts this DMA at ${hex(regionHpa)} (its GPA ${hex(job.address)})` : 'has no memory there'}; the real one at ${hex(real.end.output.value)} (${real.end.owner?.text ?? 'unknown'})`
      : undefined;
  return { ...base, address, walks: [expected, real], ...(mismatch ? { mismatch } : {}) };
};
