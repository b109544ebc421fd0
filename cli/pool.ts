/**
 * Worker threads for the command's work (`check` items and corpus replay, `replay`, `mutants
 * --workers N`): each request goes to the next idle worker; results come back in the requests'
 * order, so a report does not depend on which worker ran what.
 *
 * Under a watchdog, a request that runs past its wall-clock budget, or whose heartbeat stops for
 * longer than the stall budget (a design call that never returns, a design file whose import never
 * settles), has its worker terminated and replaced; so does a request whose worker dies. Each such
 * request gets the caller's fault result, and the other requests go on.
 *
 * Written on node:worker_threads rather than a pool library: what the watchdog needs (a shared
 * heartbeat per worker read while the worker is stuck in a loop, terminate-and-replace of one
 * worker, in-order results with a progress callback) is a few dozen lines here, and each library
 * looked at would still need all of it around its own task model.
 */
import { Worker } from 'node:worker_threads';
import { visible } from './escape.ts';
import { HeartbeatReader, type Where } from './heartbeat.ts';
import type { WorkerFault, WorkerReply, WorkerRequest } from './worker.ts';

/** The worker's entry: compiled, worker.js itself; from the sources, a shim that registers tsx first. */
const WORKER_ENTRY = new URL(import.meta.url.endsWith('.ts') ? './worker-entry.js' : './worker.js', import.meta.url);

/** Why a request did not complete. */
export interface Fault {
  /**
   * threw / malformed-state: the design did (the worker caught it); hung: no heartbeat for the stall
   * budget; time-limit: past its wall-clock budget; crashed: the worker thread died; usage: bad
   * input found in the worker (a design file that does not load); error: anything else thrown.
   */
  readonly kind: 'threw' | 'malformed-state' | 'hung' | 'time-limit' | 'crashed' | 'usage' | 'error';
  /** One escaped line. */
  readonly message: string;
  readonly where?: Where;
  readonly elapsedMs: number;
}

export interface Watchdog<Req, Res> {
  /** Wall-clock milliseconds a request may run, asked when a worker takes it (undefined: no limit). */
  readonly budgetMs?: (req: Req) => number | undefined;
  /**
   * Milliseconds without a heartbeat after which a request is taken as hung (undefined: never;
   * for work that runs no design code and so never beats, such as the system-call level's built-ins).
   */
  readonly stallMs: (req: Req) => number | undefined;
  /** The result for a request that did not complete. */
  readonly onFault: (req: Req, fault: Fault) => Res;
}

const TICK_MS = 50;

interface Slot {
  worker: Worker;
  heartbeat: HeartbeatReader;
  /** When the worker had loaded its code (its start-up is not a stall), or undefined before. */
  readyAt?: number;
}

/** Worker threads that live across several batches of requests (a `check` run's phases). */
export class WorkerPool {
  private readonly slots: Slot[];

  /** Start `size` workers now (their start-up overlaps with whatever the caller does next). */
  constructor(readonly size: number) {
    this.slots = Array.from({ length: Math.max(1, size) }, () => this.spawn());
  }

