/**
 * Designs at the system-call level: how several guests' programs are given a kernel.
 *
 * - the reference: each guest alone on its own kernel on its own machine (`referenceBoot`);
 * - containers: every guest a process group of one shared host kernel, with its namespaces and
 *   quota, its code at ring 3 on the host's own page tables (`containerDesign`);
 * - VMs: every guest its own instance of the same kernel, in a guest of a hosted machine run by a
 *   hypervisor design (`vmDesign`);
 * - API translation: foreign programs as plain host processes, their calls translated by a
 *   library in their own address space (`translationDesign`).
 *
 * A design is only the way it builds groups and where their kernel runs; every outcome the
 * properties report follows from that.
 */
import type { Design } from '../host/design.ts';
import type { HostMachine } from '../host/machine.ts';
import { createHost } from '../host/run.ts';
import { guestView } from '../host/toolkit.ts';
import type { PhysicalMemory } from '../memory.ts';
import type { Machine } from '../state.ts';
import { type Call, ERRNO, type SysResult } from './calls.ts';
import { foreignKernelCall, INITIAL_TRANSLATION, type TranslationState, translateCall } from './foreign.ts';
import { bootKernel, type GroupSpec, type Kernel } from './kernel.ts';
import { barePort, type KernelPort } from './port.ts';
import { type CallOutcome, hostCall, type KernelRun } from './syscalls.ts';
import { vmPort } from './vm.ts';

/** The interface a guest's programs are written for. */
export type Abi = 'host' | 'foreign';

/** A guest at this level: its memory quota in pages and the interface its programs use. */
export interface SyscallGuest {
  readonly quota: number;
  readonly abi: Abi;
}

/** A kernel of a design's world and the memory its page tables live in (for resource control). */
export interface KernelAudit {
  readonly kernel: Kernel;
  readonly memory: PhysicalMemory;
}

/** A design at the system-call level. `W` is its world: kernels and machines. */
export interface SyscallDesign<W = unknown> {
  readonly name: string;
  readonly description: string;
  readonly structure: 'shared-kernel' | 'kernel-per-guest' | 'api-translation';
  /** The interface its guests' programs are written for. */
  readonly abi: Abi;
  /** The world at start, with these guests. */
  boot(guests: readonly SyscallGuest[]): W;
  /** One system call by a guest: the next world and what the call returned. */
  call(world: W, guest: number, call: Call): { readonly world: W; readonly result: SysResult };
  /** The kernels of a world, for the properties to inspect. */
  kernels(world: W): readonly KernelAudit[];
}

/**
 * Is `x` a system-call-level design (the shape of `SyscallDesign`: name, description, a known
 * structure and interface, and the functions boot, call and kernels)? What `hyperprop check
 * --design FILE` tells apart from a hosted-machine `Design` (which has `axes` and the Design API).
 */
export const isSyscallDesign = (x: unknown): x is SyscallDesign => {
  if (typeof x !== 'object' || x === null) return false;
  const d = x as Record<string, unknown>;
  return (
    typeof d.name === 'string' &&
    typeof d.description === 'string' &&
    (d.structure === 'shared-kernel' || d.structure === 'kernel-per-guest' || d.structure === 'api-translation') &&
    (d.abi === 'host' || d.abi === 'foreign') &&
    ['boot', 'call', 'kernels'].every((f) => typeof d[f] === 'function')
  );
};

/** How a guest is set up on a kernel of its own: ring 0, namespaces that hold only it. */
export const ownKernelGroup = (g: number, guest: SyscallGuest): GroupSpec => ({
  guest: g,
  quota: guest.quota,
  ring: 0,
  root: 'root',
  home: 'home',
  mounts: [],
  exe: 'root/exe',
  image: 'root/exe',
  pidns: 'own',
  netns: 'own',
});

/** A kernel's entry for a guest's interface: the foreign kernel's, or the host's (which knows no foreign call). */
export const kernelEntry = <M>(
  abi: Abi,
  port: KernelPort<M>,
  run: KernelRun<M>,
  g: number,
  c: Call,
): CallOutcome<M> => {
  if (abi === 'foreign') return foreignKernelCall(port, run, g, c);
  if (c.kind === 'foreign') return { ...run, result: { kind: 'value', value: -ERRNO.ENOSYS } };
  return hostCall(port, run, g, c);
};

/** The reference for guest `g`: its program alone on its own kernel on its own machine. */
export const referenceBoot = (g: number, guest: SyscallGuest): KernelRun<Machine> =>
  bootKernel([ownKernelGroup(g, guest)]);

/** One call of the guest's program on its reference kernel. */
export const referenceCall = (guest: SyscallGuest, run: KernelRun<Machine>, call: Call): CallOutcome<Machine> =>
  kernelEntry(guest.abi, barePort, run, 0, call);

