/**
 * The conformance oracle: does what the real processor did match a path of behaviours the
 * reference permits? A frontier search: keep every reference machine consistent with what the
 * real machine showed so far; each real step must match some permitted successor of one of them.
 *
 * Before each operation the harness enters it with IRET, which reads the CS (and, for an outer
 * level, SS) descriptor from the GDT through paging: a supervisor read the model does not contain.
 * The oracle applies that read to each frontier machine with every choice the architecture
 * permits (it may set the accessed flags of the system page's PDE and PTE, and fills the TLB),
 * so the harness's own accesses never count as a disagreement.
 */
import { EFLAGS } from '../model/bits.ts';
import { HARNESS } from '../model/boot.ts';
import { enumerateChoices } from '../model/choice.ts';
import { sameMachine } from '../model/compare.ts';
import { isFaultClass } from '../model/delivery.ts';
import { bareMetal, finishExec, isFault, readBytes, startExec } from '../model/exec.ts';
import { peekPhysical, peekWord } from '../model/inspect.ts';
import { permitted as referencePermitted, type Successor } from '../model/isa.ts';
import { readWord, writeWord } from '../model/memory.ts';
import type { Op } from '../model/ops.ts';
import type { Machine } from '../model/state.ts';
import type { Observed, OpPlacement, Sequence } from './kernel.ts';
import { memoryDiff } from './memdiff.ts';
import type { RealSequence, RealStep } from './runner.ts';

/** The semantics under test: the reference, or a deliberately wrong copy of it. */
export interface Reference {
  readonly name: string;
  readonly permitted: (machine: Machine, op: Op) => readonly Successor[];
}

export const REFERENCE: Reference = { name: 'reference', permitted: referencePermitted };

/** Frontier size past which a sequence is called inconclusive rather than searched further. */
export const FRONTIER_LIMIT = 512;

/**
 * Known ways QEMU's emulator (TCG) differs from real x86, argued in conformance/README.md. A step
 * that shows one of them ends the comparison of its sequence as `deviation`, not as a disagreement;
 * under KVM (the real CPU) none applies.
 */
export const TCG_DEVIATIONS: readonly {
  readonly name: string;
  readonly applies: (before: Machine, op: Op, real: RealStep) => boolean;
}[] = [
  {
    // SDM LTR: "IF SRC is a NULL selector THEN #GP(0)". QEMU's helper_ltr instead loads an invalid TR.
    name: 'tcg-ltr-null-selector',
    applies: (m, op, r) => op.kind === 'ltr' && (m.cpu.regs[op.src] & 0xfffc) === 0 && m.cpu.cpl === 0 && !r.event,
  },
];

/**
 * Known ways TCG writes an exception frame otherwise than the SDM defines it, argued in
 * conformance/README.md. Unlike `TCG_DEVIATIONS` they do not end the comparison: where the real
 * step matches a permitted successor only once the successor's frame is rewritten as TCG writes
 * it, the oracle follows the rewritten successor and names the deviation (counted apart, never
 * silently agreed); under KVM none applies.
 */
export const TCG_FRAME_DEVIATIONS: readonly {
  readonly name: string;
  readonly rewrite: (s: Successor) => Successor | undefined;
}[] = [
  {
    // SDM Vol. 3B §17.3.1.1: "For any fault-class exception except a debug exception generated in
    // response to an instruction breakpoint, the value pushed for RF is 1." QEMU 7.2's
    // do_interrupt_protected (target/i386/tcg/seg_helper.c) pushes cpu_compute_eflags(env) as it
    // is, RF clear (later QEMU sets it: `set_rf = exception_is_fault(intno)`).
    name: 'tcg-fault-frame-without-rf',
    rewrite: (s) => {
      const ev = s.outcome.events[0];
      if (ev?.source !== 'exception' || !isFaultClass(ev.vector)) return undefined;
      const c = s.machine.cpu;
      const pa = peekPhysical(s.machine, (c.esp + (ev.errorCode === undefined ? 0 : 4) + 8) >>> 0);
      if (pa === undefined) return undefined;
      const w = readWord(s.machine.memory, pa);
      if (!(w & EFLAGS.RF)) return undefined;
      return { ...s, machine: { ...s.machine, memory: writeWord(s.machine.memory, pa, (w & ~EFLAGS.RF) >>> 0) } };
    },
  },
];

export type Verdict =
  | {
      readonly kind: 'agree';
      readonly steps: number;
      readonly maxFrontier: number;
      /** TCG frame deviations (`TCG_FRAME_DEVIATIONS`) the comparison followed. */
      readonly followed?: readonly string[];
    }
  | { readonly kind: 'deviation'; readonly step: number; readonly name: string }
  | {
      readonly kind: 'disagree';
      readonly step: number;
      readonly op: Op;
      readonly real: RealStep;
      /** What the reference permitted at that step (from each frontier machine), summarised. */
      readonly permitted: readonly StepSummary[];
      readonly why: string;
    }
  | { readonly kind: 'inconclusive'; readonly step: number; readonly why: string };

