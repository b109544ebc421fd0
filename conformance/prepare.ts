/**
 * Making generated sequences runnable in the harness: what conformance leaves out, and why.
 *
 * The harness shares the machine with the model's operations, so a few operations that would
 * wreck it are rewritten or cut (conformance/README.md argues each):
 * - `timer` is an event, not an instruction: dropped (no interrupt source is armed);
 * - IN/OUT name only ports no QEMU `pc` device decodes (reads float to all ones, writes vanish);
 * - CR0 values keep PE and PG and leave AM, CD and NW clear (NW without CD is kept: it #GPs);
 * - CR3 values name frames the harness can use as page directories;
 * - HLT is kept only where it #GPs (CPL > 0); LGDT/LIDT only where they fault or reload the
 *   current value; LTR/LLDT only where they fault or load a standard TSS/LDT (or null);
 * - a step any of whose permitted successors shuts the machine down or halts it ends the sequence.
 * Truncation follows the canonical path with every permitted successor of each step; the guest's
 * own guard (kernel.ts) stops a sequence at run time if a real path still strays.
 */
import { CR0, CR0_DEFINED } from '../model/bits.ts';
import { bootMachine, SEL } from '../model/boot.ts';
import { permitted } from '../model/isa.ts';
import type { Op } from '../model/ops.ts';
import type { Machine } from '../model/state.ts';
import { directoryFrames, machineEmbedProblem } from './kernel.ts';

/** Ports (dword-wide) that no device of QEMU's `pc` machine decodes: IN reads all ones, OUT is ignored. */
export const FLOATING_PORTS: readonly number[] = Object.freeze([
  0x10, 0x14, 0x18, 0x1c, 0x24, 0x28, 0x2c, 0x30, 0x34, 0x38, 0x3c, 0x44, 0x48, 0x4c, 0x50, 0x54, 0x58, 0x5c, 0x68,
  0x6c, 0x74, 0x78, 0x7c, 0x94, 0x98, 0x9c, 0xa4, 0xa8, 0xac, 0xb4, 0xb8, 0xbc, 0xe0, 0xe4, 0xf8, 0xfc,
]);

const dirCache = new Map<string, boolean[]>();
const dirsFor = (m: Machine) => {
  const key = JSON.stringify(m.geometry);
  let d = dirCache.get(key);
  if (!d) {
    d = directoryFrames(m.geometry, bootMachine({ geometry: m.geometry }).memory);
    dirCache.set(key, d);
  }
  return d;
};

/** An operation rewritten into what the harness can run, or undefined to drop it. */
export const conformOp = (op: Op, m: Machine): Op | undefined => {
  switch (op.kind) {
    case 'timer':
      return undefined;
    case 'in':
    case 'out':
      return FLOATING_PORTS.includes(op.port) ? op : { ...op, port: FLOATING_PORTS[op.port % FLOATING_PORTS.length]! };
    case 'movToCr0': {
      // TCG keeps reserved CR0 bits and accepts NW = 1 with CD = 0 (README: argued exceptions).
      const v = ((op.value | CR0.PE | CR0.PG) & CR0_DEFINED & ~(CR0.AM | CR0.CD | CR0.NW)) >>> 0;
      return v === op.value ? op : { ...op, value: v };
    }
    case 'movToCr3': {
      const dirs = dirsFor(m);
      const f = op.value >>> 12;
      return f < dirs.length && dirs[f] ? op : { ...op, value: (op.value & 0xfff) >>> 0 };
    }
    default:
      return op;
  }
};

/** Why the harness cannot run `op` from `m` (on some permitted path), or undefined. */
export const stepProblem = (m: Machine, op: Op): string | undefined => stepCheck(m, op).problem;

/** `stepProblem`, and the canonical successor when there is none. */
const stepCheck = (m: Machine, op: Op): { problem?: string; next?: Machine } => {
  const c = m.cpu;
  if (op.kind === 'timer') return { problem: 'timer events are not instructions' };
  if (op.kind === 'hlt' && c.cpl === 0) return { problem: 'HLT at CPL 0 would stop the harness' };
  // TCG loads an invalid TR for LTR of a null selector instead of raising #GP(0) (README), and the
  // next delivery from an outer ring then takes QEMU down: cut it on every accelerator.
  if (op.kind === 'ltr' && c.cpl === 0 && (c.regs[op.src] & 0xfffc) === 0) return { problem: 'LTR of a null selector' };
  const succ = permitted(m, op);
  const problem = (() => {
    for (const s of succ) {
      const n = s.machine.cpu;
      if (s.outcome.status === 'shutdown' || n.run !== 'running') return `a permitted path ends ${n.run}`;
      if (n.gdtr.base !== c.gdtr.base || n.gdtr.limit !== c.gdtr.limit) return 'LGDT would move the GDT';
      if (n.idtr.base !== c.idtr.base || n.idtr.limit !== c.idtr.limit) return 'LIDT would move the IDT';
      if (n.tr.selector !== c.tr.selector && n.tr.selector !== SEL.TSS && n.tr.selector !== SEL.AVAILABLE_TSS)
        return 'LTR of a non-standard TSS';
      if (n.ldtr.selector !== c.ldtr.selector && (n.ldtr.selector & 0xfffc) !== 0 && n.ldtr.selector !== SEL.LDT)
        return 'LLDT of a non-standard LDT';
      if (n.cpl === 2) return 'CPL 2 has no stack segment';
      if ((n.cr0 & (CR0.AM | CR0.CD)) !== 0) return 'CR0.AM or CD';
    }
    return undefined;
  })();
  if (problem) return { problem };
  const next = succ[0]?.machine;
  return next ? { next } : { problem: 'no successor' };
};

/**
 * The longest runnable prefix of a sequence, with its operations rewritten by `conformOp`, or
 * undefined when the machine itself cannot be embedded.
 */
export const prepareSequence = (
  machine: Machine,
  ops: readonly Op[],
): { machine: Machine; ops: Op[]; cut?: string } | undefined => {
  if (machineEmbedProblem(machine)) return undefined;
  const out: Op[] = [];
  let m = machine;
  for (const raw of ops) {
    const op = conformOp(raw, m);
    if (!op) continue;
    const { problem, next: after } = stepCheck(m, op);
    if (problem || !after) return { machine, ops: out, cut: problem ?? 'no successor' };
    out.push(op);
    m = after; // the canonical successor
  }
  return { machine, ops: out };
};
