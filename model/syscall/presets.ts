/**
 * The built-in designs of the system-call level: containers on one shared kernel, VMs each with
 * their own kernel instance on a hypervisor preset, and API translation.
 */
import { ept, shadow } from '../designs/presets.ts';
import { containerDesign, type SyscallDesign, translationDesign, vmDesign } from './designs.ts';

/** Containers: process groups of one shared kernel with pid, file and network namespaces and a memory quota. */
export const container = containerDesign({
  name: 'container',
  description:
    'containers (LXC/Docker style): process groups of one shared host kernel at ring 3 on its page tables; pid, file and network namespaces; a cgroup memory quota',
});

/** VMs on the `shadow` preset, each guest running its own instance of the kernel. */
export const vmShadow = vmDesign({
  name: 'vm-shadow',
  description: 'a VM per guest, each running its own kernel instance, on the shadow preset (VT-x, shadow page tables)',
  machine: shadow,
});

/** VMs on the `ept` preset. */
export const vmEpt = vmDesign({
  name: 'vm-ept',
  description: 'a VM per guest, each running its own kernel instance, on the ept preset (VT-x, EPT)',
  machine: ept,
});

/** API translation: foreign programs as host processes behind a user-space translation library. */
export const apiTranslation = translationDesign({
  name: 'api-translation',
  description:
    'API translation (Wine style): programs for a foreign system-call interface run as host processes; a user-space library translates their calls; their own direct host calls reach the host kernel',
});

/** The system-call-level designs by name. */
export const SYSCALL_DESIGNS: Readonly<Record<string, SyscallDesign>> = Object.freeze({
  container,
  'vm-shadow': vmShadow,
  'vm-ept': vmEpt,
  'api-translation': apiTranslation,
} as Record<string, SyscallDesign>);
