/**
 * The hosted machine's own invariants, as a value a design hands back must keep them: the shape of
 * every field the model reads (a real CPU with four 32-bit registers and a CPL of 0..3, one context
 * per configured guest, a running guest that exists, memory that is a memory) and the host's
 * configuration unchanged. A design is user code: these checks let the command report a design that
 * returns a broken host as that design's error, instead of failing somewhere deep in the model.
 * Shallow on purpose (a few dozen field reads): they run after every call into a design.
 */
import type { Cpu } from '../state.ts';
import type { HostConfig } from './layout.ts';
import type { HostMachine } from './machine.ts';

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null;
const u32 = (x: unknown): boolean => typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= 0xffff_ffff;
const u16 = (x: unknown): boolean => typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= 0xffff;
const index = (x: unknown, n: number): boolean => typeof x === 'number' && Number.isInteger(x) && x >= 0 && x < n;
const show = (x: unknown): string => {
  if (x === undefined) return 'undefined';
  if (typeof x === 'number' || typeof x === 'boolean' || x === null) return String(x);
  if (typeof x === 'string') return 'a string';
  if (Array.isArray(x)) return `an array of ${x.length}`;
  return typeof x === 'function' ? 'a function' : 'an object';
};

const tableRegister = (x: unknown, where: string): string | undefined => {
  if (!isObject(x)) return `${where} is ${show(x)}, not a table register`;
  if (!u32(x.base)) return `${where}.base is ${show(x.base)}, not a 32-bit address`;
  if (!u32(x.limit)) return `${where}.limit is ${show(x.limit)}, not a limit`;
  if ('selector' in x && !u16(x.selector)) return `${where}.selector is ${show(x.selector)}, not a 16-bit selector`;
  return undefined;
};

/** What is wrong with a CPU state (`where` names it in the message), or undefined. */
export const cpuProblem = (c: unknown, where = 'cpu'): string | undefined => {
  if (!isObject(c)) return `${where} is ${show(c)}, not a CPU state`;
  if (c.cpl !== 0 && c.cpl !== 1 && c.cpl !== 2 && c.cpl !== 3) return `${where}.cpl is ${show(c.cpl)}, not 0..3`;
  if (!u16(c.cs)) return `${where}.cs is ${show(c.cs)}, not a 16-bit selector`;
  if (!u16(c.ss)) return `${where}.ss is ${show(c.ss)}, not a 16-bit selector`;
  for (const r of ['eip', 'esp'] as const) if (!u32(c[r])) return `${where}.${r} is ${show(c[r])}, not a 32-bit value`;
  if (!u32(c.eflags)) return `${where}.eflags is ${show(c.eflags)}, not a 32-bit value`;
  if (!Array.isArray(c.regs) || c.regs.length !== 4 || !c.regs.every(u32))
    return `${where}.regs is ${show(c.regs)}, not four 32-bit registers`;
  for (const r of ['cr0', 'cr2', 'cr3'] as const)
    if (!u32(c[r])) return `${where}.${r} is ${show(c[r])}, not a 32-bit value`;
  for (const r of ['gdtr', 'idtr', 'ldtr', 'tr'] as const) {
    const p = tableRegister(c[r], `${where}.${r}`);
    if (p) return p;
  }
  if (c.run !== 'running' && c.run !== 'halted' && c.run !== 'shutdown')
    return `${where}.run is ${show(c.run)}, not running, halted or shutdown`;
  if (typeof c.stiShadow !== 'boolean') return `${where}.stiShadow is ${show(c.stiShadow)}, not a boolean`;
  if (!Array.isArray(c.pending) || !c.pending.every((v) => index(v, 256)))
    return `${where}.pending is ${show(c.pending)}, not a list of vectors`;
  return undefined;
};

const sameConfig = (a: unknown, b: HostConfig): boolean => {
  if (a === b) return true;
  if (!isObject(a) || !isObject(a.guestGeometry)) return false;
  const g = a.guestGeometry;
  const h = b.guestGeometry;
  return (
    a.guests === b.guests &&
    a.tlbCapacity === b.tlbCapacity &&
    g.dirEntries === h.dirEntries &&
    g.tableEntries === h.tableEntries &&
    g.frames === h.frames &&
    g.wordsPerPage === h.wordsPerPage
  );
};

