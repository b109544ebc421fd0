export * from './calls.ts';
export * from './designs.ts';
export * from './foreign.ts';
export * from './kernel.ts';
export * from './port.ts';
export * from './presets.ts';
export * from './syscalls.ts';
export * from './vm.ts';
