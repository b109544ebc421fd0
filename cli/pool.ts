/**
 * Worker threads for `hyperprop check --workers N` and `hyperprop mutants --workers N`: each
 * request goes to the next idle worker; results come back in the requests' order, so the report
 * does not depend on which worker ran what.
 */
import { Worker } from 'node:worker_threads';
import type { WorkerReply, WorkerRequest, WorkerResult } from './worker.ts';

/** The worker's entry: compiled, worker.js itself; from the sources, a shim that registers tsx first. */
const WORKER_ENTRY = new URL(import.meta.url.endsWith('.ts') ? './worker-entry.js' : './worker.js', import.meta.url);

export const runInWorkers = async <Req extends WorkerRequest, Res extends WorkerResult>(
  requests: readonly Req[],
  workers: number,
  onDone: (r: Res) => void,
): Promise<Res[]> => {
  const results: Res[] = new Array(requests.length);
  let next = 0;
  const pool = Array.from({ length: Math.max(1, Math.min(workers, requests.length)) }, () => new Worker(WORKER_ENTRY));
  try {
    await Promise.all(
      pool.map(
        (w) =>
          new Promise<void>((resolve, reject) => {
            let current = -1;
            const feed = () => {
              if (next >= requests.length) return resolve();
              current = next++;
              w.postMessage(requests[current]);
            };
            w.on('message', (reply: WorkerReply) => {
              if (!reply.ok) return reject(new Error(reply.error));
              results[current] = reply.result as Res;
              onDone(reply.result as Res);
              feed();
            });
            w.on('error', reject);
            w.on('exit', (code) => {
              if (next < requests.length || results[current] === undefined)
                reject(new Error(`a worker thread stopped (exit code ${code})`));
            });
            feed();
          }),
      ),
    );
  } finally {
    await Promise.all(pool.map((w) => w.terminate()));
  }
  return results;
};
