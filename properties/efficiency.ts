/**
 * Efficiency (Popek–Goldberg's third requirement, DESIGN.md §4): measured as the share of guest
 * operations that ran without the hypervisor, per operation kind; and checked as a property:
 * an innocuous operation never traps, except where the trap is the guest's own exception (bare
 * metal faults too and the hypervisor reflects it) or MMU virtualization at work (a hidden page
 * fault that fills a shadow table; an EPT violation on guest-physical space with no memory; under
 * direct paging, a kernel store to its own page table, which is a hypercall, and a write that
 * faults on a page table mapped read-only).
 */
import {
  formatOp,
  guestView,
  INSTRUCTION_KINDS,
  NOT_INNOCUOUS,
  type OpKind,
  step,
  writesOwnPageTable,
} from '../model/index.ts';
import { networkCopiesViolation } from './network/efficiency.ts';
import type { Property } from './property.ts';
import type { Trace, TraceStep } from './trace.ts';

/** The innocuous instruction kinds (the classification's, see NOT_INNOCUOUS). */
export const INNOCUOUS_KINDS: readonly OpKind[] = INSTRUCTION_KINDS.filter((k) => !NOT_INNOCUOUS.has(k));

/**
 * Does bare metal raise an exception for this step's operation in the state the guest was in
 * before it? The guest's own state, not the reference run's: once a design has diverged (an
 * equivalence failure such as `bt`'s user-mode POPF, which equivalence reports), the reference
 * run is elsewhere, and whether a trap is the guest's own exception depends on where the guest is.
 * Computed only for the rare innocuous operation that trapped.
 */
const bareMetalFaults = (t: Trace, s: TraceStep): boolean => {
  const status = step(guestView(t.design, s.before, s.guest), s.op).outcome.status;
  return status === 'faulted' || status === 'shutdown';
};

export const efficiency: Property = {
  name: 'efficiency',
  description: 'innocuous operations run without the hypervisor (bar the guest’s own faults and MMU virtualization)',
  check: (design, _scenario, trace) => {
    const net = networkCopiesViolation(design, trace);
    for (const s of trace.steps) {
      if (net && net.step <= s.index) return net;
      if (!INNOCUOUS_KINDS.includes(s.op.kind)) continue;
      if (s.ran.kind === 'native') continue;
      if (s.ran.kind === 'call') {
        // Direct paging: the guest kernel's store to its own page table is its set_pte, a hypercall.
        const setPte =
          design.axes.mmu === 'direct' &&
          s.op.kind === 'store' &&
          writesOwnPageTable(guestView(design, s.before, s.guest), s.op.va);
        if (setPte) continue;
        return { step: s.index, guest: s.guest, message: `innocuous ${formatOp(s.op)} was handed to the hypervisor` };
      }
      const e = s.ran.exit;
      const hidden = design.axes.mmu !== 'nested' && e.reason === 'exception' && e.vector === 14;
      if (hidden || e.reason === 'ept-violation' || bareMetalFaults(trace, s)) continue;
      return {
        step: s.index,
        guest: s.guest,
        message: `innocuous ${formatOp(s.op)} trapped (${e.reason}${e.reason === 'exception' ? ` ${e.vector}` : ''}) though bare metal runs it without fault`,
      };
    }
    return net;
  },
};

/** Per operation kind: operations, and how many ran without the hypervisor. */
export const efficiencyTable = (traces: readonly Trace[]): Record<string, { ops: number; native: number }> => {
  const t: Record<string, { ops: number; native: number }> = {};
  for (const tr of traces)
    for (const s of tr.steps) {
      const row = t[s.op.kind] ?? { ops: 0, native: 0 };
      t[s.op.kind] = row;
      row.ops++;
      if (s.ran.kind === 'native') row.native++;
    }
  return t;
};
