/**
 * An unseen mutant of the system-call level: containers that share the host's network namespace.
 *
 * FROZEN: nothing under mutants/unseen/ changes after its first commit.
 */
import { syscall } from '../../index.ts';
import type { UnseenSyscallMutant } from './types.ts';

const containerSharedNetnsDesign = syscall.containerDesign({
  name: 'container-shared-netns',
  description: 'containers with pid and file namespaces and a quota, but every group in the host’s network namespace',
  // The flaw: the runtime sets up each group's namespaces but puts every container in the host's
  // network namespace (`--net=host`), so local sockets are shared across containers.
  group: (g, guest) => ({ ...syscall.containerGroup(g, guest), netns: 'host' }),
});

export const containerSharedNetns: UnseenSyscallMutant = {
  name: 'container-shared-netns',
  base: 'container',
  area: 'system calls',
  level: 'syscall',
  bugClass: 'namespace leak: a shared network namespace',
  reference:
    'CVE-2020-15257 (containerd-shim’s API reachable from containers sharing the host network namespace, through abstract Unix sockets)',
  flaw: 'Every container’s network namespace is the host’s, so a message one container sends on a local port is received by another.',
  design: containerSharedNetnsDesign,
  property: 'isolation',
  minimal: 2,
  minimalWhy:
    'Guest 0 sends 7 on port 0 (1) and guest 1 receives on port 0 (2): it gets 7, where it gets -EAGAIN when guest 0 only yields. Two guests each need a call, so two calls.',
  witness: {
    guests: [
      { quota: 4, abi: 'host' },
      { quota: 4, abi: 'host' },
    ],
    ops: [
      { guest: 0, call: { kind: 'send', port: 0, value: 7 } },
      { guest: 1, call: { kind: 'recv', port: 0 } },
    ],
  },
};

/** The system-call-level mutants. */
export const SYSCALL_MUTANTS: readonly UnseenSyscallMutant[] = [containerSharedNetns];
