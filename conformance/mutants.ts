/**
 * Deliberately wrong copies of the reference, one rule flipped each: the oracle must reject them
 * (a conformance check that passes a wrong model has no teeth).
 */
import { CR0, EFLAGS, iopl, VEC } from '../model/bits.ts';
import { opBytes } from '../model/encoding.ts';
import { peekPhysical } from '../model/inspect.ts';
import { permitted, type Successor } from '../model/isa.ts';
import { readWord, writeWord } from '../model/memory.ts';
import type { Op } from '../model/ops.ts';
import { PF_ERR } from '../model/paging.ts';
import type { Machine } from '../model/state.ts';
import type { Reference } from './oracle.ts';

/** POPF at CPL > IOPL loads IF (the real instruction leaves IF alone). */
export const POPF_CHANGES_IF: Reference = {
  name: 'popf-changes-if-at-cpl3',
  permitted: (m, op) => {
    const succ = permitted(m, op);
    if (op.kind !== 'popf' || m.cpu.cpl <= iopl(m.cpu.eflags)) return succ;
    return succ.map((s) => ({
      ...s,
      machine: {
        ...s.machine,
        cpu: { ...s.machine.cpu, eflags: ((s.machine.cpu.eflags & ~EFLAGS.IF) | (op.image & EFLAGS.IF)) >>> 0 },
      },
    }));
  },
};

/** CR0.WP ignored: supervisor writes to read-only pages always succeed. */
export const WP_IGNORED: Reference = {
  name: 'cr0-wp-ignored',
  permitted: (m, op) => {
    if (!(m.cpu.cr0 & CR0.WP) || op.kind === 'movToCr0') return permitted(m, op);
    const noWp: Machine = { ...m, cpu: { ...m.cpu, cr0: (m.cpu.cr0 & ~CR0.WP) >>> 0 } };
    return permitted(noWp, op).map(
      (s): Successor => ({ ...s, machine: { ...s.machine, cpu: { ...s.machine.cpu, cr0: m.cpu.cr0 } } }),
    );
  },
};

/** #PF error codes without the U/S bit. */
export const PF_MISSING_US: Reference = {
  name: 'pf-error-code-missing-us',
  permitted: (m, op) =>
    permitted(m, op).map((s) => ({
      ...s,
      outcome: {
        ...s.outcome,
        events: s.outcome.events.map((e) =>
          e.vector === VEC.PF && e.errorCode !== undefined ? { ...e, errorCode: e.errorCode & ~PF_ERR.US } : e,
        ),
      },
    })),
};

/** Rewrite the EIP or EFLAGS slot of the frame an event pushed (above the error code, if any). */
const rewriteFrame = (s: Successor, slot: 'eip' | 'eflags', f: (word: number, op: Op) => number, op: Op): Successor => {
  const ev = s.outcome.events[0];
  if (!ev) return s;
  const c = s.machine.cpu;
  const pa = peekPhysical(s.machine, (c.esp + (ev.errorCode === undefined ? 0 : 4) + (slot === 'eip' ? 0 : 8)) >>> 0);
  if (pa === undefined) return s;
  const w = readWord(s.machine.memory, pa);
  return { ...s, machine: { ...s.machine, memory: writeWord(s.machine.memory, pa, f(w, op) >>> 0) } };
};

/** Frames save EFLAGS as the interrupt gate leaves them (IF clear), not as they were. */
export const FRAME_EFLAGS_AFTER_GATE: Reference = {
  name: 'frame-eflags-after-gate',
  permitted: (m, op) => permitted(m, op).map((s) => rewriteFrame(s, 'eflags', (w) => w & ~EFLAGS.IF, op)),
};

/** Faults save the EIP past the faulting operation, as traps do. */
export const FAULT_SAVES_NEXT_EIP: Reference = {
  name: 'fault-saves-next-eip',
  permitted: (m, op) =>
    permitted(m, op).map((s) =>
      s.outcome.events[0]?.source === 'exception' ? rewriteFrame(s, 'eip', (w, o) => w + opBytes(o), op) : s,
    ),
};

export const MUTANTS: readonly Reference[] = [
  POPF_CHANGES_IF,
  WP_IGNORED,
  PF_MISSING_US,
  FRAME_EFLAGS_AFTER_GATE,
  FAULT_SAVES_NEXT_EIP,
];
