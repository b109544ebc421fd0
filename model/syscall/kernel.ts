/**
 * A small pure kernel: process groups, a file system of directories, local sockets, pid
 * namespaces and memory quotas, on a machine it reaches through a port (port.ts): the kernel
 * decides, the port carries its decisions out on the machine (writing PTEs into the machine's
 * memory, running a process's instructions through the ISA and the one walker).
 *
 * One kernel serves every design at this level: the reference (one group, alone, on its own
 * machine), a container host (many groups of one shared kernel) and each VM's own instance. What
 * differs is only how a group is set up (`GroupSpec`: its namespaces, quota, mounts, the ring its
 * code runs at) and which machine the port drives; no rule here names a design.
 */

import { EFLAGS } from '../bits.ts';
import { bootFrames, bootMachine } from '../boot.ts';
import { type Geometry, PAGE_SIZE } from '../geometry.ts';
import { writeWord } from '../memory.ts';
import { PTE } from '../paging.ts';
import type { Cpu, Machine } from '../state.ts';
import { EXE_FILE, FIRST_USER_TABLE_INDEX, USER_PAGES } from './calls.ts';

/**
 * The machine every kernel instance runs on: 2 × 8 pages of linear window, 34 frames, 4 words a
 * page. 34 = the 32 the kernel had before the boot layout's two stack pages (kernel and user,
 * boot.ts `bootFrames`) + those two, so the free memory stays 18 frames (the 6 user pages of
 * slot 0 and 12 spares): with four groups, the page directories and tables of groups 1 to 3 take
 * 6 of them (group 0 uses the kernel's), and the 12 left hold four quotas of 3 pages. With 32
 * frames only 10 were left, and a correct kernel refused a group's page within its quota because
 * the others had used theirs: a false isolation failure of the correct container.
 */
export const KERNEL_GEOMETRY: Geometry = Object.freeze({ dirEntries: 2, tableEntries: 8, frames: 34, wordsPerPage: 4 });

/** The word every program image (and the container runtime's binary) holds: "\x7fELF". */
export const IMAGE_WORD = 0x464c_457f;
/** The host's container runtime binary (runc), a host file. */
export const HOST_RUNTIME = 'host/runtime';

/** A process group's address space: the frames of its page directory and of its page table for slot 0. */
export interface AddressSpace {
  readonly directory: number;
  readonly table: number;
}

/** How a group is set up: by the design that builds the kernel. */
export interface GroupSpec {
  /** The guest the group is. */
  readonly guest: number;
  /** Pages it may have mapped or reserved at once (Infinity: no limit). */
  readonly quota: number;
  /** The ring its own code's kernel-mode instructions run at: 0 with a kernel of its own, 3 as a process. */
  readonly ring: 0 | 3;
  /** Directory its files 0..3 resolve in, and the directory its files 16.. resolve in. */
  readonly root: string;
  readonly home: string;
  /** Files resolved in another directory (a bind mount): (file, directory). */
  readonly mounts: readonly (readonly [number, string])[];
  /** The path `/proc/self/exe` (file 3) resolves to. */
  readonly exe: string;
  readonly pidns: string;
  readonly netns: string;
  /** The image the group's processes run (a path; busy while they run). */
  readonly image: string;
}

/** A process of the kernel. */
export interface Process {
  readonly pid: number;
  readonly ns: string;
  /** Its pid inside its pid namespace. */
  readonly nsPid: number;
  readonly group: number;
}

/** One guest inside a kernel: its address space, its user pages and reserved frames, and the CPU context its code runs in. */
export interface Group {
  readonly spec: GroupSpec;
  readonly space: AddressSpace;
  /** Frame mapped at each user page (null: unmapped). */
  readonly pages: readonly (number | null)[];
  /** Frames reserved by alloc. */
  readonly reserved: readonly number[];
  readonly exited: boolean;
  /** The CPU context its code runs in (its kernel's for ring 0, its process's for ring 3). */
  readonly cpu: Cpu;
}

/** A kernel instance: its groups (guests), processes, files, sockets and free frames, and whether it crashed. */
export interface Kernel {
  readonly groups: readonly Group[];
  readonly processes: readonly Process[];
  readonly nextPid: number;
  /** Files by path `directory/name`. */
  readonly files: Readonly<Record<string, number>>;
  /** Queued messages by `netns:port`. */
  readonly sockets: Readonly<Record<string, readonly number[]>>;
  /** Free frames, ascending (all zero). */
  readonly free: readonly number[];
  readonly crashed: boolean;
}

/** Page-table index of user page `page`. */
export const userTableIndex = (page: number): number => FIRST_USER_TABLE_INDEX + page;

let bootedMachine: Machine | undefined;
/**
 * The machine a kernel boots on: the standard boot layout of KERNEL_GEOMETRY at ring 0 with
 * interrupts enabled and the user pages unmapped. The same immutable value every time, so it is
 * built once (booting is most of a short scenario's cost).
 */
export const kernelMachine = (): Machine => {
  if (bootedMachine) return bootedMachine;
  const f = bootFrames(KERNEL_GEOMETRY);
  let m = bootMachine({ geometry: KERNEL_GEOMETRY, cpl: 0, eflags: EFLAGS.IF });
  for (let p = 0; p < USER_PAGES; p++)
    m = { ...m, memory: writeWord(m.memory, f.pageTable(0) * PAGE_SIZE + userTableIndex(p) * 4, 0) };
  bootedMachine = m;
  return m;
};

