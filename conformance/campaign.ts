/**
 * A conformance campaign: sequences in batches, one QEMU boot per batch, every real run checked
 * against the reference. Building the next batch overlaps the current boot (QEMU is a separate
 * process), so both cores work.
 */

import { buildKernel, type Kernel, type Sequence } from './kernel.ts';
import { checkSequence, REFERENCE, type Reference, type Verdict } from './oracle.ts';
import type { Accel, AccelRequest, BootResult } from './runner.ts';
import { runKernel } from './runner.ts';

export interface CampaignOptions {
  readonly accel?: AccelRequest;
  readonly batchSize?: number;
  readonly timeoutMs?: number;
  readonly reference?: Reference;
  /** Called after each batch with the running totals. */
  readonly onProgress?: (s: CampaignStats) => void;
  /** Called after each sequence is checked, with the running totals (checking is synchronous: this is the only call while it runs). */
  readonly onSequenceChecked?: (s: CampaignStats) => void;
  /** Called about every half second during a boot with how many of its sequences the guest has started. */
  readonly onSequencesStarted?: (started: number) => void;
}

/** A disagreement (or a boot error), with everything needed to replay it. */
export interface Finding {
  readonly kind: 'disagree' | 'crash' | 'inconclusive';
  readonly sequence: Sequence;
  readonly verdict?: Verdict;
  readonly error?: string;
  readonly accel: Accel;
}

export interface CampaignStats {
  sequences: number;
  operations: number;
  agreed: number;
  guardStops: number;
  disagreements: number;
  crashes: number;
  inconclusive: number;
  /** Sequences whose comparison stopped at a known TCG deviation (README), by name. */
  deviations: Record<string, number>;
  /** Sequences that agreed once frames were read as TCG writes them (`TCG_FRAME_DEVIATIONS`), by name. */
  followed: Record<string, number>;
  /**
   * The exception and interrupt frames the real processor pushed in sequences that agreed (each
   * compared with the reference's: error code, saved EIP, and the frame's words where observed):
   * how many, how many with an error code, and how many per IDT vector.
   */
  frames: { delivered: number; withErrorCode: number; byVector: Record<number, number> };
  boots: number;
  accel: Accel | 'none';
  /** KVM was there but could not boot the harness, so the campaign ran under TCG: why. */
  kvmUnusable?: string;
  /**
   * QEMU failed to start or died (its first line of error output): the campaign stopped there.
   * Not a finding: nothing of that boot is counted.
   */
  harnessError?: string;
  wallMs: number;
  qemuMs: number;
}

export interface CampaignResult {
  readonly stats: CampaignStats;
  readonly findings: readonly Finding[];
}

/** Check one boot's results; push findings; `onChecked` after each sequence. */
export const checkBoot = (
  batch: readonly Sequence[],
  kernel: Kernel,
  boot: BootResult,
  ref: Reference,
  stats: CampaignStats,
  findings: Finding[],
  onChecked?: () => void,
): void => {
  const seen = new Set<number>();
  for (const real of boot.sequences) {
    const seq = batch[real.index];
    if (!seq) continue;
    seen.add(real.index);
    stats.sequences++;
    stats.operations += real.steps.length;
    if (real.end === 'guard') stats.guardStops++;
    const v = checkSequence(seq, real, kernel.placements[real.index]!, kernel.observed, ref, boot.accel);
    if (v.kind === 'deviation') {
      stats.deviations[v.name] = (stats.deviations[v.name] ?? 0) + 1;
    } else if (v.kind === 'disagree') {
      stats.disagreements++;
      findings.push({ kind: 'disagree', sequence: seq, verdict: v, accel: boot.accel });
    } else if (v.kind === 'inconclusive') {
      stats.inconclusive++;
      findings.push({ kind: 'inconclusive', sequence: seq, verdict: v, accel: boot.accel });
    } else if (real.end === 'crashed') {
      stats.crashes++;
      findings.push({ kind: 'crash', sequence: seq, error: boot.error ?? 'crashed', accel: boot.accel });
    } else {
      stats.agreed++;
      for (const step of real.steps) {
        if (!step.event) continue;
        stats.frames.delivered++;
        if (step.event.errorCode !== undefined) stats.frames.withErrorCode++;
        stats.frames.byVector[step.event.vector] = (stats.frames.byVector[step.event.vector] ?? 0) + 1;
      }
      for (const name of v.kind === 'agree' ? (v.followed ?? []) : [])
        stats.followed[name] = (stats.followed[name] ?? 0) + 1;
    }
    onChecked?.();
  }
  if (boot.error && !boot.sequences.some((s) => s.end === 'crashed')) {
    // The boot failed outside any sequence's steps: blame the first sequence that did not run.
    const first = batch.findIndex((_, i) => !seen.has(i));
    stats.crashes++;
    findings.push({
      kind: 'crash',
      sequence: batch[Math.max(0, first)]!,
      error: `${boot.error} (sequence ${first} of the batch did not run)`,
      accel: boot.accel,
    });
  }
};

