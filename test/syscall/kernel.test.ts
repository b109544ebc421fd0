/**
 * The kernel's system calls on the reference (a guest alone on its own kernel), scenario by
 * scenario. Expected values come from the semantics stated in model/syscall/syscalls.ts and
 * foreign.ts (POSIX-like errno results, the foreign table) and the boot layout of
 * KERNEL_GEOMETRY (2 × 8 window, 32 frames: directory 0, tables 1–2, system page 3, data frames
 * 4 + t for window page (0, t), spares from 20), not from running the code.
 */
import { describe, expect, it } from 'vitest';
import { readWord } from '../../model/memory.ts';
import {
  type Call,
  IMAGE_WORD,
  NT,
  referenceBoot,
  referenceCall,
  STATUS,
  type SyscallGuest,
  type SysResult,
} from '../../model/syscall/index.ts';

const run = (calls: readonly Call[], guest: SyscallGuest = { quota: 3, abi: 'host' }) => {
  let k = referenceBoot(0, guest);
  const results: SysResult[] = [];
  for (const c of calls) {
    const r = referenceCall(guest, k, c);
    k = r;
    results.push(r.result);
  }
  return { results, final: k };
};
const v = (value: number): SysResult => ({ kind: 'value', value });

describe('memory calls', () => {
  it('maps a zeroed page, stores and loads through it, refuses a second mapping, faults once it is unmapped', () => {
    const { results } = run([
      { kind: 'mmap', page: 0 },
      { kind: 'load', page: 0, word: 1 },
      { kind: 'store', page: 0, word: 1, value: 42 },
      { kind: 'load', page: 0, word: 1 },
      { kind: 'mmap', page: 0 },
      { kind: 'munmap', page: 0 },
      { kind: 'load', page: 0, word: 1 },
      { kind: 'munmap', page: 0 },
    ]);
    expect(results).toEqual([
      v(0),
      v(0),
      v(0),
      v(42),
      v(-17), // EEXIST
      v(0),
      { kind: 'signal', vector: 14 }, // #PF: the PTE is gone
      v(-22), // EINVAL
    ]);
  });

  it('writes the PTE into the machine memory: the lowest free frame (data frame 6 of page (0,2)), present, writable, user', () => {
    const { final } = run([{ kind: 'mmap', page: 0 }]);
    // The page table of directory slot 0 is frame 1; user page 0 is table index 2.
    expect(readWord(final.machine.memory, 1 * 4096 + 2 * 4)).toBe((6 << 12) | 0x7);
  });

  it('zeroes a frame before it is reused: what one mapping wrote is not seen by the next', () => {
    const { results } = run([
      { kind: 'mmap', page: 0 },
      { kind: 'store', page: 0, word: 2, value: 7 },
      { kind: 'munmap', page: 0 },
      { kind: 'mmap', page: 1 },
      { kind: 'load', page: 1, word: 2 },
    ]);
    expect(results.at(-1)).toEqual(v(0));
  });

  it('charges mapped and reserved pages against the quota', () => {
    const { results } = run(
      [
        { kind: 'mmap', page: 0 },
        { kind: 'alloc', pages: 1 },
        { kind: 'mmap', page: 1 },
        { kind: 'munmap', page: 0 },
        { kind: 'mmap', page: 1 },
        { kind: 'alloc', pages: 2 },
      ],
      { quota: 2, abi: 'host' },
    );
    expect(results).toEqual([v(0), v(0), v(-12), v(0), v(0), v(-12)]);
  });
});

describe('files, pids, sockets, exit and crash', () => {
  it('reads back what was written; a missing file is ENOENT; its own running image is ETXTBSY', () => {
    const { results } = run([
      { kind: 'read', file: 1 },
      { kind: 'write', file: 1, value: 5 },
      { kind: 'read', file: 1 },
      { kind: 'read', file: 3 },
      { kind: 'write', file: 3, value: 0 },
    ]);
    expect(results).toEqual([v(-2), v(0), v(5), v(IMAGE_WORD), v(-26)]);
  });

  it('a process alone is pid 1; its child is pid 2', () => {
    const { results } = run([{ kind: 'getpids' }, { kind: 'spawn' }, { kind: 'getpids' }]);
    expect(results).toEqual([{ kind: 'pids', pids: [1] }, v(2), { kind: 'pids', pids: [1, 2] }]);
  });

  it('a socket delivers in order, then is empty (EAGAIN); ports are separate', () => {
    const { results } = run([
      { kind: 'send', port: 0, value: 1 },
      { kind: 'send', port: 0, value: 2 },
      { kind: 'recv', port: 1 },
      { kind: 'recv', port: 0 },
      { kind: 'recv', port: 0 },
      { kind: 'recv', port: 0 },
    ]);
    expect(results).toEqual([v(0), v(0), v(-11), v(1), v(2), v(-11)]);
  });

  it('after exit nothing runs; after a crash the kernel is down', () => {
    expect(run([{ kind: 'exit' }, { kind: 'getpids' }]).results[1]).toEqual({ kind: 'exited' });
    expect(run([{ kind: 'crash' }, { kind: 'read', file: 0 }]).results).toEqual([{ kind: 'down' }, { kind: 'down' }]);
  });

  it("a kernel-mode instruction runs at ring 0 on the guest's own kernel: CLI clears IF, CS is the kernel's 0x08", () => {
    const { results } = run([
      { kind: 'privileged', op: { kind: 'cli' } },
      { kind: 'privileged', op: { kind: 'movFromCs', dst: 1 } },
    ]);
    expect(results).toEqual([
      { kind: 'cpu', interruptsEnabled: false },
      { kind: 'cpu', value: 0x08, interruptsEnabled: false },
    ]);
  });
});

describe('the foreign kernel (the reference of translated programs)', () => {
  const foreign = (nr: number, a0 = 0, a1 = 0): Call => ({ kind: 'foreign', nr, args: [a0, a1, 0] });
  const guest: SyscallGuest = { quota: 3, abi: 'foreign' };

  it('WriteFile takes (value, file); ReadFile of a missing file is OBJECT_NAME_NOT_FOUND', () => {
    const { results } = run([foreign(NT.ReadFile, 1), foreign(NT.WriteFile, 9, 1), foreign(NT.ReadFile, 1)], guest);
    expect(results).toEqual([v(STATUS.OBJECT_NAME_NOT_FOUND), v(0), v(9)]);
  });

  it("MapPage answers the page's linear address (page 0 is linear(0, 2) = 0x2000), then CONFLICTING_ADDRESSES", () => {
    const { results } = run([foreign(NT.MapPage, 0xffff_ffff, 0), foreign(NT.MapPage, 0xffff_ffff, 0)], guest);
    expect(results).toEqual([v(0x2000), v(STATUS.CONFLICTING_ADDRESSES)]);
  });

  it('process ids are multiples of 4 and ProcessCount counts them; unknown numbers and host calls are not services', () => {
    const { results } = run(
      [
        foreign(NT.ProcessCount),
        foreign(NT.CreateProcess),
        foreign(NT.ProcessCount),
        foreign(0x99),
        { kind: 'getpids' },
      ],
      guest,
    );
    expect(results).toEqual([v(1), v(8), v(2), v(STATUS.INVALID_SYSTEM_SERVICE), v(STATUS.INVALID_SYSTEM_SERVICE)]);
  });
});
