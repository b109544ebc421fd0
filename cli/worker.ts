/**
 * The worker thread's loop: load each design once (a preset by name, a design file by absolute
 * path), run the items it is sent (a check item of either level, or one seed of a mutant), and
 * answer with plain results.
 */
import { parentPort } from 'node:worker_threads';
import { mutantByName } from '../mutants/catalog.ts';
import { type MutantOutcome, runMutant } from '../mutants/run.ts';
import { unseenMutantByName } from '../mutants/unseen-catalog.ts';
import type { SyscallPropertyName } from '../properties/syscall/properties.ts';
import { type LoadedDesign, loadDesign } from './designs.ts';
import { runSyscallItem } from './syscall.ts';
import { type ItemResult, type RunOptions, runItem, type WorkItem } from './work.ts';

/** One (design, property) item of `hyperprop check`. */
export interface CheckRequest {
  readonly spec: string;
  readonly item: WorkItem;
  readonly options: RunOptions;
}
/** One seed of one mutant, for `hyperprop mutants`. */
export interface MutantRequest {
  readonly kind: 'mutant';
  readonly name: string;
  readonly seed: number;
  readonly runs: number;
  /** Which set the mutant is in: the catalog (default) or the frozen unseen set (mutants/unseen/). */
  readonly set?: 'catalog' | 'unseen';
}
/** One (design, property) item of a system-call-level design, for `hyperprop check`. */
export interface SyscallRequest {
  readonly kind: 'syscall';
  readonly name: string;
  readonly property: SyscallPropertyName;
  readonly index: number;
  readonly options: RunOptions;
}
export type WorkerRequest = CheckRequest | MutantRequest | SyscallRequest;
export type WorkerResult = ItemResult | MutantOutcome;
export type WorkerReply =
  | { readonly ok: true; readonly result: WorkerResult }
  | { readonly ok: false; readonly error: string };

const designs = new Map<string, Promise<LoadedDesign>>();

parentPort?.on('message', async (req: WorkerRequest) => {
  try {
    if ('kind' in req && req.kind === 'syscall') {
      const result = await runSyscallItem(req.name, req.property, req.index, req.options);
      parentPort!.postMessage({ ok: true, result } satisfies WorkerReply);
      return;
    }
    if ('kind' in req) {
      const m = req.set === 'unseen' ? unseenMutantByName(req.name) : mutantByName(req.name);
      if (!m) throw new Error(`unknown mutant '${req.name}'`);
      const result = runMutant(m, { seed: req.seed, runs: req.runs, now: () => performance.now() });
      parentPort!.postMessage({ ok: true, result } satisfies WorkerReply);
      return;
    }
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
