/**
 * Runs a conformance kernel in QEMU and decodes what the real processor did.
 *
 * `qemu-system-i386 -accel kvm -accel tcg` uses the real CPU under KVM where /dev/kvm exists and
 * QEMU's own emulator (TCG) elsewhere, with one command line. Guest RAM is a shared file in
 * /dev/shm (or the temp dir), so the records the guest writes are read straight from it when
 * QEMU exits; the debug console goes to a file and isa-debug-exit ends the run. A boot has a
 * time limit: a guest that hangs is killed, one that triple-faults stops (-no-reboot), and either
 * is reported as an error naming the sequence that was running.
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sampleSequences } from './generate.ts';
import { buildKernel, type Kernel } from './kernel.ts';
import {
  DEBUG_EXIT_PORT,
  END_GUARD,
  EXIT_DONE,
  EXIT_FATAL,
  GUEST_RAM_MIB,
  phys,
  qemuStatus,
  REC,
  REC_HEADER_WORDS,
  REC_MAGIC,
  RECORDS,
  STATUS_DONE,
  STATUS_FATAL,
  STEP_ERROR_CODE,
  STEP_EVENT,
  TAG_SEQ_END,
  TAG_SEQ_START,
  TAG_STEP,
} from './layout.ts';

export type AccelRequest = 'auto' | 'kvm' | 'tcg';
/** Which x86 ran it: the real CPU under KVM, or QEMU's emulator. */
export type Accel = 'kvm' | 'tcg';

export const QEMU = 'qemu-system-i386';
export const QEMU_INSTALL = 'apt-get install -y qemu-system-x86';

/** The QEMU binary to run: `HYPERPROP_QEMU` when set (a path or a name on the PATH), else {@link QEMU}. */
export const qemuBinary = (): string => process.env.HYPERPROP_QEMU || QEMU;

/** The KVM device QEMU opens: `HYPERPROP_KVM_DEVICE` when set (a test hook: a missing file makes KVM unusable), else /dev/kvm. */
export const kvmDevice = (): string => process.env.HYPERPROP_KVM_DEVICE || '/dev/kvm';

/** The QEMU binary when it answers `--version`, or undefined. */
export const findQemu = (): string | undefined => {
  const bin = qemuBinary();
  const r = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? bin : undefined;
};

/** Why conformance cannot run here (no QEMU), or undefined. */
export const qemuMissingReason = (): string | undefined =>
  findQemu()
    ? undefined
    : process.env.HYPERPROP_QEMU
      ? `HYPERPROP_QEMU (${qemuBinary()}) does not run`
      : `${QEMU} is not on the PATH (install it: ${QEMU_INSTALL})`;

/** Why the KVM device cannot be used (absent, or not openable for reading and writing as QEMU opens it), or undefined. No QEMU is started. */
export const kvmDeviceProblem = (): string | undefined => {
  const dev = kvmDevice();
  try {
    closeSync(openSync(dev, 'r+'));
    return undefined;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? `${dev} does not exist` : `${dev} cannot be opened (${code ?? String(e)})`;
  }
};

/** What the real processor did after one operation. */
export interface RealStep {
  readonly op: number;
  readonly regs: readonly [number, number, number, number];
  readonly eflags: number;
  readonly cs: number;
  /** SS:ESP after the operation, or as the handler found them (the frame's lowest word). */
  readonly esp: number;
  readonly ss: number;
  readonly cr0: number;
  readonly cr2: number;
  readonly cr3: number;
  /** The IDT vector the harness's handler was entered through, if any. */
  readonly event?: { readonly vector: number; readonly errorCode?: number; readonly eip: number };
  /** Observed words that changed: [physical address, new value]. */
  readonly changed: readonly (readonly [number, number])[];
}

/** One sequence's run: its steps and how it ended. */
export interface RealSequence {
  readonly index: number;
  readonly steps: readonly RealStep[];
  /** `done`: every operation ran; `guard`: the harness stopped before operation `stoppedAt`; `crashed`: the boot ended inside it. */
  readonly end: 'done' | 'guard' | 'crashed';
  readonly stoppedAt?: number;
}

