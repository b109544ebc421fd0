/**
 * The system-call level (DESIGN.md §3): what a process does and what it sees. A process makes
 * system calls of its kernel's interface and executes user instructions (loads and stores, which
 * go through the page tables and the one walker); a guest may also run a kernel-mode instruction
 * of its own kernel code (`privileged`), which is where OS-level and hardware virtualization part.
 *
 * Two interfaces exist: the host kernel's (POSIX-like: small numbers, negative errno results) and
 * a foreign one (foreign.ts: other numbers, other argument order, NTSTATUS-like results, a few
 * calls with other semantics), for API translation.
 */
import type { Op } from '../ops.ts';

/** User pages a process can map: page p is linear(0, p + FIRST_USER_TABLE_INDEX). */
export const USER_PAGES = 6;
/** Page-table index of user page 0 (indices 0 and 1 map the page table and page directory). */
export const FIRST_USER_TABLE_INDEX = 2;
/** Files a process names: 0..2 are ordinary files of its namespace, 3 is `/proc/self/exe`. */
export const FILES = 4;
/** The file number of `/proc/self/exe`. */
export const EXE_FILE = 3;
/** Local socket ports in a network namespace. */
export const PORTS = 2;

/** A host system call, or a user instruction, or a kernel-mode instruction of the guest's own kernel. */
export type HostCall =
  /** Map user page `page` to a fresh zeroed frame (charged to the memory quota). 0, -EEXIST, -ENOMEM. */
  | { readonly kind: 'mmap'; readonly page: number }
  /** Unmap user page `page`, zeroing and freeing its frame. 0, -EINVAL. */
  | { readonly kind: 'munmap'; readonly page: number }
  /** User instruction: load word `word` of user page `page` (a fault is a SIGSEGV). */
  | { readonly kind: 'load'; readonly page: number; readonly word: number }
  /** User instruction: store `value` at word `word` of user page `page`. */
  | { readonly kind: 'store'; readonly page: number; readonly word: number; readonly value: number }
  /** Read file `file` of the process's file namespace: its word, -ENOENT. */
  | { readonly kind: 'read'; readonly file: number }
  /** Write file `file`: 0, -ETXTBSY (the image of a running process). */
  | { readonly kind: 'write'; readonly file: number; readonly value: number }
  /** The process ids the process can see, ascending. */
  | { readonly kind: 'getpids' }
  /** Start a child process (in the caller's group): its pid as the caller sees it. */
  | { readonly kind: 'spawn' }
  /** Send `value` to local socket `port` of the process's network namespace: 0. */
  | { readonly kind: 'send'; readonly port: number; readonly value: number }
  /** Receive the oldest message on `port`: its value, -EAGAIN. */
  | { readonly kind: 'recv'; readonly port: number }
  /** Reserve `pages` pages of memory against the quota: 0, -ENOMEM. */
  | { readonly kind: 'alloc'; readonly pages: number }
  /** Give up the CPU: 0, no other effect (what other guests run in isolation's second run). */
  | { readonly kind: 'yield' }
  /** End the process (its pages and reservations are freed). */
  | { readonly kind: 'exit' }
  /** A kernel bug: the kernel the call reaches panics. */
  | { readonly kind: 'crash' }
  /** A kernel-mode instruction of the guest's own kernel code (a driver's CLI, a MOV from CR0, ...). */
  | { readonly kind: 'privileged'; readonly op: Op };

/** The foreign interface's call numbers (foreign.ts has its table). */
export const NT = {
  ReadFile: 0x06,
  WriteFile: 0x08,
  MapPage: 0x15,
  UnmapPage: 0x1e,
  Commit: 0x18,
  ProcessCount: 0x36,
  CreateProcess: 0x1b,
  Terminate: 0x2c,
} as const;

/** A call of the foreign interface (foreign.ts): a number and three argument words. */
export interface ForeignCall {
  readonly kind: 'foreign';
  readonly nr: number;
  readonly args: readonly [number, number, number];
}

/** What a process does: a call of the host interface (or an instruction), or a foreign call. */
export type Call = HostCall | ForeignCall;

/** What a process sees of one call. */
export type SysResult =
  /** A return value (a negative errno or an NTSTATUS for a failure), or the word a load read. */
  | { readonly kind: 'value'; readonly value: number }
  /** The process ids getpids returned. */
  | { readonly kind: 'pids'; readonly pids: readonly number[] }
  /** The instruction raised exception `vector` (delivered to the process as a signal). */
  | { readonly kind: 'signal'; readonly vector: number }
  /** A kernel-mode instruction completed: its destination register (if any) and EFLAGS.IF after it. */
  | { readonly kind: 'cpu'; readonly value?: number; readonly interruptsEnabled: boolean }
  /** The process has exited: nothing runs (ESRCH). */
  | { readonly kind: 'exited' }
  /** The kernel the process runs on has crashed: nothing runs. */
  | { readonly kind: 'down' };

/** POSIX errno values (Linux numbering), returned negated. */
export const ERRNO = {
  ENOENT: 2,
  ESRCH: 3,
  EAGAIN: 11,
  ENOMEM: 12,
  EEXIST: 17,
  EINVAL: 22,
  ETXTBSY: 26,
  ENOSYS: 38,
} as const;

/** One readable line for a call. */
export const formatCall = (c: Call): string => {
  switch (c.kind) {
    case 'foreign':
      return `${Object.entries(NT).find(([, n]) => n === c.nr)?.[0] ?? `foreign#0x${c.nr.toString(16)}`}(${c.args.map((a) => (a === 0xffff_ffff ? '-1' : String(a))).join(', ')})`;
    case 'privileged':
      return `privileged ${JSON.stringify(c.op)}`;
    default: {
      const { kind, ...rest } = c;
      const args = Object.entries(rest).map(([k, v]) => `${k}=${v}`);
      return `${kind}(${args.join(', ')})`;
    }
  }
};

/** One readable line for a result. */
export const formatResult = (r: SysResult): string => {
  switch (r.kind) {
    case 'value':
      return r.value < 0
        ? `-${Object.entries(ERRNO).find(([, n]) => n === -r.value)?.[0] ?? -r.value}`
        : `0x${(r.value >>> 0).toString(16)}`;
    case 'pids':
      return `pids [${r.pids.join(', ')}]`;
    case 'signal':
      return `signal (exception ${r.vector})`;
    case 'cpu':
      return `retired${r.value === undefined ? '' : `, result 0x${(r.value >>> 0).toString(16)}`}, IF=${r.interruptsEnabled ? 1 : 0}`;
    default:
      return r.kind;
  }
};

/** Do two results show the process the same thing? */
export const sameResult = (a: SysResult, b: SysResult): boolean => JSON.stringify(a) === JSON.stringify(b);