/** A kernel and the machine it runs on. */
export interface Booted {
  readonly kernel: Kernel;
  readonly machine: Machine;
}

/**
 * Boot a kernel with `groups` on its own machine (the standard boot layout of KERNEL_GEOMETRY with
 * the user pages unmapped): group 0 uses the boot page directory and table, each further group a
 * directory and table from the free frames (sharing the kernel's slot 1, where the system page is).
 */
export const bootKernel = (groups: readonly GroupSpec[]): Booted => {
  const g = KERNEL_GEOMETRY;
  const f = bootFrames(g);
  let machine = kernelMachine();
  const w = (pa: number, v: number) => {
    machine = { ...machine, memory: writeWord(machine.memory, pa, v) };
  };
  let free: number[] = [];
  for (let p = 0; p < USER_PAGES; p++) free.push(f.data(0, userTableIndex(p)));
  for (let x = f.firstSpare; x < g.frames; x++) free.push(x);
  free = free.sort((a, b) => a - b);
  const slot1 = (f.pageTable(1) * PAGE_SIZE) | PTE.P | PTE.RW | PTE.US;
  const built: Group[] = groups.map((spec, i) => {
    let space: AddressSpace = { directory: f.pageDirectory, table: f.pageTable(0) };
    if (i > 0) {
      space = { directory: free[0]!, table: free[1]! };
      free = free.slice(2);
      w(space.directory * PAGE_SIZE, (space.table * PAGE_SIZE) | PTE.P | PTE.RW | PTE.US);
      w(space.directory * PAGE_SIZE + 4, slot1 >>> 0);
      w(space.table * PAGE_SIZE, (space.table * PAGE_SIZE) | PTE.P | PTE.RW);
      w(space.table * PAGE_SIZE + 4, (space.directory * PAGE_SIZE) | PTE.P | PTE.RW);
    }
    const cpu: Cpu =
      spec.ring === 0 ? machine.cpu : { ...machine.cpu, cpl: 3, cs: 0x1b, cr3: space.directory * PAGE_SIZE };
    return { spec, space, pages: Array(USER_PAGES).fill(null), reserved: [], exited: false, cpu };
  });
  let processes: Process[] = [];
  built.forEach((x, i) => {
    processes = [
      ...processes,
      { pid: i + 1, ns: x.spec.pidns, nsPid: nextNsPid(processes, x.spec.pidns, i + 1), group: i },
    ];
  });
  const files: Record<string, number> = { [HOST_RUNTIME]: IMAGE_WORD };
  for (const x of built) files[x.spec.image] = IMAGE_WORD;
  return {
    machine,
    kernel: { groups: built, processes, nextPid: built.length + 1, files, sockets: {}, free, crashed: false },
  };
};

/**
 * The pid a new process gets in namespace `ns`: the next after the namespace's highest (a fresh
 * namespace starts at 1, as its init); in the initial namespace ('host') the global pid itself.
 */
const nextNsPid = (processes: readonly Process[], ns: string, globalPid: number): number =>
  ns === 'host' ? globalPid : Math.max(0, ...processes.filter((p) => p.ns === ns).map((p) => p.nsPid)) + 1;

/** The path file `file` of group `g` resolves to. */
export const resolveFile = (k: Kernel, g: number, file: number): string => {
  const spec = k.groups[g]!.spec;
  if (file === EXE_FILE) return spec.exe;
  const mount = spec.mounts.find(([f]) => f === file);
  if (mount) return `${mount[1]}/${file}`;
  return file >= 16 ? `${spec.home}/${file - 16}` : `${spec.root}/${file}`;
};

/** Is `path` the image of a running process (so it cannot be written: ETXTBSY)? */
export const imageBusy = (k: Kernel, path: string): boolean => k.groups.some((x) => !x.exited && x.spec.image === path);

/** The directory of a path. */
export const directoryOf = (path: string): string => path.slice(0, path.lastIndexOf('/'));

/** Replace group `g`. */
export const withGroup = (k: Kernel, g: number, patch: Partial<Group>): Kernel => ({
  ...k,
  groups: k.groups.map((x, i) => (i === g ? { ...x, ...patch } : x)),
});

/** Pages group `g` holds against its quota: mapped pages and reservations. */
export const charged = (x: Group): number => x.pages.filter((p) => p !== null).length + x.reserved.length;

/** The process ids group `g` sees: those of its pid namespace, as numbered there, ascending. */
export const visiblePids = (k: Kernel, g: number): number[] => {
  const ns = k.groups[g]!.spec.pidns;
  return k.processes
    .filter((p) => p.ns === ns)
    .map((p) => p.nsPid)
    .sort((a, b) => a - b);
};

/** A new process in group `g`: its pid as the group sees it. */
export const spawnProcess = (k: Kernel, g: number): { readonly kernel: Kernel; readonly nsPid: number } => {
  const ns = k.groups[g]!.spec.pidns;
  const nsPid = nextNsPid(k.processes, ns, k.nextPid);
  return {
    kernel: { ...k, processes: [...k.processes, { pid: k.nextPid, ns, nsPid, group: g }], nextPid: k.nextPid + 1 },
    nsPid,
  };
};

/** Insert frames into the (ascending) free list. */
export const freeFrames = (free: readonly number[], frames: readonly number[]): number[] =>
  [...free, ...frames].sort((a, b) => a - b);