export interface BootResult {
  readonly accel: Accel;
  readonly sequences: readonly RealSequence[];
  /** Undefined when the boot finished; otherwise what went wrong, naming the sequence. */
  readonly error?: string;
  readonly wallMs: number;
  readonly debugOutput: string;
  /**
   * With `accel: 'auto'`: /dev/kvm was there but the harness did not reach its first sequence under
   * it (a KVM that cannot run this kernel, e.g. a sandbox's), so this run is QEMU's emulator; why.
   */
  readonly kvmUnusable?: string;
  /**
   * QEMU itself failed to start or died (an exit status the harness never causes, a signal, or no
   * process at all): a fault of the harness's platform, not of any sequence; QEMU's own first line
   * of error output. When set, `sequences` says nothing about the reference.
   */
  readonly harnessError?: string;
}

export interface RunOptions {
  readonly accel?: AccelRequest;
  /** Time limit for one boot, in milliseconds. */
  readonly timeoutMs?: number;
  /** Keep the image and guest RAM file here (for debugging); a fresh temp dir otherwise. */
  readonly workDir?: string;
  /** Called about every half second while the guest runs, with how many sequences it has started. */
  readonly onSequencesStarted?: (started: number) => void;
}

/** The character the harness writes to the debug console as it starts each sequence (kernel.ts). */
export const SEQUENCE_MARK = 0x2e;

/** Time limit of a boot when none is given, in milliseconds. */
const DEFAULT_TIMEOUT_MS = 60_000;

const accelArgs = (a: AccelRequest): string[] =>
  a === 'kvm' ? ['-accel', 'kvm'] : a === 'tcg' ? ['-accel', 'tcg'] : ['-accel', 'kvm', '-accel', 'tcg'];

/** Decode the record buffer (a little-endian word array starting at the header). */
export const decodeRecords = (
  words: Uint32Array,
): { sequences: RealSequence[]; status: number; fatal?: { vector: number; eip: number; op: number; seq: number } } => {
  if (words[REC.MAGIC] !== REC_MAGIC) return { sequences: [], status: -1 };
  const n = Math.min(words[REC.WORDS] ?? 0, words.length);
  const sequences: RealSequence[] = [];
  let cur: { index: number; steps: RealStep[] } | undefined;
  let i = REC_HEADER_WORDS;
  while (i < n) {
    const w = words[i]!;
    const tag = w >>> 24;
    if (tag === TAG_SEQ_START) {
      cur = { index: w & 0xff_ffff, steps: [] };
      i += 1;
    } else if (tag === TAG_STEP) {
      const flags = (w >>> 16) & 0xff;
      const nDiff = words[i + 15]!;
      const changed: [number, number][] = [];
      for (let k = 0; k < nDiff; k++) changed.push([words[i + 16 + 2 * k]!, words[i + 17 + 2 * k]!]);
      const step: RealStep = {
        op: w & 0xffff,
        regs: [words[i + 1]!, words[i + 2]!, words[i + 3]!, words[i + 4]!],
        eflags: words[i + 5]!,
        cs: words[i + 6]! & 0xffff,
        esp: words[i + 7]!,
        ss: words[i + 8]! & 0xffff,
        cr0: words[i + 9]!,
        cr2: words[i + 10]!,
        cr3: words[i + 11]!,
        ...(flags & STEP_EVENT
          ? {
              event: {
                vector: words[i + 12]!,
                eip: words[i + 14]!,
                ...(flags & STEP_ERROR_CODE ? { errorCode: words[i + 13]! } : {}),
              },
            }
          : {}),
        changed,
      };
      cur?.steps.push(step);
      i += 16 + 2 * nDiff;
    } else if (tag === TAG_SEQ_END) {
      const reason = (w >>> 16) & 0xff;
      const at = words[i + 1]!;
      if (cur)
        sequences.push({
          index: cur.index,
          steps: cur.steps,
          end: reason === END_GUARD ? 'guard' : 'done',
          ...(reason === END_GUARD ? { stoppedAt: at } : {}),
        });
      cur = undefined;
      i += 2;
    } else {
      break;
    }
  }
  if (cur) sequences.push({ index: cur.index, steps: cur.steps, end: 'crashed' });
  const status = words[REC.STATUS]!;
  return {
    sequences,
    status,
    ...(status === STATUS_FATAL
      ? {
          fatal: {
            vector: words[REC.FATAL_VECTOR]!,
            eip: words[REC.FATAL_EIP]!,
            op: words[REC.FATAL_OP]!,
            seq: words[REC.FATAL_SEQ]!,
          },
        }
      : {}),
  };
};

/** The accelerator a CPUID 0x40000000 signature names. */
export const accelFromSignature = (ebx: number, ecx: number, edx: number): Accel => {
  const s = [ebx, ecx, edx]
    .map((w) => String.fromCharCode(w & 0xff, (w >>> 8) & 0xff, (w >>> 16) & 0xff, w >>> 24))
    .join('');
  return s.startsWith('KVMKVMKVM') ? 'kvm' : 'tcg';
};

