/**
 * A foreign system-call interface (NT-like), its own kernel's entry, and a user-space translation
 * library that runs its programs on the host kernel (Wine-style).
 *
 * The foreign interface: calls by number with three argument words; results are NTSTATUS-like
 * (0 success, 0xC000_00xx failures) and, for some calls, a value:
 *
 * | nr   | call           | arguments        | result                                                          |
 * | ---- | -------------- | ---------------- | --------------------------------------------------------------- |
 * | 0x06 | ReadFile       | (file)           | the file's word, or OBJECT_NAME_NOT_FOUND                       |
 * | 0x08 | WriteFile      | (value, file)    | SUCCESS (argument order reversed from the host's write)         |
 * | 0x15 | MapPage        | (-1, page)       | the page's linear address (not 0), CONFLICTING_ADDRESSES, NO_MEMORY |
 * | 0x1e | UnmapPage      | (-1, page)       | SUCCESS, INVALID_PARAMETER                                      |
 * | 0x18 | Commit         | (pages)          | SUCCESS, NO_MEMORY                                              |
 * | 0x36 | ProcessCount   | ()               | how many processes the caller's system runs (not a list)        |
 * | 0x1b | CreateProcess  | ()               | the new process's id, a multiple of 4 (4 × its ordinal)         |
 * | 0x2c | Terminate      | ()               | SUCCESS; the process ends                                       |
 * | else |                |                  | INVALID_SYSTEM_SERVICE                                          |
 *
 * Files are 0..2 of the caller's namespace. User instructions (load, store), kernel-mode
 * instructions, yield and a kernel bug (crash) are the same on both interfaces: they are not
 * system calls of either.
 */
import { type ForeignCall, type HostCall, NT, type SysResult, USER_PAGES } from './calls.ts';

export { NT } from './calls.ts';

import { visiblePids } from './kernel.ts';
import type { KernelPort } from './port.ts';
import { userVa } from './port.ts';
import { type CallOutcome, hostCall, type KernelRun } from './syscalls.ts';

/** NT-like status codes the foreign interface answers with. */
export const STATUS = {
  SUCCESS: 0,
  INVALID_PARAMETER: 0xc000_000d,
  NO_MEMORY: 0xc000_0017,
  CONFLICTING_ADDRESSES: 0xc000_0018,
  INVALID_SYSTEM_SERVICE: 0xc000_001c,
  OBJECT_NAME_NOT_FOUND: 0xc000_0034,
} as const;

/** Calls that are the same on both interfaces (instructions, yield, a kernel bug). */
export const isCommonCall = (c: HostCall): boolean =>
  c.kind === 'load' || c.kind === 'store' || c.kind === 'privileged' || c.kind === 'yield' || c.kind === 'crash';

const status = (s: number): SysResult => ({ kind: 'value', value: s });

/**
 * The foreign kernel's entry: the foreign interface implemented on the kernel core. Its own
 * answers, written from the table above (not through the host's results): this is the reference
 * a translated program is held to.
 */
export const foreignKernelCall = <M>(
  port: KernelPort<M>,
  run: KernelRun<M>,
  g: number,
  call: ForeignCall | HostCall,
): CallOutcome<M> => {
  if (call.kind !== 'foreign') {
    if (isCommonCall(call)) return hostCall(port, run, g, call);
    // A host system call is not a call of this kernel's interface.
    return { ...run, result: status(STATUS.INVALID_SYSTEM_SERVICE) };
  }
  const k = run.kernel;
  if (k.crashed) return { ...run, result: { kind: 'down' } };
  if (k.groups[g]!.exited) return { ...run, result: { kind: 'exited' } };
  const [a0, a1] = call.args;
  const via = (c: HostCall) => hostCall(port, run, g, c);
  const okOr = (r: CallOutcome<M>, ok: SysResult, failures: Readonly<Record<number, number>>): CallOutcome<M> => {
    const v = r.result.kind === 'value' ? r.result.value : 0;
    return { ...r, result: v >= 0 ? ok : status(failures[v] ?? STATUS.INVALID_PARAMETER) };
  };
  switch (call.nr) {
    case NT.ReadFile: {
      if (!(a0 >= 0 && a0 < 3)) return { ...run, result: status(STATUS.OBJECT_NAME_NOT_FOUND) };
      const v = k.files[`${k.groups[g]!.spec.root}/${a0}`];
      return { ...run, result: v === undefined ? status(STATUS.OBJECT_NAME_NOT_FOUND) : status(v) };
    }
    case NT.WriteFile: {
      if (!(a1 >= 0 && a1 < 3)) return { ...run, result: status(STATUS.INVALID_PARAMETER) };
      const path = `${k.groups[g]!.spec.root}/${a1}`;
      return { kernel: { ...k, files: { ...k.files, [path]: a0 >>> 0 } }, machine: run.machine, result: status(0) };
    }
    case NT.MapPage: {
      if (!(a1 >= 0 && a1 < USER_PAGES)) return { ...run, result: status(STATUS.INVALID_PARAMETER) };
      const r = via({ kind: 'mmap', page: a1 });
      return okOr(r, status(userVa(a1, 0)), { [-17]: STATUS.CONFLICTING_ADDRESSES, [-12]: STATUS.NO_MEMORY });
    }
    case NT.UnmapPage:
      return okOr(via({ kind: 'munmap', page: a1 }), status(0), {});
    case NT.Commit: {
      if (!(a0 >= 1)) return { ...run, result: status(STATUS.INVALID_PARAMETER) };
      return okOr(via({ kind: 'alloc', pages: a0 }), status(0), { [-12]: STATUS.NO_MEMORY });
    }
    case NT.ProcessCount:
      return { ...run, result: status(visiblePids(k, g).length) };
    case NT.CreateProcess: {
      const r = via({ kind: 'spawn' });
      return { ...r, result: status(4 * (r.result.kind === 'value' ? r.result.value : 0)) };
    }
    case NT.Terminate:
      return { ...via({ kind: 'exit' }), result: status(0) };
    default:
      return { ...run, result: status(STATUS.INVALID_SYSTEM_SERVICE) };
  }
};

