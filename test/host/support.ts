/**
 * What the hosted-machine tests share: the instruction lists they cite, the generated single-guest
 * workload, and one loop that runs a design over it through the public API exactly as a user would
 * (`createHost`, `hostStep`, `guestView`, `checkRefinement`), for presets and a user's design alike.
 */
import fc from 'fast-check';
import {
  bootMachine,
  type Cpl,
  checkRefinement,
  createHost,
  type Design,
  type Divergence,
  guestView,
  type HostMachine,
  hostStep,
  type Op,
  type OpKind,
  type RefinementResult,
  step,
} from 'hyperprop';
import { arbOp } from '../../generators/reference.ts';

/**
 * Robin & Irvine, "Analysis of the Intel Pentium's Ability to Support a Secure Virtual Machine
 * Monitor" (USENIX Security 2000), §4: the sensitive but unprivileged IA-32 instructions, restricted
 * to this model's subset (PUSH CS read as MOV r,CS; far RET as IRET; no far CALL/JMP, POP or segment
 * loads). test/reference/classify.test.ts checks the computed classification gives the same list.
 */
export const SENSITIVE_UNPRIVILEGED: ReadonlySet<OpKind> = new Set<OpKind>([
  'sgdt',
  'sidt',
  'sldt',
  'str',
  'smsw',
  'pushf',
  'popf',
  'movFromCs',
  'lar',
  'lsl',
  'verr',
  'verw',
  'int',
  'iret',
]);

/**
 * The "Red Pill" kinds (Rutkowska 2004, who used SIDT): instructions that user mode (CPL 3) runs
 * without trapping and whose result shows the real machine (its GDTR/IDTR/LDTR/TR, CR0's low word,
 * EFLAGS.IF/IOPL, CS, descriptor checks at the real CPL). A binary translator and a paravirtual
 * kernel leave user code untranslated, at real ring 3, so these see the hypervisor's state there.
 * INT n, the one sensitive-unprivileged kind left out, reaches the hypervisor (it owns the IDT).
 */
export const RED_PILL: ReadonlySet<OpKind> = new Set<OpKind>([...SENSITIVE_UNPRIVILEGED].filter((k) => k !== 'int'));

/** One generated single-guest run: the CPL the guest boots at and its operations. */
export interface Sequence {
  readonly cpl: Cpl;
  readonly ops: readonly Op[];
}

/**
 * Sequences of 1 to 20 operations of the reference generator (generators/reference.ts `arbOp`,
 * biased toward collisions on page tables and descriptor tables), for a standard guest booted at
 * CPL 0 or 3. Lengths: 1..10 three times in four, 11..20 otherwise (every length occurs; short
 * sequences keep 10,000 runs per design within the time budget).
 */
export const arbSequence: fc.Arbitrary<Sequence> = fc
  .tuple(
    fc.constantFrom<Cpl>(0, 3),
    fc.oneof({ weight: 3, arbitrary: fc.integer({ min: 1, max: 10 }) }, fc.integer({ min: 11, max: 20 })),
  )
  .chain(([cpl, n]) => fc.array(arbOp(), { minLength: n, maxLength: n }).map((ops) => ({ cpl, ops })));

/** A fixed, reproducible workload. */
export const sequences = (count: number, seed: number): readonly Sequence[] =>
  fc.sample(arbSequence, { numRuns: count, seed });

/** The fresh host a design builds for one standard guest booted at `cpl` (hosts are values: built once). */
const hosts = new WeakMap<Design, Map<Cpl, HostMachine>>();
export const freshHost = (design: Design, cpl: Cpl): HostMachine => {
  const byCpl = hosts.get(design) ?? new Map<Cpl, HostMachine>();
  hosts.set(design, byCpl);
  const h = byCpl.get(cpl) ?? createHost(design, [bootMachine({ cpl })]);
  byCpl.set(cpl, h);
  return h;
};

/** Which operations of a sequence stay (true) and which are removed, position by position. */
export interface Split {
  readonly keep: readonly boolean[];
}
const keptOps = (seq: Sequence, split: Split) => seq.ops.filter((_, i) => split.keep[i]);

/**
 * Remove the Red Pill kinds wherever the guest is at CPL 3, judged on the hosted run itself (the CPL
 * of its abstraction before each operation).
 */
export const splitOnHost = (design: Design, seq: Sequence): Split => {
  const keep: boolean[] = [];
  let h = freshHost(design, seq.cpl);
  for (const op of seq.ops) {
    const k = !(RED_PILL.has(op.kind) && guestView(design, h, 0).cpu.cpl === 3);
    keep.push(k);
    if (k) h = hostStep(design, h, op);
  }
  return { keep };
};

/** The same split predicted with the reference alone (its canonical run): cheap, and usually the same. */
const splitOnReference = (design: Design, seq: Sequence): Split => {
  const keep: boolean[] = [];
  let m = guestView(design, freshHost(design, seq.cpl), 0);
  for (const op of seq.ops) {
    const k = !(RED_PILL.has(op.kind) && m.cpu.cpl === 3);
    keep.push(k);
    if (k) m = step(m, op).machine;
  }
  return { keep };
};

