/** Conformance: the model against an independent x86 (QEMU: KVM's real CPU, or TCG). */
export * from './campaign.ts';
export * from './encode.ts';
export * from './generate.ts';
export * from './kernel.ts';
export * from './mutants.ts';
export * from './oracle.ts';
export * from './prepare.ts';
export * from './runner.ts';
export * from './suites.ts';
