/**
 * The working state of one step and the linear-memory accesses an instruction makes through
 * paging and the TLB. Local to `step` (never escapes it), which stays a pure function.
 */
import { CR0, VEC } from './bits.ts';
import type { ChoicePoint, Chooser } from './choice.ts';
import type { DmaEngine, DmaPort, MsiMessage } from './devices.ts';
import { PAGE_SIZE, pageNumber, pageOffset } from './geometry.ts';
import { type PhysicalMemory, readWord, writeWord } from './memory.ts';
import type { Nic } from './nic.ts';
import type { Op } from './ops.ts';
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
  /** For #PF: the linear address, which goes to CR2 when the fault is delivered. */
  readonly address?: number;
}

export const fault = (vector: number, errorCode = 0, address?: number): Fault =>
  address === undefined ? { fault: true, vector, errorCode } : { fault: true, vector, errorCode, address };
export const isFault = (e: unknown): e is Fault => typeof e === 'object' && e !== null && (e as Fault).fault === true;

/** #GP with an error code (SDM Vol. 3A §6.15, interrupt 13). */
export const gp = (errorCode = 0): Fault => fault(VEC.GP, errorCode);

// ---------------------------------------------------------------------------------------------
// The hardware around the ISA: how the processor reaches physical memory and which events leave
// the running software for a hypervisor. The reference machine is bare metal (identity physical
// addressing over its installed frames, no exits); the hosted machine's real CPU is the same
// semantics with EPT as its physical port and VMX exit controls, or a hypervisor-owned IDT.

/** Why control left the running software for the hypervisor. */
export type ExitInfo =
  /** The instruction is configured to exit before it executes (VMX exit controls). */
  | { readonly reason: 'instruction'; readonly op: Op }
  /** An exception the hypervisor intercepts (VMX exception bitmap, or its own IDT in root mode). */
  | {
      readonly reason: 'exception';
      readonly vector: number;
      readonly errorCode?: number;
      /** For #PF: the faulting linear address (CR2 is not written when a #PF exits, SDM Vol. 3C §27.1). */
      readonly address?: number;
      /** The event whose delivery raised it (VMX IDT-vectoring information). */
      readonly during?: { readonly vector: number; readonly source: EventSource };
    }
  /** A software interrupt (INT n) the hypervisor intercepts. */
  | { readonly reason: 'software-interrupt'; readonly vector: number }
  /** An external interrupt (the timer) while the hypervisor owns external interrupts. */
  | { readonly reason: 'external-interrupt'; readonly vector: number }
  /** A physical access the physical port refused (an EPT violation, SDM Vol. 3C §28.3.3). */
  | { readonly reason: 'ept-violation'; readonly address: number; readonly write: boolean }
  /**
   * A device of the machine finished a DMA (the `dmaComplete` event) while the hypervisor owns
   * external interrupts: its MSI (if it sent one) and the IOMMU's fault event (if the IOMMU
   * blocked the transfer) reach the hypervisor. The transfer itself has happened.
   */
  | {
      readonly reason: 'device-interrupt';
      /** Index of the device in the running machine's device list. */
      readonly device: number;
      /** The vector the reference takes (devices.ts `DmaCompletion.msi`). */
      readonly vector?: number;
      /** The completion MSI as the engine's registers hold it (the requester id is the device's). */
      readonly message?: MsiMessage;
      /** A DMA write to the interrupt range: a message the transfer itself sent, before `message`. */
      readonly request?: MsiMessage;
      readonly blocked?: { readonly address: number; readonly write: boolean };
    };

/** Thrown inside a step when control leaves for the hypervisor. */
export interface VmExit {
  readonly vmexit: true;
  readonly info: ExitInfo;
}
/** A VM exit to throw inside a step. */
export const vmexit = (info: ExitInfo): VmExit => ({ vmexit: true, info });
/** Whether a thrown value is a VM exit. */
export const isVmExit = (e: unknown): e is VmExit =>
  typeof e === 'object' && e !== null && (e as VmExit).vmexit === true;