/**
 * `design` unchanged, except that it records the running guest's CPL each time an operation is
 * dispatched (`hostStep` asks once per operation, before running it). Observation only.
 */
const recordingCpl = (design: Design): { design: Design; cpls: number[] } => {
  const cpls: number[] = [];
  return {
    cpls,
    design: {
      ...design,
      dispatch: (h, op) => {
        cpls.push(guestView(design, h, h.current).cpu.cpl);
        return design.dispatch(h, op);
      },
    },
  };
};

/**
 * Whether a split was the hosted run's own: every removed operation came where the guest was at
 * CPL 3, and every kept Red Pill kind where it was not. `cpls[j]` is the hosted CPL before kept
 * operation j, `finalCpl` the CPL after the last one run (`ran` of them: fewer after a divergence,
 * and past it nothing is known or needed).
 */
const splitWasExact = (seq: Sequence, split: Split, cpls: readonly number[], ran: number, finalCpl: number) => {
  if (cpls.length !== ran) return false;
  const cplAt = (j: number) => (j < ran ? cpls[j] : j === ran ? finalCpl : undefined);
  let j = 0; // kept operations before position i
  for (let i = 0; i < seq.ops.length; i++) {
    const c = cplAt(j);
    if (split.keep[i]) {
      if (RED_PILL.has(seq.ops[i]!.kind) && c === 3) return false;
      j++;
    } else if (c !== undefined && c !== 3) return false;
  }
  return true;
};

const guestOps = (ops: readonly Op[]) => ops.map((op) => ({ guest: 0, op }));

/** Check the kept operations of a split, and whether the split was exact on the hosted run it checked. */
export const checkSplit = (
  design: Design,
  seq: Sequence,
  split: Split,
): { readonly result: RefinementResult; readonly exact: boolean } => {
  const rec = recordingCpl(design);
  const kept = keptOps(seq, split);
  const result = checkRefinement(rec.design, freshHost(design, seq.cpl), guestOps(kept));
  const ran = result.divergence ? result.divergence.step + 1 : kept.length;
  return { result, exact: splitWasExact(seq, split, rec.cpls, ran, guestView(design, result.host, 0).cpu.cpl) };
};

/** A divergence, with the whole sequence that led to it. */
export interface Found {
  readonly seq: Sequence;
  readonly divergence: Divergence;
}

export interface RefinementStats {
  readonly sequences: number;
  /** Operations checked (after exclusions). */
  readonly ops: number;
  /** Operations removed as user-mode Red Pills. */
  readonly excluded: number;
  readonly excludedByKind: Readonly<Partial<Record<OpKind, number>>>;
  /** Sequences where the reference's prediction of the guest's CPL was not the hosted run's (re-split on the host). */
  readonly mispredicted: number;
  /** Steps where the reference permitted more than one architectural state (the frontier was followed). */
  readonly nondeterministicSteps: number;
  /** Every sequence whose hosted run left what the reference permits. */
  readonly found: readonly Found[];
}

/**
 * Run every sequence on `design` and on the reference with `checkRefinement`, optionally removing
 * user-mode Red Pills first.
 */
export const refine = (
  design: Design,
  seqs: readonly Sequence[],
  options: { readonly excludeUserRedPills?: boolean } = {},
): RefinementStats => {
  let ops = 0;
  let excluded = 0;
  let nondeterministicSteps = 0;
  let mispredicted = 0;
  const excludedByKind: Partial<Record<OpKind, number>> = {};
  const found: Found[] = [];
  for (const seq of seqs) {
    let run: readonly Op[] = seq.ops;
    let r: RefinementResult;
    if (options.excludeUserRedPills) {
      // Predict the split with the reference, confirm it on the hosted run as that run happens, and
      // only where they disagree split on the hosted run itself: exact either way, cheap usually.
      let split = splitOnReference(design, seq);
      const predicted = checkSplit(design, seq, split);
      r = predicted.result;
      if (!predicted.exact) {
        mispredicted++;
        split = splitOnHost(design, seq);
        r = checkRefinement(design, freshHost(design, seq.cpl), guestOps(keptOps(seq, split)));
      }
      run = keptOps(seq, split);
      seq.ops.forEach((op, i) => {
        if (split.keep[i]) return;
        excluded++;
        excludedByKind[op.kind] = (excludedByKind[op.kind] ?? 0) + 1;
      });
    } else r = checkRefinement(design, freshHost(design, seq.cpl), guestOps(run));
    ops += run.length;
    nondeterministicSteps += r.nondeterministicSteps;
    if (r.divergence) found.push({ seq: { cpl: seq.cpl, ops: run }, divergence: r.divergence });
  }
  return { sequences: seqs.length, ops, excluded, excludedByKind, mispredicted, nondeterministicSteps, found };
};
