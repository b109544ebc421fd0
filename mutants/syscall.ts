/**
 * Mutants at the system-call level: the `container` design with one flaw in how it sets up a
 * guest's process group (model/syscall/designs.ts `containerGroup`), each a real class of
 * container escape or interference. Each is checked by the system-call level's runner.
 */
import {
  type ContainerGroupBuilder,
  containerDesign,
  containerGroup,
  HOST_RUNTIME,
  type SyscallDesign,
} from '../model/syscall/index.ts';
import { checkSyscall } from '../properties/syscall/check.ts';
import { SYSCALL_PROPERTY_NAMES, type SyscallPropertyName } from '../properties/syscall/properties.ts';
import type { Mutant, MutantTarget, MutantVerdict } from './mutant.ts';

/** The container preset with its group set-up changed by `flaw`. */
const flawed = (name: string, description: string, flaw: ContainerGroupBuilder): SyscallDesign =>
  containerDesign({ name, description, group: flaw }) as unknown as SyscallDesign;

/** The runner's verdict on one property of a system-call-level design, as a mutant verdict. */
export const syscallTarget = (design: SyscallDesign): MutantTarget => ({
  level: 'syscall',
  check: (property, { seed, runs, onFirstFailure }): MutantVerdict => {
    if (!(SYSCALL_PROPERTY_NAMES as readonly string[]).includes(property))
      throw new RangeError(`no property '${property}' at the system-call level`);
    const [r] = checkSyscall(design, {
      properties: [property as SyscallPropertyName],
      seed,
      runs,
      ...(onFirstFailure ? { onFirstFailure } : {}),
    });
    const c = r!.counterexample;
    return {
      property,
      status: r!.status,
      runs: c ? c.runsToFailure : r!.runs,
      ...(c ? { shrunkLength: c.scenario.ops.length, message: c.failure.message, rendering: c.rendering } : {}),
    };
  },
});

export const containerNoPidNamespace = flawed(
  'container-no-pid-namespace',
  'containers without a pid namespace: every group in the host namespace, seeing every pid',
  (g, guest) => ({ ...containerGroup(g, guest), pidns: 'host' }),
);

export const containerSharedDirectory = flawed(
  'container-shared-directory',
  'containers whose file 0 is a bind mount of one host directory shared by all (a /tmp or volume mounted into every container)',
  (g, guest) => ({ ...containerGroup(g, guest), mounts: [[0, 'shared']] }),
);

export const containerNoMemoryQuota = flawed(
  'container-no-memory-quota',
  'containers without a memory cgroup limit: one container can take all free memory',
  (g, guest) => ({ ...containerGroup(g, guest), quota: Number.POSITIVE_INFINITY }),
);

export const containerRuntimeExeEscape = flawed(
  'container-runtime-exe-escape',
  "a container's /proc/self/exe resolves to the host's container runtime binary, which is not running and so is writable",
  (g, guest) => ({ ...containerGroup(g, guest), exe: HOST_RUNTIME }),
);

export const SYSCALL_MUTANTS: readonly Mutant[] = Object.freeze([
  {
    name: 'container-no-pid-namespace',
    base: 'container',
    area: 'containers',
    bugClass:
      'a container without its own pid namespace sees (and can signal) the processes of the host and of other containers',
    reference:
      'Docker --pid=host / Kubernetes hostPID: true; pid_namespaces(7) (Linux 2.6.24) exists to prevent exactly this',
    property: 'isolation',
    minimalLength: 2,
    minimalWhy:
      "guest 1: spawn; guest 0: getpids (sees 1, 2, 3 instead of 1, 2). One operation cannot do: isolation compares a guest with the others acting and with them yielding, so some other guest must act first; the other group's leader exists in both runs, so a lone getpids sees the same list in both.",
    target: syscallTarget(containerNoPidNamespace),
  },
  {
    name: 'container-shared-directory',
    base: 'container',
    area: 'containers',
    bugClass: "a file namespace that shares a directory: one container's writes appear in another's files",
    reference:
      'CVE-2021-30465 (runc mount destinations swapped through a shared volume symlink race); shared /tmp between containers',
    property: 'isolation',
    minimalLength: 2,
    minimalWhy:
      'guest 1: write(file 0, v); guest 0: read(file 0) (sees v instead of -ENOENT). One operation cannot do: another guest must act before the observation, and a write alone observes nothing of another guest.',
    target: syscallTarget(containerSharedDirectory),
  },
  {
    name: 'container-no-memory-quota',
    base: 'container',
    area: 'containers',
    bugClass: 'no memory cgroup limit: one container allocates all free memory and starves another (a noisy neighbour)',
    reference:
      "Docker's default: 'by default, a container has no resource constraints' (docker run --memory unset); cgroups(7) memory controller",
    property: 'isolation',
    minimalLength: 2,
    minimalWhy:
      "guest 1: alloc(every free frame: 16 with two guests, 12 with four, each group's page directory and table taking 2 of the machine's 18); guest 0: mmap(page 0) (-ENOMEM instead of 0). One operation cannot do: the starving allocation is another guest's, and within a correct quota (at most 3 pages a guest, 12 of the 16 free frames for four) no other guest's mmap can fail.",
    target: syscallTarget(containerNoMemoryQuota),
  },
  {
    name: 'container-runtime-exe-escape',
    base: 'container',
    area: 'containers',
    bugClass:
      "a container overwrites a host binary through /proc/self/exe (the runtime's executable it is exec'd from)",
    reference: 'CVE-2019-5736 (runc /proc/self/exe overwrite), fixed by running runc from a sealed memfd copy',
    property: 'resource-control',
    minimalLength: 1,
    minimalWhy:
      "guest 0: write(file 3 = /proc/self/exe, v) changes host/runtime, a host file. Zero operations change no file; in the correct design the same write is -ETXTBSY on the container's own running image.",
    target: syscallTarget(containerRuntimeExeEscape),
  },
]);