/** A physical access as the port sees it. */
export interface PhysicalAccess {
  readonly write: boolean;
  /** A paging-structure access by the page walker (rather than a data access). */
  readonly walk: boolean;
}

/**
 * How the processor reaches memory: the host-physical address of a physical address (a
 * guest-physical one under EPT), or -1 where no memory answers (reads give all ones, writes
 * are dropped, as on a PC bus). It may throw a VmExit (an EPT violation).
 */
export type PhysicalPort = (pa: number, access: PhysicalAccess, memory: PhysicalMemory) => number;

/** Controls that make events leave the running software (VMX controls; a hypervisor's IDT). */
export interface ExitControls {
  /** Exit before executing this instruction. */
  readonly instruction?: (op: Op, cpu: Cpu) => boolean;
  /** Exit instead of delivering this exception (the exception bitmap). */
  readonly exception?: (vector: number) => boolean;
  /** Exit instead of delivering INT n. */
  readonly softwareInterrupt?: boolean;
  /** Exit on an external interrupt instead of making it pending (external-interrupt exiting). */
  readonly externalInterrupt?: boolean;
  /** CR0 bits owned by the hypervisor: reads of them return `cr0ReadShadow`, writes that change them exit. */
  readonly cr0Mask?: number;
  readonly cr0ReadShadow?: number;
}

/**
 * Ports decoded outside the machine's own devices (a paravirtual device's shared ring, say):
 * `read` gives the value IN reads, `write` the memory after OUT; undefined: not decoded here.
 */
export interface PortBus {
  readonly read: (port: number, memory: PhysicalMemory) => number | undefined;
  readonly write: (port: number, value: number, memory: PhysicalMemory) => PhysicalMemory | undefined;
}

/** The hardware the semantics runs on. */
export interface Hardware {
  readonly physical: PhysicalPort;
  readonly exits?: ExitControls;
  /**
   * How devices reach memory (devices.ts). Absent: bus addresses are memory addresses, with no
   * IOMMU between (anything up to 4 GiB is reachable).
   */
  readonly dma?: DmaPort;
  /** Ports decoded before the machine's own devices. */
  readonly ports?: PortBus;
}

/** Bare metal with `frames` installed: identity physical addressing, nothing beyond, no exits. */
export const bareMetal = (frames: number): Hardware => {
  const limit = frames * PAGE_SIZE;
  return { physical: (pa) => (pa < limit ? pa : -1), dma: (_d, pa) => (pa < limit ? pa : -1) };
};

/** Mutable working copy of a machine during one step. */
export interface Exec {
  readonly machine: Machine;
  cpu: Cpu;
  memory: PhysicalMemory;
  tlb: Tlb;
  devices: readonly DmaEngine[] | undefined;
  nic: Nic | undefined;
  readonly chooser: Chooser;
  readonly hw: Hardware;
  events: Delivered[];
  /**
   * EIP of the instruction executing: the operation's EIP, or for an operation encoded as several
   * instructions the one at work (model/encoding.ts). A fault saves it in its frame.
   */
  ip: number;
  /**
   * Translations made in this instruction, by linear page and access kind: a later access of the
   * same kind to the same page uses the same one (host-physical page base, or -1 where no memory
   * answers). One instruction — or one delivery, or the few instructions of one operation — does
   * not switch between the translations its TLB may hold for a page; cleared at the instruction
   * boundary and whenever the TLB is flushed or a page invalidated.
   */
  translations: Map<string, number>;
}

export const startExec = (machine: Machine, chooser: Chooser, hw: Hardware): Exec => ({
  machine,
  cpu: machine.cpu,
  memory: machine.memory,
  tlb: machine.tlb,
  devices: machine.devices,
  nic: machine.nic,
  chooser,
  hw,
  events: [],
  ip: machine.cpu.eip,
  translations: new Map(),
});

