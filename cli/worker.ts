/**
 * The worker thread's loop: load each design once (a preset by name, a design file by absolute
 * path), run the items it is sent, and answer with plain results.
 */
import { parentPort } from 'node:worker_threads';
import { type LoadedDesign, loadDesign } from './designs.ts';
import { type ItemResult, type RunOptions, runItem, type WorkItem } from './work.ts';

export interface WorkerRequest {
  readonly spec: string;
  readonly item: WorkItem;
  readonly options: RunOptions;
}
export type WorkerReply =
  | { readonly ok: true; readonly result: ItemResult }
  | { readonly ok: false; readonly error: string };

const designs = new Map<string, Promise<LoadedDesign>>();

parentPort?.on('message', async (req: WorkerRequest) => {
  try {
    let d = designs.get(req.spec);
    if (!d) {
      d = loadDesign(req.spec);
      designs.set(req.spec, d);
    }
    const result = await runItem(await d, req.item, req.options);
    parentPort!.postMessage({ ok: true, result } satisfies WorkerReply);
  } catch (e) {
    parentPort!.postMessage({ ok: false, error: e instanceof Error ? e.message : String(e) } satisfies WorkerReply);
  }
});