/** The translation library's own state in a process: the foreign processes it has created. */
export interface TranslationState {
  readonly created: number;
}

/** The translation library's state at start: nothing created. */
export const INITIAL_TRANSLATION: TranslationState = Object.freeze({ created: 0 });

/** Files of the foreign program live in the library's prefix: host file 16 + f (the caller's home). */
export const PREFIX_FILE_BASE = 16;

/**
 * The translation library (user space, in the process): one foreign call becomes host calls on
 * the host kernel, with arguments reordered and results converted. A host call the program makes
 * itself bypasses the library and reaches the host kernel directly (`hostCall`): nothing here
 * stops it, as nothing in Wine does.
 */
export const translateCall = <M>(
  port: KernelPort<M>,
  run: KernelRun<M>,
  g: number,
  lib: TranslationState,
  call: ForeignCall,
): CallOutcome<M> & { readonly lib: TranslationState } => {
  const host = (c: HostCall) => hostCall(port, run, g, c);
  const errno = (r: CallOutcome<M>) => (r.result.kind === 'value' && r.result.value < 0 ? -r.result.value : 0);
  const done = (r: CallOutcome<M>, result: SysResult, next = lib) => ({ ...r, result, lib: next });
  const passThrough = (r: CallOutcome<M>) => r.result.kind === 'exited' || r.result.kind === 'down';
  const [a0, a1] = call.args;
  switch (call.nr) {
    case NT.ReadFile: {
      if (!(a0 >= 0 && a0 < 3)) return done({ ...run, result: status(0) }, status(STATUS.OBJECT_NAME_NOT_FOUND));
      const r = host({ kind: 'read', file: PREFIX_FILE_BASE + a0 });
      if (passThrough(r)) return done(r, r.result);
      return done(r, errno(r) === 2 ? status(STATUS.OBJECT_NAME_NOT_FOUND) : r.result);
    }
    case NT.WriteFile: {
      if (!(a1 >= 0 && a1 < 3)) return done({ ...run, result: status(0) }, status(STATUS.INVALID_PARAMETER));
      const r = host({ kind: 'write', file: PREFIX_FILE_BASE + a1, value: a0 });
      return done(r, passThrough(r) ? r.result : status(0));
    }
    case NT.MapPage: {
      if (!(a1 >= 0 && a1 < USER_PAGES)) return done({ ...run, result: status(0) }, status(STATUS.INVALID_PARAMETER));
      const r = host({ kind: 'mmap', page: a1 });
      if (passThrough(r)) return done(r, r.result);
      const e = errno(r);
      return done(
        r,
        e === 0
          ? status(userVa(a1, 0))
          : status(e === 17 ? STATUS.CONFLICTING_ADDRESSES : e === 12 ? STATUS.NO_MEMORY : STATUS.INVALID_PARAMETER),
      );
    }
    case NT.UnmapPage: {
      const r = host({ kind: 'munmap', page: a1 });
      return done(r, passThrough(r) ? r.result : status(errno(r) === 0 ? 0 : STATUS.INVALID_PARAMETER));
    }
    case NT.Commit: {
      if (!(a0 >= 1)) return done({ ...run, result: status(0) }, status(STATUS.INVALID_PARAMETER));
      const r = host({ kind: 'alloc', pages: a0 });
      return done(r, passThrough(r) ? r.result : status(errno(r) === 0 ? 0 : STATUS.NO_MEMORY));
    }
    case NT.ProcessCount: {
      // The library keeps its own process table (as wineserver does): the host's pids are not the program's.
      const r = host({ kind: 'yield' });
      return done(r, passThrough(r) ? r.result : status(1 + lib.created));
    }
    case NT.CreateProcess: {
      const r = host({ kind: 'spawn' });
      if (passThrough(r)) return done(r, r.result);
      return done(r, status(4 * (2 + lib.created)), { created: lib.created + 1 });
    }
    case NT.Terminate: {
      const r = host({ kind: 'exit' });
      return done(r, passThrough(r) ? r.result : status(0));
    }
    default: {
      const r = host({ kind: 'yield' });
      return done(r, passThrough(r) ? r.result : status(STATUS.INVALID_SYSTEM_SERVICE));
    }
  }
};