/** A step's observable result, as the oracle compares it. */
export interface StepSummary {
  readonly regs: readonly number[];
  readonly eflags: number;
  readonly cs: number;
  readonly esp: number;
  readonly ss: number;
  readonly cr0: number;
  readonly cr2: number;
  readonly cr3: number;
  readonly event?: { readonly vector: number; readonly source: string; readonly errorCode?: number };
  readonly changed: readonly (readonly [number, number])[];
}

const hex = (n: number) => `0x${(n >>> 0).toString(16)}`;

/**
 * The harness's entry into the next operation at linear address `at` (IRET, or at CPL 0 a far JMP):
 * a supervisor read of the CS (and SS) descriptors, and EIP = `at`, where the harness placed the
 * operation's code (the model's EIP convention, state.ts: the frames the operation's events push
 * save addresses relative to it).
 */
export const harnessEntry = (m0: Machine, at: number = m0.cpu.eip): Machine[] => {
  const m = m0.cpu.eip === at ? m0 : { ...m0, cpu: { ...m0.cpu, eip: at >>> 0 } };
  const hw = bareMetal(m.geometry.frames);
  const cs = m.cpu.cs & 0xfff8;
  const out = enumerateChoices((c) => {
    const x = startExec(m, c, hw);
    try {
      // (The SS descriptor of an outer-level return lies in the same GDT page: the same walk.)
      readBytes(x, (m.cpu.gdtr.base + cs) >>> 0, 8, false);
      return finishExec(x);
    } catch (e) {
      if (isFault(e)) return undefined;
      throw e;
    }
  });
  const ok = out.filter((x): x is Machine => x !== undefined);
  return ok.length <= 1 ? ok : dedupe(ok);
};

const machineKey = (m: Machine) => `${JSON.stringify(m.cpu)}|${JSON.stringify(m.tlb)}`;

/** Distinct machines (CPU and TLB as key; memory compared when they agree). */
export const dedupe = (ms: readonly Machine[]): Machine[] => {
  const byKey = new Map<string, Machine[]>();
  const out: Machine[] = [];
  for (const m of ms) {
    const k = machineKey(m);
    const same = byKey.get(k);
    if (same?.some((o) => sameMachine(o, m))) continue;
    if (same) same.push(m);
    else byKey.set(k, [m]);
    out.push(m);
  }
  return out;
};

/** The summary of a successor as the harness would record it (`before` is the machine before the step). */
export const summarize = (before: Machine, s: Successor, observed: Observed): StepSummary => {
  const c = s.machine.cpu;
  const ev = s.outcome.events[0];
  return {
    regs: [...c.regs],
    eflags: c.eflags,
    cs: c.cs & 0xffff,
    esp: c.esp,
    ss: c.ss & 0xffff,
    cr0: c.cr0,
    cr2: c.cr2,
    cr3: c.cr3,
    ...(ev
      ? {
          event: {
            vector: ev.vector,
            source: ev.source,
            ...(ev.errorCode === undefined ? {} : { errorCode: ev.errorCode }),
          },
        }
      : {}),
    changed: memoryDiff(before.memory, s.machine.memory).filter(([pa]) => observed.has(pa)),
  };
};

