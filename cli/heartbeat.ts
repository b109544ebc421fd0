/**
 * A worker's heartbeat: a little shared memory the worker writes on every call into a design (which
 * function, at which step, on which guest, running which operation) and the main thread reads. When
 * a design never returns, the worker cannot answer; the main thread still knows where it is stuck,
 * stops the worker, and reports that design's ERROR with the step and the operation.
 */

/** The functions of a design (and what else runs its code) as the heartbeat names them. */
export const CALLS = [
  'none',
  'import',
  'init',
  'hardware',
  'load',
  'save',
  'dispatch',
  'handle',
  'afterNative',
  'tag',
  'switchTo',
  'network',
  'boot',
  'call',
  'kernels',
] as const;
export type Call = (typeof CALLS)[number];

// Int32 slots, then the operation's JSON text.
const BEAT = 0;
const CALL = 1;
const STEP = 2;
const GUEST = 3;
const OP_LENGTH = 4;
const OP_BYTES_AT = 64;
const OP_BYTES = 448;
/** The size of a heartbeat's shared memory. */
export const HEARTBEAT_BYTES = OP_BYTES_AT + OP_BYTES;

/** Where a worker is, as its heartbeat last said. */
export interface Where {
  /** The design function running (or `import` while a design file loads; `none` between calls). */
  readonly call: Call;
  /** The step (index of the operation in its scenario) the call belongs to. */
  readonly step?: number;
  readonly guest?: number;
  /** The operation of that step, as JSON (model/ops.ts). */
  readonly op?: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

const CALL_INDEX: Readonly<Record<Call, number>> = Object.fromEntries(CALLS.map((c, i) => [c, i])) as Record<
  Call,
  number
>;

/** The worker's side: cheap writes, no allocation but the operation's JSON when it changes. */
export class Heartbeat {
  private readonly ints: Int32Array;
  private readonly bytes: Uint8Array;
  private lastOp: unknown;

  constructor(readonly buffer: SharedArrayBuffer) {
    this.ints = new Int32Array(buffer, 0, OP_BYTES_AT / 4);
    this.bytes = new Uint8Array(buffer, OP_BYTES_AT, OP_BYTES);
  }

  /** A call into design code starts (`op` when the call concerns one). */
  enter(call: Call, step: number | undefined, guest: number | undefined, op?: unknown): void {
    const i = this.ints;
    i[CALL] = CALL_INDEX[call];
    i[STEP] = step ?? -1;
    i[GUEST] = guest ?? -1;
    if (op !== this.lastOp) {
      this.lastOp = op;
      let text = '';
      try {
        text = op === undefined ? '' : (JSON.stringify(op) ?? '');
      } catch {}
      i[OP_LENGTH] = text === '' ? 0 : encoder.encodeInto(text, this.bytes).written;
    }
    Atomics.add(i, BEAT, 1);
  }

  /** The call returned (or threw). */
  leave(): void {
    this.ints[CALL] = 0;
    Atomics.add(this.ints, BEAT, 1);
  }

  /** Forget the operation (a new scenario or a new request starts). */
  reset(): void {
    this.lastOp = undefined;
    this.ints[OP_LENGTH] = 0;
    this.ints[STEP] = -1;
    this.ints[GUEST] = -1;
    this.ints[CALL] = 0;
    Atomics.add(this.ints, BEAT, 1);
  }
}

/** The main thread's side. */
export class HeartbeatReader {
  private readonly ints: Int32Array;
  private readonly bytes: Uint8Array;

  constructor(readonly buffer: SharedArrayBuffer = new SharedArrayBuffer(HEARTBEAT_BYTES)) {
    this.ints = new Int32Array(buffer, 0, OP_BYTES_AT / 4);
    this.bytes = new Uint8Array(buffer, OP_BYTES_AT, OP_BYTES);
  }

  /** A number that changes on every call into design code and every return. */
  beats(): number {
    return Atomics.load(this.ints, BEAT);
  }

  where(): Where {
    const call = CALLS[this.ints[CALL]!] ?? 'none';
    const step = this.ints[STEP]!;
    const guest = this.ints[GUEST]!;
    const n = Math.min(this.ints[OP_LENGTH]!, OP_BYTES);
    const op = n > 0 ? decoder.decode(this.bytes.slice(0, n)) : undefined;
    return {
      call,
      ...(step >= 0 ? { step } : {}),
      ...(guest >= 0 ? { guest } : {}),
      ...(op ? { op } : {}),
    };
  }
}