/** A campaign's statistics before its first boot: nothing run, no accelerator yet. */
export const emptyCampaignStats = (): CampaignStats => ({
  sequences: 0,
  operations: 0,
  agreed: 0,
  guardStops: 0,
  disagreements: 0,
  crashes: 0,
  inconclusive: 0,
  deviations: {},
  followed: {},
  frames: { delivered: 0, withErrorCode: 0, byVector: {} },
  boots: 0,
  accel: 'none',
  wallMs: 0,
  qemuMs: 0,
});

/** Run every sequence from `source` (a batch at a time) and check it. */
export const runCampaign = async (
  source: (batchIndex: number) => Sequence[] | undefined,
  options: CampaignOptions = {},
): Promise<CampaignResult> => {
  const ref = options.reference ?? REFERENCE;
  const started = performance.now();
  const stats = emptyCampaignStats();
  const findings: Finding[] = [];
  // Batches to run: from the source, plus the rest of a batch whose boot died part-way. While
  // QEMU runs one batch (another process, the other core), the previous one is checked and the
  // next one built.
  const retry: Sequence[][] = [];
  let sourceIndex = 0;
  const build = () => {
    const batch = retry.shift() ?? source(sourceIndex++);
    return batch && batch.length > 0 ? { batch, kernel: buildKernel(batch) } : undefined;
  };
  type Done = { batch: Sequence[]; kernel: Kernel; boot: BootResult };
  const check = (d: Done) => {
    const each = options.onSequenceChecked;
    checkBoot(
      d.batch,
      d.kernel,
      d.boot,
      ref,
      stats,
      findings,
      each &&
        (() => {
          stats.wallMs = performance.now() - started;
          each({ ...stats, deviations: { ...stats.deviations } });
        }),
    );
    stats.wallMs = performance.now() - started;
    options.onProgress?.({
      ...stats,
      deviations: { ...stats.deviations },
      followed: { ...stats.followed },
      frames: { ...stats.frames, byVector: { ...stats.frames.byVector } },
    });
  };
  let cur = build();
  let done: Done | undefined;
  while (cur) {
    const running = runKernel(cur.kernel, {
      ...(options.accel ? { accel: options.accel } : {}),
      ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
      ...(options.onSequencesStarted ? { onSequencesStarted: options.onSequencesStarted } : {}),
    });
    if (done) check(done);
    let next = build();
    const boot = await running;
    stats.boots++;
    if (boot.harnessError) {
      // QEMU itself failed: a platform fault, not a verdict on any sequence; it would fail again.
      stats.harnessError = boot.harnessError;
      break;
    }
    stats.accel = boot.accel;
    if (boot.kvmUnusable) stats.kvmUnusable = boot.kvmUnusable;
    stats.qemuMs += boot.wallMs;
    if (boot.error) {
      const ran = new Set(boot.sequences.map((s) => s.index));
      // checkBoot blames the first sequence that did not run when none was caught part-way.
      if (!boot.sequences.some((s) => s.end === 'crashed')) ran.add(cur.batch.findIndex((_, i) => !ran.has(i)));
      const rest = cur.batch.filter((_, i) => !ran.has(i));
      if (rest.length > 0) {
        retry.push(rest);
        next ??= build();
      }
    }
    done = { batch: cur.batch, kernel: cur.kernel, boot };
    cur = next;
  }
  if (done) check(done);
  stats.wallMs = performance.now() - started;
  return { stats, findings };
};