/** Boot a kernel in QEMU once and decode its records. Never hangs: the boot is killed at its time limit. */
const bootOnce = async (kernel: Kernel, options: RunOptions): Promise<BootResult> => {
  const accel = options.accel ?? 'auto';
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const shm = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  const dir = options.workDir ?? mkdtempSync(join(shm, 'hyperprop-conform-'));
  const imagePath = join(dir, 'kernel.bin');
  const ramPath = join(dir, 'guest-ram');
  const debugPath = join(dir, 'debugcon.txt');
  writeFileSync(imagePath, kernel.image);
  rmSync(ramPath, { force: true });
  writeFileSync(debugPath, '');
  const args = [
    ...accelArgs(accel),
    '-M',
    'pc',
    '-m',
    `${GUEST_RAM_MIB}M`,
    '-object',
    `memory-backend-file,id=ram,size=${GUEST_RAM_MIB}M,mem-path=${ramPath},share=on`,
    '-machine',
    'memory-backend=ram',
    '-nodefaults',
    '-display',
    'none',
    '-vga',
    'none',
    '-no-reboot',
    '-serial',
    'none',
    '-monitor',
    'none',
    '-debugcon',
    `file:${debugPath}`,
    '-device',
    `isa-debug-exit,iobase=0x${DEBUG_EXIT_PORT.toString(16)},iosize=0x02`,
    '-kernel',
    imagePath,
  ];
  const started = performance.now();
  const { code, stderr, timedOut } = await new Promise<{ code: number | null; stderr: string; timedOut: boolean }>(
    (resolve) => {
      const p = spawn(qemuBinary(), args, { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      let timedOut = false;
      const report = options.onSequencesStarted;
      const poll = report
        ? setInterval(() => {
            try {
              report(readFileSync(debugPath).filter((b) => b === SEQUENCE_MARK).length);
            } catch {
              // The file is QEMU's while it runs; a failed read only skips one report.
            }
          }, 500)
        : undefined;
      p.stderr.on('data', (d: Buffer) => {
        err += d.toString();
      });
      const timer = setTimeout(() => {
        timedOut = true;
        p.kill('SIGKILL');
      }, timeoutMs);
      p.on('error', (e) => {
        clearTimeout(timer);
        clearInterval(poll);
        resolve({ code: -1, stderr: `${err}${String(e)}`, timedOut });
      });
      p.on('close', (c, signal) => {
        clearTimeout(timer);
        clearInterval(poll);
        resolve({ code: c ?? (signal ? null : -1), stderr: err, timedOut });
      });
    },
  );
  const wallMs = performance.now() - started;
  let words = new Uint32Array(0);
  if (existsSync(ramPath)) {
    const fd = openSync(ramPath, 'r');
    const head = Buffer.alloc(REC_HEADER_WORDS * 4);
    readSync(fd, head, 0, head.length, phys(RECORDS));
    const nWords = Math.max(REC_HEADER_WORDS, head.readUInt32LE(REC.WORDS * 4));
    const buf = Buffer.alloc(nWords * 4);
    readSync(fd, buf, 0, buf.length, phys(RECORDS));
    words = new Uint32Array(buf.buffer, buf.byteOffset, nWords);
  }
  const debugOutput = existsSync(debugPath) ? readFileSync(debugPath, 'latin1') : '';
  if (!options.workDir) rmSync(dir, { recursive: true, force: true });
  const decoded = decodeRecords(words);
  const ranAccel: Accel =
    words.length > REC.CPUID_EDX
      ? accelFromSignature(words[REC.CPUID_EBX]!, words[REC.CPUID_ECX]!, words[REC.CPUID_EDX]!)
      : accel === 'kvm'
        ? 'kvm'
        : 'tcg';
  const last = decoded.sequences[decoded.sequences.length - 1];
  const where = last
    ? `sequence ${last.index}${last.end === 'crashed' ? `, after ${last.steps.length} operation(s)` : ''}`
    : 'before the first sequence';
  let error: string | undefined;
  if (timedOut) error = `the guest did not finish within ${timeoutMs} ms (hung in ${where})`;
  else if (decoded.status === STATUS_FATAL && decoded.fatal)
    error = `the harness took an unexpected exception (vector ${decoded.fatal.vector}) in sequence ${decoded.fatal.seq}, operation ${decoded.fatal.op}`;
  else if (code !== qemuStatus(EXIT_DONE) || decoded.status !== STATUS_DONE) {
    const why =
      code === qemuStatus(EXIT_FATAL) ? 'fatal exit' : code === 0 ? 'a triple fault (shutdown)' : `exit status ${code}`;
    error = `QEMU stopped with ${why} in ${where}${stderr.trim() ? `: ${stderr.trim().split('\n').slice(-3).join(' | ')}` : ''}`;
  }
  // Exit statuses the harness can cause: its two isa-debug-exit values, and 0 (a guest shutdown or
  // triple fault under -no-reboot). Anything else is QEMU failing on its own.
  const harnessError =
    timedOut || code === 0 || code === qemuStatus(EXIT_DONE) || code === qemuStatus(EXIT_FATAL)
      ? undefined
      : `QEMU (${qemuBinary()}) ${decoded.status === -1 ? 'failed to start' : 'died'} (${code === null ? 'killed by a signal' : code === -1 ? 'could not be run' : `exit status ${code}`}): ${firstLine(stderr) ?? 'no error output'}`;
  return {
    accel: ranAccel,
    sequences: decoded.sequences,
    wallMs,
    debugOutput,
    ...(error ? { error } : {}),
    ...(harnessError ? { harnessError } : {}),
  };
};

/** The first non-empty line of QEMU's error output. */
const firstLine = (stderr: string): string | undefined =>
  stderr
    .split('\n')
    .map((l) => l.trim())
    .find((l) => l !== '');

/** The rule `auto` uses: a KVM boot that failed before the harness reached its first sequence means KVM cannot run it here. */
const kvmFailedToBoot = (b: BootResult): boolean =>
  b.harnessError !== undefined || (b.error !== undefined && b.sequences.length === 0);

/** Time limit of the KVM probe boot (one tiny sequence): a KVM that works finishes it in well under a second. */
const KVM_PROBE_MS = 10_000;

/**
 * Why KVM cannot run the conformance kernel here, or undefined when it can: the KVM device is
 * absent or cannot be opened (found without starting QEMU), or a probe boot of one tiny sequence
 * under KVM fails before its first sequence, the same rule `auto` applies. Remembered for the process.
 */
export const kvmUnusableReason = async (options: RunOptions = {}): Promise<string | undefined> => {
  const dev = kvmDeviceProblem();
  if (dev) return dev;
  if (kvmUnusable !== undefined) return kvmUnusable;
  const probe = await bootOnce(buildKernel(sampleSequences(0, 1, undefined, 1)), {
    ...options,
    accel: 'kvm',
    timeoutMs: Math.min(options.timeoutMs ?? KVM_PROBE_MS, KVM_PROBE_MS),
  });
  if (kvmFailedToBoot(probe)) kvmUnusable = probe.harnessError ?? probe.error;
  return kvmUnusable;
};

/**
 * Boot a kernel in QEMU and decode its records: under KVM where it works, in QEMU's emulator
 * elsewhere. A KVM that cannot bring the harness to its first sequence is a platform problem,
 * not a verdict on any sequence: the boot is repeated under TCG and says so (`kvmUnusable`).
 */
export const runKernel = async (kernel: Kernel, options: RunOptions = {}): Promise<BootResult> => {
  const auto = (options.accel ?? 'auto') === 'auto';
  // No KVM device at all: QEMU's emulator, as `-accel kvm -accel tcg` would pick.
  if (auto && kvmDeviceProblem()) return bootOnce(kernel, { ...options, accel: 'tcg' });
  // Once this process has seen KVM fail to boot the harness, later boots go to TCG directly.
  if (auto && kvmUnusable !== undefined)
    return { ...(await bootOnce(kernel, { ...options, accel: 'tcg' })), kvmUnusable };
  const first = await bootOnce(kernel, options);
  if (!auto || !kvmFailedToBoot(first)) return first;
  const why = first.harnessError ?? first.error ?? 'KVM failed to boot the harness';
  kvmUnusable = why;
  // The time limit bounds the whole boot: the TCG retry gets what the KVM attempt left.
  const left = Math.max(1000, (options.timeoutMs ?? DEFAULT_TIMEOUT_MS) - first.wallMs);
  return { ...(await bootOnce(kernel, { ...options, accel: 'tcg', timeoutMs: left })), kvmUnusable: why };
};

/** Why KVM could not boot the harness in this process, once seen. */
let kvmUnusable: string | undefined;
