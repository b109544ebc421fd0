/**
 * hyperprop's public entry point: `import { … } from 'hyperprop'`.
 *
 * The reference machine (a faithful subset of 32-bit x86 as pure functions): its state types,
 * `step` / `permitted` / `stepWith`, the page-table walker and its x86 format, the TLB as the
 * architecture permits it, a standard boot machine, and the Popek–Goldberg classification; and the
 * system-call level (containers, VMs with their own kernel, API translation) as the `syscall` namespace;
 * and the trace record of a run (`recordTrace`: plain data every counterexample report and page is made from).
 */

export * from './generators/host.ts';
export * from './model/index.ts';
/** The system-call level: kernels, containers, VMs with their own kernel and API translation (model/syscall/). */
export * as syscall from './model/syscall/index.ts';
export * from './properties/check.ts';
export * from './properties/classify.ts';
export * from './properties/devices.ts';
export * from './properties/property.ts';
export { recordTrace } from './properties/record/machine.ts';
export { recordSyscallTrace } from './properties/record/syscall.ts';
export * from './properties/record/types.ts';
export * from './properties/refinement.ts';
export * from './properties/syscall/check.ts';
export * from './properties/syscall/properties.ts';
export * from './properties/trace.ts';
