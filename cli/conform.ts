/**
 * `hyperprop conform`: a conformance campaign of the reference against QEMU (KVM's real CPU where
 * /dev/kvm exists, TCG elsewhere). Exit 0 when every real run is one the reference permits, 1 on a
 * disagreement or a crashed boot, 2 on bad usage, when QEMU is missing, or for `--accel kvm` where
 * KVM is unusable, 3 on a harness error (QEMU failed to start or died: nothing counted or saved).
 */

import { createHash } from 'node:crypto';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import {
  buildKernel,
  type CampaignStats,
  checkSequence,
  emptyCampaignStats,
  type Finding,
  kvmDeviceProblem,
  kvmUnusableReason,
  qemuMissingReason,
  runCampaign,
  runKernel,
  type Sequence,
  sampleSequences,
} from '../conformance/index.ts';
import { type Geometry, geometryProblem } from '../model/geometry.ts';
import { cpuProblem } from '../model/host/invariants.ts';
import { memoryFrom, nonZeroWords } from '../model/memory.ts';
import { OP_KINDS, type Op, opProblem } from '../model/ops.ts';
import type { Machine } from '../model/state.ts';
import { EMPTY_TLB } from '../model/tlb.ts';
import type { Problem } from './counterexample.ts';
import { visible } from './escape.ts';

const EXIT = { OK: 0, FAILED: 1, USAGE: 2, HARNESS: 3 } as const;

