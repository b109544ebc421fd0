/**
 * The working state of one step and the linear-memory accesses an instruction makes through
 * paging and the TLB. Local to `step` (never escapes it), which stays a pure function.
 */
import { CR0, VEC } from './bits.ts';
import type { Chooser } from './choice.ts';
import { pageNumber, pageOffset } from './geometry.ts';
import { type PhysicalMemory, readWord, writeWord } from './memory.ts';
import { type Access, PTE, pfErrorCode, walk, X86_32, x86Permits } from './paging.ts';
import type { Cpu, Machine } from './state.ts';
import { type Tlb, tlbDropOnFault, tlbInsert, tlbInsertPde, tlbPdes, tlbTranslations } from './tlb.ts';

/** Where an event delivered to the kernel came from (SDM Vol. 3A §6.3, §6.4). */
export type EventSource = 'exception' | 'software' | 'external';

/** An event the guest kernel received through the IDT. */
export interface Delivered {
  readonly vector: number;
  readonly source: EventSource;
  /** Pushed error code, for exceptions that have one. */
  readonly errorCode?: number;
}

/** An exception raised while executing; caught by `step`, never seen outside model/. */
export interface Fault {
  readonly fault: true;
  readonly vector: number;
  readonly errorCode: number;
}

export const fault = (vector: number, errorCode = 0): Fault => ({ fault: true, vector, errorCode });
export const isFault = (e: unknown): e is Fault => typeof e === 'object' && e !== null && (e as Fault).fault === true;

/** #GP with an error code (SDM Vol. 3A §6.15, interrupt 13). */
export const gp = (errorCode = 0): Fault => fault(VEC.GP, errorCode);

/** Mutable working copy of a machine during one step. */
export interface Exec {
  readonly machine: Machine;
  cpu: Cpu;
  memory: PhysicalMemory;
  tlb: Tlb;
  readonly chooser: Chooser;
  events: Delivered[];
}

export const startExec = (machine: Machine, chooser: Chooser): Exec => ({
  machine,
  cpu: machine.cpu,
  memory: machine.memory,
  tlb: machine.tlb,
  chooser,
  events: [],
});

export const finishExec = (x: Exec): Machine =>
  x.cpu === x.machine.cpu && x.memory === x.machine.memory && x.tlb === x.machine.tlb
    ? x.machine
    : { geometry: x.machine.geometry, cpu: x.cpu, memory: x.memory, tlb: x.tlb };

const choose = (x: Exec, n: number): number => (n <= 1 ? 0 : x.chooser.choose(n));

/** Raise #PF for `va`: CR2 gets the address and the TLB forgets the page (SDM §4.7, §4.10.4.1). */
const pageFault = (x: Exec, va: number, reason: 'not-present' | 'rights', access: Access): never => {
  x.cpu = { ...x.cpu, cr2: va >>> 0 };
  x.tlb = tlbDropOnFault(x.tlb, pageNumber(va));
  throw fault(VEC.PF, pfErrorCode(reason, access));
};

/** OR bits into a physical word (the locked update of an accessed or dirty flag). */
const setBits = (x: Exec, pa: number, bits: number) => {
  const w = readWord(x.memory, pa);
  if ((w & bits) !== bits) x.memory = writeWord(x.memory, pa, w | bits);
};

/**
 * Translate a linear address for an access, with every choice the architecture permits:
 * a fresh walk from the PDE in memory (canonical), a walk from a PDE in the paging-structure
 * cache, or any TLB entry cached for the page. Returns the physical address.
 */