/** Why a permitted successor does not match the real step, or undefined when it does. */
export const mismatch = (
  before: Machine,
  s: Successor,
  r: RealStep,
  place: OpPlacement,
  observed: Observed,
): string | undefined => {
  const o = s.outcome;
  if (o.status !== 'retired' && o.status !== 'faulted') return `the reference's step is ${o.status}`;
  if (o.events.length > 1) return 'the reference delivered more than one event';
  const ev = o.events[0];
  if (!ev && r.event) return `the real processor delivered vector ${r.event.vector}`;
  if (ev && !r.event) return `the reference delivers vector ${ev.vector}, the real processor none`;
  const c = s.machine.cpu;
  if (ev && r.event) {
    if (ev.vector !== r.event.vector) return `vector ${r.event.vector}, the reference ${ev.vector}`;
    const want = ev.errorCode;
    if (want !== r.event.errorCode)
      return `error code ${r.event.errorCode === undefined ? 'none' : hex(r.event.errorCode)}, the reference ${want === undefined ? 'none' : hex(want)}`;
    // The saved EIP, from the reference's frame (above the error code, if one was pushed).
    const saved = peekWord(s.machine, (c.esp + (want === undefined ? 0 : 4)) >>> 0);
    if (saved !== r.event.eip)
      return `the frame saves EIP ${hex(r.event.eip)}, the reference ${saved === undefined ? 'none' : hex(saved)}`;
    if (c.eip !== (HARNESS.HANDLERS + ev.vector * HARNESS.HANDLER_STRIDE) >>> 0)
      return `the reference enters the handler at ${hex(c.eip)}`;
  }
  // A retired operation leaves EIP past its code (model/encoding.ts against the encoder's bytes).
  if (!ev && c.eip !== place.post)
    return `the reference's EIP after it is ${hex(c.eip)}, its code ends at ${hex(place.post)}`;
  for (let i = 0; i < 4; i++)
    if (c.regs[i] !== r.regs[i]) return `register ${i} is ${hex(r.regs[i]!)}, the reference ${hex(c.regs[i]!)}`;
  if (c.eflags !== r.eflags) return `EFLAGS ${hex(r.eflags)}, the reference ${hex(c.eflags)}`;
  if ((c.cs & 0xffff) !== r.cs) return `CS ${hex(r.cs)}, the reference ${hex(c.cs)}`;
  if ((c.ss & 0xffff) !== r.ss || c.esp !== r.esp)
    return `SS:ESP ${hex(r.ss)}:${hex(r.esp)}, the reference ${hex(c.ss)}:${hex(c.esp)}`;
  if (c.cr0 !== r.cr0) return `CR0 ${hex(r.cr0)}, the reference ${hex(c.cr0)}`;
  if (c.cr2 !== r.cr2) return `CR2 ${hex(r.cr2)}, the reference ${hex(c.cr2)}`;
  if (c.cr3 !== r.cr3) return `CR3 ${hex(r.cr3)}, the reference ${hex(c.cr3)}`;
  const want = memoryDiff(before.memory, s.machine.memory).filter(([pa]) => observed.has(pa));
  const got = new Map(r.changed.map(([pa, v]) => [pa, v]));
  for (const [pa, v] of want)
    if (got.get(pa) !== v)
      return `memory ${hex(pa)} is ${got.has(pa) ? hex(got.get(pa)!) : 'unchanged'}, the reference ${hex(v)}`;
  if (got.size !== want.length) {
    const extra = r.changed.find(([pa]) => !want.some(([p]) => p === pa))!;
    return `memory ${hex(extra[0])} changed to ${hex(extra[1])}, the reference leaves it`;
  }
  return undefined;
};

/**
 * Check one sequence's real run against a reference. Steps the harness did not run (a guard
 * stop) are not compared.
 */
export const checkSequence = (
  seq: Sequence,
  real: RealSequence,
  placements: readonly OpPlacement[],
  observed: Observed,
  ref: Reference = REFERENCE,
  accel: 'kvm' | 'tcg' = 'tcg',
): Verdict => {
  let frontier: Machine[] = [seq.machine];
  let maxFrontier = 1;
  const followed = new Set<string>();
  for (let i = 0; i < real.steps.length; i++) {
    const r = real.steps[i]!;
    const op = seq.ops[i]!;
    const place = placements[i]!;
    const next: Machine[] = [];
    const tried: StepSummary[] = [];
    const reasons: string[] = [];
    for (const m of frontier) {
      for (const entered of harnessEntry(m, place.at)) {
        for (const s of ref.permitted(entered, op)) {
          const why = mismatch(m, s, r, place, observed);
          if (why === undefined) {
            next.push(s.machine);
            continue;
          }
          const as = accel === 'tcg' ? tcgFrame(m, s, r, place, observed) : undefined;
          if (as) {
            next.push(as.machine);
            followed.add(as.name);
          } else if (tried.length < 8) {
            tried.push(summarize(m, s, observed));
            reasons.push(why);
          }
        }
      }
    }
    if (next.length === 0 && accel === 'tcg') {
      const d = TCG_DEVIATIONS.find((d) => frontier.every((m) => d.applies(m, op, r)));
      if (d) return { kind: 'deviation', step: i, name: d.name };
    }
    if (next.length === 0)
      return { kind: 'disagree', step: i, op, real: r, permitted: tried, why: reasons[0] ?? 'nothing permitted' };
    frontier = next.length === 1 ? next : dedupe(next);
    maxFrontier = Math.max(maxFrontier, frontier.length);
    if (frontier.length > FRONTIER_LIMIT)
      return { kind: 'inconclusive', step: i, why: `more than ${FRONTIER_LIMIT} reference machines fit the run` };
  }
  return {
    kind: 'agree',
    steps: real.steps.length,
    maxFrontier,
    ...(followed.size ? { followed: [...followed] } : {}),
  };
};

/** The successor rewritten by the first TCG frame deviation that makes it match the real step. */
const tcgFrame = (
  before: Machine,
  s: Successor,
  r: RealStep,
  place: OpPlacement,
  observed: Observed,
): { readonly machine: Machine; readonly name: string } | undefined => {
  for (const d of TCG_FRAME_DEVIATIONS) {
    const t = d.rewrite(s);
    if (t && mismatch(before, t, r, place, observed) === undefined) return { machine: t.machine, name: d.name };
  }
  return undefined;
};