const int = (name: string, min: number) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}`);
  return n;
};

/** A machine as JSON (memory as its non-zero words). */
export const machineToJson = (m: Machine) => ({
  geometry: m.geometry,
  cpu: m.cpu,
  memory: [...nonZeroWords(m.memory)],
  tlb: m.tlb,
});
export const machineFromJson = (j: ReturnType<typeof machineToJson>): Machine => ({
  geometry: j.geometry,
  cpu: j.cpu,
  memory: memoryFrom(j.memory),
  tlb: j.tlb ?? EMPTY_TLB,
});

/** A disagreement as a replayable file: `hyperprop conform --replay FILE` runs it again. */
export const findingToJson = (f: Finding, seed: number) => ({
  format: 'hyperprop-conformance-finding/1',
  kind: f.kind,
  accel: f.accel,
  seed,
  machine: machineToJson(f.sequence.machine),
  ops: f.sequence.ops,
  ...(f.verdict ? { verdict: f.verdict } : {}),
  ...(f.error ? { error: f.error } : {}),
});

const writeAtomic = (dir: string, body: string) => {
  mkdirSync(dir, { recursive: true });
  const name = `conform-${createHash('sha256').update(body).digest('hex').slice(0, 16)}.json`;
  const tmp = join(dir, `.${name}.tmp`);
  writeFileSync(tmp, body);
  renameSync(tmp, join(dir, name));
  return join(dir, name);
};

const progressLine = (s: CampaignStats, total: number, running = 0) => {
  const rate = s.sequences / Math.max(0.001, s.wallMs / 1000);
  const accel = s.accel === 'none' ? 'no boot finished yet' : s.accel;
  return `conform [${accel}${s.kvmUnusable ? ', KVM unusable here' : ''}] ${s.sequences}/${total} sequences${running > 0 ? ` (+${running} running)` : ''}, ${s.disagreements} disagreements, ${s.crashes} crashes, ${rate.toFixed(0)} seq/s`;
};

const oneLine = (s: string) => visible(s.replace(/\s*\n\s*/g, ' | '));

const exitWithoutQemu = () => {
  const missing = qemuMissingReason();
  if (missing) {
    process.stderr.write(`hyperprop conform: ${missing}\n`);
    process.exit(EXIT.USAGE);
  }
};

const refuseKvm = (why: string) => {
  process.stderr.write(
    `hyperprop conform: --accel kvm: KVM is unusable here: ${oneLine(why)} (use --accel tcg, or auto)\n`,
  );
  process.exit(EXIT.USAGE);
};

/**
 * QEMU present, and for `--accel kvm` a usable KVM; exits 2 otherwise. A missing or unopenable KVM
 * device is refused before any QEMU starts; a present one is probed with the rule `--accel auto` uses.
 */
const exitUnlessRunnable = async (accel: string, timeoutMs: number) => {
  if (accel === 'kvm') {
    const dev = kvmDeviceProblem();
    if (dev) refuseKvm(dev);
  }
  exitWithoutQemu();
  if (accel === 'kvm') {
    const why = await kvmUnusableReason({ timeoutMs });
    if (why) refuseKvm(why);
  }
};

const exitOnHarnessError = (harnessError: string | undefined) => {
  if (!harnessError) return;
  process.stderr.write(`hyperprop conform: harness error: ${oneLine(harnessError)}\n`);
  process.exit(EXIT.HARNESS);
};

/** Progress on stderr unless --no-progress or a CI environment: a rewritten line on a terminal, else a line every 5 s. */
const progressWanted = (flag: boolean) => flag && !(process.env.CI && process.env.CI !== 'false');

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null;
const isU32 = (x: unknown) => typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= 0xffff_ffff;

/** What is wrong with a saved finding (`findingToJson`'s shape), or undefined: checked before anything runs. */
export const findingProblem = (j: unknown): Problem | undefined => {
  if (!isObject(j)) return { where: '', message: 'not a conformance finding (an object)' };
  if (j.format !== 'hyperprop-conformance-finding/1')
    return { where: 'format', message: 'not hyperprop-conformance-finding/1' };
  const m = j.machine;
  if (!isObject(m)) return { where: 'machine', message: 'not a machine' };
  if (!isObject(m.geometry)) return { where: 'machine.geometry', message: 'not a geometry' };
  const g = geometryProblem(m.geometry as unknown as Geometry);
  if (g) return { where: 'machine.geometry', message: g };
  const cpu = cpuProblem(m.cpu, 'machine.cpu');
  if (cpu) return { where: 'machine.cpu', message: cpu };
  if (!Array.isArray(m.memory) || m.memory.length > 1 << 20)
    return { where: 'machine.memory', message: 'not a list of [address, word] pairs' };
  for (const [i, w] of m.memory.entries())
    if (!Array.isArray(w) || w.length !== 2 || !isU32(w[0]) || (w[0] as number) % 4 !== 0 || !isU32(w[1]))
      return { where: `machine.memory[${i}]`, message: 'not a [4-aligned address, 32-bit word] pair' };
  if (m.tlb !== undefined) {
    const t = m.tlb;
    const entries = (x: unknown) =>
      Array.isArray(x) &&
      x.every((e) => isObject(e) && Object.values(e).every((v) => isU32(v) || typeof v === 'boolean'));
    if (!isObject(t) || !entries(t.translations) || !entries(t.pdes))
      return { where: 'machine.tlb', message: 'not a TLB (translations and pdes)' };
  }
  if (!Array.isArray(j.ops) || j.ops.length === 0 || j.ops.length > 10_000)
    return { where: 'ops', message: 'not a list of 1 to 10000 operations' };
  for (const [i, op] of j.ops.entries()) {
    if (!isObject(op) || typeof op.kind !== 'string' || !(OP_KINDS as readonly string[]).includes(op.kind))
      return { where: `ops[${i}]`, message: 'not an operation of the subset' };
    const p = opProblem(op as unknown as Op);
    if (p) return { where: `ops[${i}]`, message: p };
  }
  return undefined;
};

export const registerConform = (program: Command): void => {
  program
    .command('conform')
    .description('run generated operation sequences in QEMU and check every real result against the reference')
    .option('--runs <n>', 'sequences to run', int('--runs', 1), 10_000)
    .option('--seed <n>', 'seed (default: from the clock, printed)', int('--seed', 0))
    .option('--accel <a>', 'auto (KVM if it can, else TCG) | kvm | tcg', 'auto')
    .option('--batch <n>', 'sequences per QEMU boot', int('--batch', 1), 1000)
    .option('--max-ops <n>', 'operations per sequence (1..n)', int('--max-ops', 1), 30)
    .option('--timeout <ms>', 'time limit of one boot', int('--timeout', 1000), 120_000)
    .option('--out <dir>', 'where disagreements are saved', 'counterexamples/conformance')
    .option('--json <file>', 'write the JSON summary here (- for standard output)')
    .option('--replay <file>', 'run one saved finding again instead of a campaign')
    .option('--no-progress', 'no progress lines on standard error (also off when CI is set)')
    .action(async (o) => {
      if (!['auto', 'kvm', 'tcg'].includes(o.accel)) {
        process.stderr.write('hyperprop conform: --accel must be auto, kvm or tcg\n');
        process.exit(EXIT.USAGE);
      }
      if (o.replay) {
        // A finding is data: read with the counterexamples' limits, checked field by field, never echoed.
        const { loadJsonFile, problemLine } = await import('./counterexample.ts');
        const p = loadJsonFile(o.replay);
        const problem = p.ok ? findingProblem(p.json) : p.problem;
        if (problem) {
          process.stderr.write(`hyperprop conform: ${problemLine(visible(o.replay), problem)}\n`);
          process.exit(EXIT.USAGE);
        }
        const j = (p as { json: ReturnType<typeof findingToJson> }).json;
        await exitUnlessRunnable(o.accel, o.timeout);
        const seq: Sequence = { machine: machineFromJson(j.machine), ops: j.ops };
        const kernel = buildKernel([seq]);
        const boot = await runKernel(kernel, { accel: o.accel, timeoutMs: o.timeout });
        exitOnHarnessError(boot.harnessError);
        const real = boot.sequences[0];
        const verdict = real
          ? checkSequence(seq, real, kernel.placements[0]!, kernel.observed, undefined, boot.accel)
          : undefined;
        process.stdout.write(`${JSON.stringify({ accel: boot.accel, error: boot.error, verdict, real }, null, 2)}\n`);
        process.exit(verdict?.kind === 'agree' && !boot.error ? EXIT.OK : EXIT.FAILED);
      }
      await exitUnlessRunnable(o.accel, o.timeout);
      const seed: number = o.seed ?? Date.now() % 2 ** 31;
      const runs: number = o.runs;
      const batch: number = o.batch;
      const tty = process.stderr.isTTY;
      const progress = progressWanted(o.progress);
      process.stderr.write(`hyperprop conform: ${runs} sequences, seed ${seed}, accel ${o.accel}\n`);
      // Progress: totals after each boot, plus the sequences the running boot has started.
      let latest: CampaignStats | undefined;
      let running = 0;
      const started = performance.now();
      const every = tty ? 1000 : 5000;
      let shown = performance.now();
      const show = () => {
        if (!latest) return;
        shown = performance.now();
        const line = progressLine({ ...latest, wallMs: performance.now() - started }, runs, running);
        process.stderr.write(tty ? `\r${line}` : `${line}\n`);
      };
      // The ticker speaks while QEMU runs; checking a boot's results is synchronous, so it reports too.
      const ticker = progress ? setInterval(show, every) : undefined;
      const showIfDue = () => {
        if (progress && performance.now() - shown >= every) show();
      };
      latest = emptyCampaignStats();
      const result = await runCampaign(
        (i) => {
          const n = Math.min(batch, runs - i * batch);
          return n > 0 ? sampleSequences(seed + i, n, undefined, o.maxOps) : undefined;
        },
        {
          accel: o.accel,
          batchSize: batch,
          timeoutMs: o.timeout,
          onProgress: (s) => {
            latest = s;
            running = 0;
            if (progress && tty) show();
          },
          onSequencesStarted: (n) => {
            running = n;
          },
          onSequenceChecked: (s) => {
            latest = s;
            showIfDue();
          },
        },
      );
      clearInterval(ticker);
      if (progress && tty) process.stderr.write('\n');
      const s = result.stats;
      const saved = result.findings
        .filter((f) => f.kind !== 'inconclusive')
        .map((f) => writeAtomic(o.out, `${JSON.stringify(findingToJson(f, seed), null, 2)}\n`));
      const summary = {
        seed,
        accel: s.accel,
        sequences: s.sequences,
        operations: s.operations,
        agreed: s.agreed,
        disagreements: s.disagreements,
        crashes: s.crashes,
        inconclusive: s.inconclusive,
        guardStops: s.guardStops,
        tcgDeviations: s.deviations,
        tcgFrameDeviationsFollowed: s.followed,
        framesAgreed: s.frames,
        boots: s.boots,
        wallSeconds: Number((s.wallMs / 1000).toFixed(3)),
        sequencesPerSecond: Number((s.sequences / (s.wallMs / 1000)).toFixed(1)),
        ...(s.kvmUnusable ? { kvmUnusable: s.kvmUnusable } : {}),
        ...(s.harnessError ? { harnessError: s.harnessError } : {}),
        findings: saved,
      };
      const json = `${JSON.stringify(summary, null, 2)}\n`;
      if (o.json === '-') process.stdout.write(json);
      else if (o.json) writeFileSync(o.json, json);
      process.stderr.write(
        `${progressLine(s, runs)}; ${s.guardStops} stopped early by the harness guard; ${s.frames.delivered} exception/interrupt frames agreed (${s.frames.withErrorCode} with an error code); ${(s.wallMs / 1000).toFixed(1)} s\n`,
      );
      for (const f of saved) process.stderr.write(`  saved ${f}\n`);
      exitOnHarnessError(s.harnessError);
      process.exit(s.disagreements + s.crashes > 0 ? EXIT.FAILED : EXIT.OK);
    });
};