export const translate = (x: Exec, va: number, access: Access): number => {
  const cpu = x.cpu;
  if (!(cpu.cr0 & CR0.PG)) return va >>> 0;
  const page = pageNumber(va);
  const dir = va >>> 22;
  const wp = (cpu.cr0 & CR0.WP) !== 0;
  const pdeInMemory = readWord(x.memory, ((cpu.cr3 & PTE.FRAME) + dir * 4) >>> 0);
  const cachedPdes = tlbPdes(x.tlb, dir).filter((p) => p.entry !== pdeInMemory);
  const cached = tlbTranslations(x.tlb, page);
  const c = choose(x, 1 + cachedPdes.length + cached.length);

  if (c > cachedPdes.length) {
    const t = cached[c - 1 - cachedPdes.length]!;
    // A TLB entry that denies the access may raise a "spurious" #PF (SDM §4.10.4.3).
    if (!x86Permits(t.rights, access, wp)) return pageFault(x, va, 'rights', access);
    // A write through an entry cached with D = 0 must set D in the PTE: the processor walks.
    if (!access.write || t.dirty) return (t.frame | pageOffset(va)) >>> 0;
  }
  const cachedTop = c >= 1 && c <= cachedPdes.length ? cachedPdes[c - 1]!.entry : undefined;
  const r = walk(
    X86_32,
    (cpu.cr3 & PTE.FRAME) >>> 0,
    va,
    (pa) => readWord(x.memory, pa),
    (rights) => x86Permits(rights, access, wp),
    cachedTop === undefined ? {} : { cachedTopEntry: cachedTop },
  );
  const firstWritten = cachedTop === undefined ? 0 : 1; // a cached PDE is not re-read or re-written
  if (r.ok) {
    r.path.forEach((s, i) => {
      if (i < firstWritten) return;
      const leaf = i === X86_32.levels.length - 1;
      setBits(x, s.entryAddress, PTE.A | (leaf && access.write ? PTE.D : 0));
    });
    const pte = r.path[r.path.length - 1]!.entry;
    x.tlb = tlbInsertPde(x.tlb, { dir, entry: (r.path[0]!.entry | PTE.A) >>> 0 });
    x.tlb = tlbInsert(x.tlb, {
      page,
      frame: r.frame,
      rights: r.rights,
      dirty: access.write || (pte & PTE.D) !== 0,
    });
    return (r.frame | pageOffset(va)) >>> 0;
  }
  if (r.reason === 'read') return r.failure; // unreachable: reading physical memory never fails
  // A walk that faults may or may not have set the accessed flags of the entries it used
  // (SDM §4.8 only requires them for translations that are used). Canonical: every present
  // non-leaf entry; permitted: any prefix of the present entries.
  const present = r.path.length;
  const canonical = Math.min(present, X86_32.levels.length - 1);
  const options = [canonical, ...Array.from({ length: present + 1 }, (_, k) => k).filter((k) => k !== canonical)];
  const k = options[choose(x, options.length)]!;
  r.path.forEach((s, i) => {
    if (i >= firstWritten && i < k) setBits(x, s.entryAddress, PTE.A);
  });
  return pageFault(x, va, r.reason, access);
};

/**
 * Read `n` bytes at linear address `va` (little-endian), translating each page once and before
 * any data is read. `user` selects a user-mode access (CPL 3, explicit operand); implicit accesses
 * to system structures (GDT, IDT) are supervisor accesses whatever the CPL (SDM §4.6).
 */
export const readBytes = (x: Exec, va: number, n: number, user: boolean): number[] => {
  const pas = translateRange(x, va, n, { write: false, user });
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const pa = pas(i);
    out.push((readWord(x.memory, pa & ~3) >>> ((pa & 3) * 8)) & 0xff);
  }
  return out;
};

/** Write bytes at linear address `va`; every page is translated (and may fault) before any byte is written. */
export const writeBytes = (x: Exec, va: number, bytes: readonly number[], user: boolean): void => {
  const pas = translateRange(x, va, bytes.length, { write: true, user });
  bytes.forEach((b, i) => {
    const pa = pas(i);
    const shift = (pa & 3) * 8;
    const w = readWord(x.memory, pa & ~3);
    x.memory = writeWord(x.memory, pa & ~3, ((w & ~(0xff << shift)) | ((b & 0xff) << shift)) >>> 0);
  });
};

const translateRange = (x: Exec, va: number, n: number, access: Access): ((i: number) => number) => {
  const first = va >>> 0;
  const last = (va + n - 1) >>> 0;
  const base0 = translate(x, first, access) - pageOffset(first);
  if (pageNumber(first) === pageNumber(last)) return (i) => (base0 + pageOffset(first + i)) >>> 0;
  const base1 = translate(x, last, access) - pageOffset(last);
  return (i) => {
    const a = (first + i) >>> 0;
    return ((pageNumber(a) === pageNumber(first) ? base0 : base1) + pageOffset(a)) >>> 0;
  };
};

/** Read a 32-bit value at a linear address (aligned fast path). */
export const readU32 = (x: Exec, va: number, user: boolean): number => {
  if ((va & 3) === 0) return readWord(x.memory, translate(x, va, { write: false, user }));
  const b = readBytes(x, va, 4, user);
  return (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;
};

/** Write a 32-bit value at a linear address (aligned fast path). */
export const writeU32 = (x: Exec, va: number, value: number, user: boolean): void => {
  if ((va & 3) === 0) {
    x.memory = writeWord(x.memory, translate(x, va, { write: true, user }), value >>> 0);
    return;
  }
  writeBytes(x, va, [value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, value >>> 24], user);
};