/** A shared kernel's world. */
export interface SharedKernelWorld {
  readonly run: KernelRun<Machine>;
}

/** The container host: how each guest's group is set up is the design. */
export const containerGroup = (g: number, guest: SyscallGuest): GroupSpec => ({
  guest: g,
  quota: guest.quota,
  ring: 3,
  root: `c${g}`,
  home: `c${g}-home`,
  mounts: [],
  exe: `c${g}/exe`,
  image: `c${g}/exe`,
  pidns: `c${g}`,
  netns: `c${g}`,
});

/** How a container design sets up guest `g`'s process group. */
export type ContainerGroupBuilder = (g: number, guest: SyscallGuest) => GroupSpec;

/** A container design: one host kernel, each guest a process group set up by `group`. */
export const containerDesign = (spec: {
  readonly name: string;
  readonly description: string;
  readonly group?: ContainerGroupBuilder;
}): SyscallDesign<SharedKernelWorld> => {
  const group = spec.group ?? containerGroup;
  return {
    name: spec.name,
    description: spec.description,
    structure: 'shared-kernel',
    abi: 'host',
    boot: (guests) => ({ run: bootKernel(guests.map((x, g) => group(g, x))) }),
    call: (w, g, c) => {
      const r = kernelEntry('host', barePort, w.run, g, c);
      return { world: { run: { kernel: r.kernel, machine: r.machine } }, result: r.result };
    },
    kernels: (w) => [{ kernel: w.run.kernel, memory: w.run.machine.memory }],
  };
};

/** A VM design's world: the hosted machine and each guest's kernel instance. */
export interface VmWorld {
  readonly host: HostMachine;
  readonly kernels: readonly Kernel[];
  readonly abis: readonly Abi[];
}

/** Real TLB entries of VM worlds: enough that no workload at this level evicts. */
const VM_TLB_CAPACITY = 1024;

/** A VM design: each guest runs its own kernel instance in a guest of `machine`, a hypervisor design. */
export const vmDesign = (spec: {
  readonly name: string;
  readonly description: string;
  readonly machine: Design;
}): SyscallDesign<VmWorld> => ({
  name: spec.name,
  description: spec.description,
  structure: 'kernel-per-guest',
  abi: 'host',
  boot: (guests) => {
    const booted = guests.map((x, g) => bootKernel([ownKernelGroup(g, x)]));
    return {
      host: createHost(
        spec.machine,
        booted.map((b) => b.machine),
        { tlbCapacity: VM_TLB_CAPACITY },
      ),
      kernels: booted.map((b) => b.kernel),
      abis: guests.map((x) => x.abi),
    };
  },
  call: (w, g, c) => {
    const r = kernelEntry(w.abis[g]!, vmPort(spec.machine, g), { kernel: w.kernels[g]!, machine: w.host }, 0, c);
    return {
      world: { ...w, host: r.machine, kernels: w.kernels.map((k, i) => (i === g ? r.kernel : k)) },
      result: r.result,
    };
  },
  kernels: (w) => w.kernels.map((kernel, g) => ({ kernel, memory: guestView(spec.machine, w.host, g).memory })),
});

/** An API-translation world: the host kernel, and each process's translation library state. */
export interface TranslationWorld {
  readonly run: KernelRun<Machine>;
  readonly libraries: readonly TranslationState[];
}

/** A foreign program as a host process: no namespaces, its files in a prefix under its home. */
export const translatedGroup = (g: number, guest: SyscallGuest): GroupSpec => ({
  guest: g,
  quota: guest.quota,
  ring: 3,
  root: 'host',
  home: `wine${g}`,
  mounts: [],
  exe: 'host/wine',
  image: 'host/wine',
  pidns: 'host',
  netns: 'host',
});

/** The API-translation design: foreign calls through the library, host calls straight to the host kernel. */
export const translationDesign = (spec: {
  readonly name: string;
  readonly description: string;
}): SyscallDesign<TranslationWorld> => ({
  name: spec.name,
  description: spec.description,
  structure: 'api-translation',
  abi: 'foreign',
  boot: (guests) => ({
    run: bootKernel(guests.map((x, g) => translatedGroup(g, x))),
    libraries: guests.map(() => INITIAL_TRANSLATION),
  }),
  call: (w, g, c) => {
    if (c.kind === 'foreign') {
      const r = translateCall(barePort, w.run, g, w.libraries[g]!, c);
      return {
        world: {
          run: { kernel: r.kernel, machine: r.machine },
          libraries: w.libraries.map((l, i) => (i === g ? r.lib : l)),
        },
        result: r.result,
      };
    }
    const r = hostCall(barePort, w.run, g, c);
    return { world: { ...w, run: { kernel: r.kernel, machine: r.machine } }, result: r.result };
  },
  kernels: (w) => [{ kernel: w.run.kernel, memory: w.run.machine.memory }],
});
