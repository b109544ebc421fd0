export * from './design.ts';
export * from './ept.ts';
export * from './layout.ts';
export * from './machine.ts';
export * from './run.ts';
export * from './tlb.ts';
export * from './toolkit.ts';