/** Read the word at a (guest-)physical address through the physical port. */
export const physRead = (x: Exec, pa: number, walk: boolean): number => {
  const hpa = x.hw.physical(pa >>> 0, { write: false, walk }, x.memory);
  return hpa < 0 ? 0xffff_ffff : readWord(x.memory, hpa);
};

/** Write the word at a host-physical address (already resolved; -1 drops the write). */
const hostWrite = (x: Exec, hpa: number, value: number) => {
  if (hpa >= 0) x.memory = writeWord(x.memory, hpa, value >>> 0);
};

export const finishExec = (x: Exec): Machine =>
  x.cpu === x.machine.cpu &&
  x.memory === x.machine.memory &&
  x.tlb === x.machine.tlb &&
  x.devices === x.machine.devices &&
  x.nic === x.machine.nic
    ? x.machine
    : {
        geometry: x.machine.geometry,
        cpu: x.cpu,
        memory: x.memory,
        tlb: x.tlb,
        ...(x.devices === undefined ? {} : { devices: x.devices }),
        ...(x.nic === undefined ? {} : { nic: x.nic }),
      };

const choose = (x: Exec, n: number, point: ChoicePoint): number => (n <= 1 ? 0 : x.chooser.choose(n, point));

/** Raise #PF for `va`: the TLB forgets the page (SDM §4.10.4.1); CR2 is written when it is delivered. */
const pageFault = (x: Exec, va: number, reason: 'not-present' | 'rights', access: Access): never => {
  x.tlb = tlbDropOnFault(x.tlb, pageNumber(va));
  throw fault(VEC.PF, pfErrorCode(reason, access), va >>> 0);
};

/** OR bits into a paging-structure entry (the locked update of an accessed or dirty flag). */
const setBits = (x: Exec, pa: number, bits: number) => {
  const hpa = x.hw.physical(pa >>> 0, { write: true, walk: true }, x.memory);
  if (hpa < 0) return;
  const w = readWord(x.memory, hpa);
  if ((w & bits) !== bits) x.memory = writeWord(x.memory, hpa, w | bits);
};

/**
 * Translate a linear address for an access, with every choice the architecture permits:
 * a fresh walk from the PDE in memory (canonical), a walk from a PDE in the paging-structure
 * cache, or any TLB entry cached for the page. Returns the host-physical address the data
 * access uses (through the physical port), or -1 where no memory answers.
 */
export const translate = (x: Exec, va: number, access: Access): number => {
  const cpu = x.cpu;
  if (!(cpu.cr0 & CR0.PG)) return x.hw.physical(va >>> 0, { write: access.write, walk: false }, x.memory);
  const page = pageNumber(va);
  const key = `${page}:${access.write ? 1 : 0}${access.user ? 1 : 0}`;
  const known = x.translations.get(key);
  if (known !== undefined) return known < 0 ? -1 : (known | pageOffset(va)) >>> 0;
  const pa = translateFresh(x, va, access);
  x.translations.set(key, pa < 0 ? -1 : (pa - pageOffset(va)) >>> 0);
  return pa;
};