  private spawn(): Slot {
    const heartbeat = new HeartbeatReader();
    const worker = new Worker(WORKER_ENTRY, {
      workerData: { heartbeat: heartbeat.buffer },
      stdout: true,
      stderr: true,
    });
    // What a design prints goes to standard error, escaped (never into a report on standard output).
    for (const stream of [worker.stdout, worker.stderr]) {
      let pending = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        const lines = (pending + chunk).split('\n');
        pending = lines.pop() ?? '';
        for (const line of lines) process.stderr.write(`hyperprop: design output: ${visible(line)}\n`);
      });
    }
    // An idle worker that dies is replaced when next used; nothing to report.
    worker.on('error', () => {});
    const slot: Slot = { worker, heartbeat };
    worker.once('message', () => {
      slot.readyAt = performance.now();
    });
    return slot;
  }

  private async replace(i: number): Promise<void> {
    const old = this.slots[i]!;
    this.slots[i] = this.spawn();
    await old.worker.terminate();
  }

  /**
   * Run `requests`, at most one per worker at a time; `onDone` sees each result as it comes.
   * Without a watchdog, the first failure rejects (as before watchdogs existed).
   */
  async run<Req extends WorkerRequest, Res>(
    requests: readonly Req[],
    onDone: (r: Res) => void,
    watchdog?: Watchdog<Req, Res>,
  ): Promise<Res[]> {
    const results: Res[] = new Array(requests.length);
    let next = 0;
    const lanes = Math.min(this.slots.length, requests.length);
    const lane = async (i: number) => {
      while (next < requests.length) {
        const k = next++;
        const outcome = await this.one<Req, Res>(i, requests[k]!, watchdog);
        if (outcome.replace) await this.replace(i);
        results[k] = outcome.result;
        onDone(outcome.result);
      }
    };
    await Promise.all(Array.from({ length: lanes }, (_, i) => lane(i)));
    return results;
  }

  private one<Req extends WorkerRequest, Res>(
    i: number,
    req: Req,
    watchdog: Watchdog<Req, Res> | undefined,
  ): Promise<{ result: Res; replace: boolean }> {
    const slot = this.slots[i]!;
    const { worker, heartbeat } = slot;
    const started = performance.now();
    const budget = watchdog?.budgetMs?.(req);
    const stall = watchdog?.stallMs(req);
    // No time left: not started at all (the worker stays as it is).
    if (watchdog && budget !== undefined && budget <= 0)
      return Promise.resolve({
        result: watchdog.onFault(req, {
          kind: 'time-limit',
          message: 'not run: the time limit was spent',
          elapsedMs: 0,
        }),
        replace: false,
      });
    return new Promise((resolve, reject) => {
      let lastBeats = heartbeat.beats();
      let lastBeatAt = started;
      let settled = false;
      const finish = (f: () => void) => {
        if (settled) return;
        settled = true;
        clearInterval(timer);
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
        f();
      };
      const fault = (kind: Fault['kind'], message: string, replace: boolean, where?: Where) => {
        const f: Fault = { kind, message, elapsedMs: performance.now() - started, ...(where ? { where } : {}) };
        if (!watchdog) return finish(() => reject(new Error(message)));
        finish(() => {
          try {
            resolve({ result: watchdog.onFault(req, f), replace });
          } catch (e) {
            reject(e);
          }
        });
      };
      const onMessage = (reply: WorkerReply | { ready: true }) => {
        if ('ready' in reply) return;
        if (reply.ok) return finish(() => resolve({ result: reply.result as Res, replace: false }));
        const wf: WorkerFault | undefined = reply.fault;
        // Anything else thrown (in the model, or in a callback the design gave the hardware): where the heartbeat last was.
        fault(
          wf?.kind ?? (reply.usage ? 'usage' : 'error'),
          reply.error,
          false,
          wf?.where ?? (reply.usage ? undefined : heartbeat.where()),
        );
      };
      const onError = (e: unknown) =>
        fault('crashed', `the worker thread failed: ${visible(e instanceof Error ? e.message : String(e))}`, true);
      const onExit = (code: number) =>
        fault('crashed', `the worker thread stopped (exit code ${code})`, true, heartbeat.where());
      const timer = setInterval(() => {
        const now = performance.now();
        const beats = heartbeat.beats();
        if (beats !== lastBeats) {
          lastBeats = beats;
          lastBeatAt = now;
        }
        // The clock of a stall starts once the worker has loaded its own code.
        if (slot.readyAt === undefined) lastBeatAt = now;
        else if (slot.readyAt > lastBeatAt) lastBeatAt = slot.readyAt;
        if (!watchdog) return;
        if (budget !== undefined && now - started > budget)
          return fault('time-limit', `stopped at its ${seconds(budget)} budget`, true, heartbeat.where());
        if (stall !== undefined && now - lastBeatAt > stall)
          return fault(
            'hung',
            `no progress for ${seconds(stall)} (a call that never returns)`,
            true,
            heartbeat.where(),
          );
      }, TICK_MS);
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
      worker.postMessage(req);
    });
  }

  /** Stop every worker. */
  async close(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}

const seconds = (ms: number) => `${ms >= 10_000 ? (ms / 1000).toFixed(0) : (ms / 1000).toFixed(1)} s`;

/** Run `requests` in `workers` fresh worker threads (stopped at the end). */
export const runInWorkers = async <Req extends WorkerRequest, Res>(
  requests: readonly Req[],
  workers: number,
  onDone: (r: Res) => void,
  watchdog?: Watchdog<Req, Res>,
): Promise<Res[]> => {
  const pool = new WorkerPool(Math.max(1, Math.min(workers, requests.length)));
  try {
    return await pool.run(requests, onDone, watchdog);
  } finally {
    await pool.close();
  }
};
