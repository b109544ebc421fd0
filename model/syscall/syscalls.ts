/**
 * The host kernel's system calls, with their defined semantics (POSIX-like, Linux errno numbers):
 *
 * - mmap(page): -EEXIST if mapped; -ENOMEM if the group's quota is reached or no frame is free;
 *   else the lowest free frame (zeroed) is mapped present, writable, user at the page: 0.
 * - munmap(page): -EINVAL if unmapped; else the frame is zeroed, unmapped and freed: 0.
 * - load/store: the user instruction at the page's word, through the page tables; a fault is a signal.
 * - read(file): the file's word, or -ENOENT. write(file, value): -ETXTBSY if the file is the image
 *   of a running process; else the file holds `value`: 0.
 * - getpids: the pids of the caller's pid namespace, ascending. spawn: a new process, its pid there.
 * - send(port, value): queued on the port of the caller's network namespace: 0.
 *   recv(port): the oldest queued value, or -EAGAIN.
 * - alloc(pages): -ENOMEM if the quota would be exceeded or fewer frames are free; else reserved: 0.
 * - yield: 0. exit: pages and reservations freed, the group's processes gone; later calls: exited.
 * - crash: the kernel panics; every later call to it: down.
 * - privileged(op): the instruction in the guest's own code's context, at the group's ring.
 */
import { PTE } from '../paging.ts';
import { ERRNO, type HostCall, type SysResult, USER_PAGES } from './calls.ts';
import {
  charged,
  freeFrames,
  imageBusy,
  type Kernel,
  resolveFile,
  spawnProcess,
  visiblePids,
  withGroup,
} from './kernel.ts';
import type { KernelPort } from './port.ts';
import { userVa } from './port.ts';

/** A kernel and its machine, as a port drives it. */
export interface KernelRun<M> {
  readonly kernel: Kernel;
  readonly machine: M;
}

/** The outcome of one call. */
export interface CallOutcome<M> extends KernelRun<M> {
  readonly result: SysResult;
}

const value = (v: number): SysResult => ({ kind: 'value', value: v });
const error = (e: keyof typeof ERRNO): SysResult => value(-ERRNO[e]);

const inRange = (n: number, max: number) => Number.isInteger(n) && n >= 0 && n < max;

/** The kernel's own allocation decisions, shared by mmap and alloc: can group `g` take `n` more pages? */
const mayCharge = (k: Kernel, g: number, n: number): boolean =>
  charged(k.groups[g]!) + n <= k.groups[g]!.spec.quota && n <= k.free.length;

/** Group `g` makes host call `call`. */
export const hostCall = <M>(port: KernelPort<M>, run: KernelRun<M>, g: number, call: HostCall): CallOutcome<M> => {
  const k = run.kernel;
  const m = run.machine;
  const same = (result: SysResult): CallOutcome<M> => ({ kernel: k, machine: m, result });
  if (k.crashed) return same({ kind: 'down' });
  const group = k.groups[g]!;
  if (group.exited) return same({ kind: 'exited' });
  switch (call.kind) {
    case 'mmap': {
      if (!inRange(call.page, USER_PAGES)) return same(error('EINVAL'));
      if (group.pages[call.page] !== null) return same(error('EEXIST'));
      if (!mayCharge(k, g, 1)) return same(error('ENOMEM'));
      const frame = k.free[0]!;
      const machine = port.setPte(m, group.space, call.page, (frame << 12) | PTE.P | PTE.RW | PTE.US);
      const pages = group.pages.map((p, i) => (i === call.page ? frame : p));
      return { kernel: { ...withGroup(k, g, { pages }), free: k.free.slice(1) }, machine, result: value(0) };
    }
    case 'munmap': {
      const frame = inRange(call.page, USER_PAGES) ? group.pages[call.page] : null;
      if (frame === null || frame === undefined) return same(error('EINVAL'));
      const machine = port.setPte(port.zeroPage(m, group.space, call.page), group.space, call.page, 0);
      const pages = group.pages.map((p, i) => (i === call.page ? null : p));
      return {
        kernel: { ...withGroup(k, g, { pages }), free: freeFrames(k.free, [frame]) },
        machine,
        result: value(0),
      };
    }
    case 'load':
    case 'store': {
      const va = userVa(call.page, call.word);
      const access =
        call.kind === 'load' ? { kind: 'load' as const, va } : { kind: 'store' as const, va, value: call.value };
      const r = port.user(m, group.cpu, group.space, access);
      return { kernel: withGroup(k, g, { cpu: r.cpu }), machine: r.m, result: r.result };
    }
    case 'read': {
      const v = k.files[resolveFile(k, g, call.file)];
      return same(v === undefined ? error('ENOENT') : value(v));
    }
    case 'write': {
      const path = resolveFile(k, g, call.file);
      if (imageBusy(k, path)) return same(error('ETXTBSY'));
      return { kernel: { ...k, files: { ...k.files, [path]: call.value >>> 0 } }, machine: m, result: value(0) };
    }
    case 'getpids':
      return same({ kind: 'pids', pids: visiblePids(k, g) });
    case 'spawn': {
      const r = spawnProcess(k, g);
      return { kernel: r.kernel, machine: m, result: value(r.nsPid) };
    }
    case 'send': {
      const key = `${group.spec.netns}:${call.port}`;
      const queue = [...(k.sockets[key] ?? []), call.value >>> 0];
      return { kernel: { ...k, sockets: { ...k.sockets, [key]: queue } }, machine: m, result: value(0) };
    }
    case 'recv': {
      const key = `${group.spec.netns}:${call.port}`;
      const queue = k.sockets[key] ?? [];
      if (queue.length === 0) return same(error('EAGAIN'));
      return {
        kernel: { ...k, sockets: { ...k.sockets, [key]: queue.slice(1) } },
        machine: m,
        result: value(queue[0]!),
      };
    }
    case 'alloc': {
      if (!Number.isInteger(call.pages) || call.pages < 1) return same(error('EINVAL'));
      if (!mayCharge(k, g, call.pages)) return same(error('ENOMEM'));
      const reserved = [...group.reserved, ...k.free.slice(0, call.pages)];
      return {
        kernel: { ...withGroup(k, g, { reserved }), free: k.free.slice(call.pages) },
        machine: m,
        result: value(0),
      };
    }
    case 'yield':
      return same(value(0));
    case 'exit': {
      let machine = m;
      group.pages.forEach((frame, page) => {
        if (frame !== null) machine = port.setPte(port.zeroPage(machine, group.space, page), group.space, page, 0);
      });
      const frames = [...group.pages.filter((p): p is number => p !== null), ...group.reserved];
      const k1 = withGroup(k, g, { pages: group.pages.map(() => null), reserved: [], exited: true });
      return {
        kernel: { ...k1, free: freeFrames(k.free, frames), processes: k.processes.filter((p) => p.group !== g) },
        machine,
        result: value(0),
      };
    }
    case 'crash':
      return { kernel: { ...k, crashed: true }, machine: port.panic(m), result: { kind: 'down' } };
    case 'privileged': {
      const r = port.privileged(m, group.cpu, call.op);
      return { kernel: withGroup(k, g, { cpu: r.cpu }), machine: r.m, result: r.result };
    }
  }
};