/** `translate` without the instruction's memo: the architectural choice, made now. */
const translateFresh = (x: Exec, va: number, access: Access): number => {
  const cpu = x.cpu;
  const page = pageNumber(va);
  const dir = va >>> 22;
  const wp = (cpu.cr0 & CR0.WP) !== 0;
  const cachedPdes = tlbPdes(x.tlb, dir);
  const cached = tlbTranslations(x.tlb, page);
  const c = choose(x, 1 + cachedPdes.length + cached.length, {
    kind: 'translation',
    cachedPdes: cachedPdes.length,
    cachedTranslations: cached.length,
  });

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
    (pa) => physRead(x, pa, true),
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
    // The TLB caches the combined translation: linear page to the frame the port gives (SDM Vol. 3C §28.3.1).
    const hostFrame = x.hw.physical(r.frame, { write: access.write, walk: false }, x.memory);
    if (hostFrame < 0) return -1;
    x.tlb = tlbInsertPde(x.tlb, { dir, entry: (r.path[0]!.entry | PTE.A) >>> 0 });
    x.tlb = tlbInsert(x.tlb, {
      page,
      frame: hostFrame,
      rights: r.rights,
      dirty: access.write || (pte & PTE.D) !== 0,
    });
    return (hostFrame | pageOffset(va)) >>> 0;
  }
  if (r.reason === 'read') return r.failure; // unreachable: reading physical memory never fails
  // A walk that faults may or may not have set the accessed flags of the entries it used
  // (SDM §4.8 only requires them for translations that are used). Canonical: every present
  // non-leaf entry; permitted: any prefix of the present entries.
  const present = r.path.length;
  const canonical = Math.min(present, X86_32.levels.length - 1);
  const options = [canonical, ...Array.from({ length: present + 1 }, (_, k) => k).filter((k) => k !== canonical)];
  const k = options[choose(x, options.length, { kind: 'accessed-on-fault' })]!;
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
  // Consecutive bytes mostly share a word: read each word once.
  let at = -1;
  let word = 0;
  for (let i = 0; i < n; i++) {
    const pa = pas(i);
    if (pa < 0) {
      out.push(0xff);
      continue;
    }
    if ((pa & ~3) !== at) {
      at = pa & ~3;
      word = readWord(x.memory, at);
    }
    out.push((word >>> ((pa & 3) * 8)) & 0xff);
  }
  return out;
};

/** Write bytes at linear address `va`; every page is translated (and may fault) before any byte is written. */
export const writeBytes = (x: Exec, va: number, bytes: readonly number[], user: boolean): void => {
  const pas = translateRange(x, va, bytes.length, { write: true, user });
  bytes.forEach((b, i) => {
    const pa = pas(i);
    if (pa < 0) return;
    const shift = (pa & 3) * 8;
    const w = readWord(x.memory, pa & ~3);
    x.memory = writeWord(x.memory, pa & ~3, ((w & ~(0xff << shift)) | ((b & 0xff) << shift)) >>> 0);
  });
};

const translateRange = (x: Exec, va: number, n: number, access: Access): ((i: number) => number) => {
  const first = va >>> 0;
  const last = (va + n - 1) >>> 0;
  const at = (pa: number, offset: number) => (pa < 0 ? -1 : (pa - pageOffset(pa) + offset) >>> 0);
  const pa0 = translate(x, first, access);
  if (pageNumber(first) === pageNumber(last)) return (i) => at(pa0, pageOffset(first + i));
  const pa1 = translate(x, last, access);
  return (i) => {
    const a = (first + i) >>> 0;
    return at(pageNumber(a) === pageNumber(first) ? pa0 : pa1, pageOffset(a));
  };
};

/** Read a 32-bit value at a linear address (aligned fast path). */
export const readU32 = (x: Exec, va: number, user: boolean): number => {
  if ((va & 3) === 0) {
    // Translate first: the walk's accessed/dirty updates precede the access (SDM §4.8).
    const pa = translate(x, va, { write: false, user });
    return pa < 0 ? 0xffff_ffff : readWord(x.memory, pa);
  }
  const b = readBytes(x, va, 4, user);
  return (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;
};

/** Write a 32-bit value at a linear address (aligned fast path). */
export const writeU32 = (x: Exec, va: number, value: number, user: boolean): void => {
  if ((va & 3) === 0) {
    // Translate first, so the store lands on memory that already holds the walk's A/D updates.
    const pa = translate(x, va, { write: true, user });
    hostWrite(x, pa, value);
    return;
  }
  writeBytes(x, va, [value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, value >>> 24], user);
};