/**
 * What is wrong with a host a design returned, given the configuration of the host it was given
 * (a design never changes the machine's configuration), or undefined. With `before`, a host known
 * to be sound (the one the design was given), a part the design handed back unchanged (the same
 * object) is not checked again: what a design returns mostly shares its parts with what it got.
 */
export const hostMachineProblem = (h: unknown, config: HostConfig, before?: HostMachine): string | undefined => {
  if (!isObject(h)) return `the host is ${show(h)}, not a hosted machine`;
  if (h === (before as unknown)) return undefined;
  const b = before as unknown as Record<string, unknown> | undefined;
  const same = (k: string) => b !== undefined && h[k] === b[k];
  if (!same('config') && !sameConfig(h.config, config))
    return 'the host configuration changed (guests, geometry or TLB capacity)';
  if (
    !same('memory') &&
    (!isObject(h.memory) || !('root' in h.memory) || !(h.memory.root === undefined || Array.isArray(h.memory.root)))
  )
    return `memory is ${show(h.memory)}, not a physical memory`;
  if (!same('cpu')) {
    const cpu = cpuProblem(h.cpu);
    if (cpu) return cpu;
  }
  if (!same('tlb')) {
    if (!isObject(h.tlb) || !Array.isArray(h.tlb.entries) || typeof h.tlb.capacity !== 'number')
      return `tlb is ${show(h.tlb)}, not a real TLB`;
    if (h.tlb.entries.length > h.tlb.capacity)
      return `the TLB holds ${h.tlb.entries.length} entries, more than its capacity ${h.tlb.capacity}`;
  }
  if (!index(h.current, config.guests)) return `current is ${show(h.current)}, not a guest of 0..${config.guests - 1}`;
  if (!same('guests') && (!Array.isArray(h.guests) || h.guests.length !== config.guests))
    return `guests is ${show(h.guests)}, not ${config.guests} guest contexts`;
  const guests = h.guests as readonly unknown[];
  const known = b?.guests as readonly unknown[] | undefined;
  for (let g = 0; g < guests.length && guests !== known; g++) {
    const x: unknown = guests[g];
    if (known !== undefined && x === known[g]) continue;
    if (!isObject(x)) return `guests[${g}] is ${show(x)}, not a guest context`;
    if (x.id !== g) return `guests[${g}].id is ${show(x.id)}, not ${g}`;
    const vcpu = cpuProblem(x.vcpu, `guests[${g}].vcpu`);
    if (vcpu) return vcpu;
    if (!isObject(x.shadow) || !u32(x.shadow.root) || !Array.isArray(x.shadow.tables))
      return `guests[${g}].shadow is ${show(x.shadow)}, not shadow tables`;
    if (!u32(x.eptRoot)) return `guests[${g}].eptRoot is ${show(x.eptRoot)}, not a frame`;
  }
  if (!same('counters')) {
    const n = h.counters;
    if (!isObject(n) || typeof n.ops !== 'number' || typeof n.native !== 'number' || typeof n.switches !== 'number')
      return `counters is ${show(n)}, not the host's counters`;
    if (!isObject(n.traps) || !isObject(n.calls) || !isObject(n.reasons))
      return 'counters lack traps, calls or reasons';
  }
  if (h.io !== undefined && !isObject(h.io)) return `io is ${show(h.io)}, not the host's devices`;
  if (h.net !== undefined && !isObject(h.net)) return `net is ${show(h.net)}, not the host's network`;
  return undefined;
};

/** Narrowing form of `hostMachineProblem`. */
export const isHostMachine = (h: unknown, config: HostConfig): h is HostMachine =>
  hostMachineProblem(h, config) === undefined;

/** Narrowing form of `cpuProblem`. */
export const isCpu = (c: unknown): c is Cpu => cpuProblem(c) === undefined;
