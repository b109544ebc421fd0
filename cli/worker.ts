/**
 * The worker thread's loop: load each design once (a preset by name, a design file by the absolute
 * path the user gave on the command line) and put it under guard (guard.ts), run the requests it
 * is sent (a check item of either level, one counterexample's replay, one seed of a mutant, or a
 * design file's first load), and answer with plain results. A design that throws or returns a
 * broken host is answered as a fault with where it happened; one that never returns is the main
 * thread's to stop (it reads the heartbeat this thread writes).
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Scenario } from '../generators/host.ts';
import { mutantByName } from '../mutants/catalog.ts';
import { type MutantOutcome, runMutant } from '../mutants/run.ts';
import { unseenMutantByName } from '../mutants/unseen-catalog.ts';
import { checkScenario } from '../properties/check.ts';
import type { PropertyFailure, PropertyName } from '../properties/property.ts';
import type { TraceRecord } from '../properties/record/types.ts';
import type { SyscallPropertyName } from '../properties/syscall/properties.ts';
import type { DesignRef } from './counterexample.ts';
import { type LoadedDesign, loadDesign, UsageError } from './designs.ts';
import { errorLine } from './escape.ts';
import { DesignFault, guardDesign } from './guard.ts';
import { Heartbeat, type Where } from './heartbeat.ts';
import { replayTrace } from './replay-render.ts';
import { runSyscallItem } from './syscall.ts';
import type { SyscallCounterexampleFile } from './syscall-counterexample.ts';
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
/** Load a design file (its first load: a file that does not load is bad input; one that hangs, an ERROR). */
export interface ProbeRequest {
  readonly kind: 'probe';
  readonly spec: string;
}
/** Replay one machine-level counterexample's scenario on a design. */
export interface ReplayRequest {
  readonly kind: 'replay';
  readonly spec: string;
  readonly property: PropertyName;
  readonly scenario: Scenario;
}
/** Replay one system-call-level counterexample (its design is a built-in's name). */
export interface SyscallReplayRequest {
  readonly kind: 'syscall-replay';
  readonly counterexample: SyscallCounterexampleFile;
}
export type WorkerRequest =
  | CheckRequest
  | MutantRequest
  | SyscallRequest
  | ProbeRequest
  | ReplayRequest
  | SyscallReplayRequest;

/** A design file that loaded: what the main thread needs to name it. */
export interface ProbeResult {
  readonly name: string;
  readonly ref: DesignRef;
  readonly spec: string;
}
/** A replay's verdict and trace (as text, and as the record `--html` pages are made from). */
export interface ReplayOutcome {
  readonly failure?: PropertyFailure;
  readonly rendering: string;
  readonly trace: TraceRecord;
}
export type WorkerResult = ItemResult | MutantOutcome | ProbeResult | ReplayOutcome;

/** A design's misbehaviour, as the worker caught it. */
export interface WorkerFault {
  readonly kind: 'threw' | 'malformed-state';
  readonly where: Where;
}
export type WorkerReply =
  | { readonly ok: true; readonly result: WorkerResult }
  | { readonly ok: false; readonly error: string; readonly usage?: boolean; readonly fault?: WorkerFault };

const beat = (workerData as { heartbeat?: SharedArrayBuffer } | undefined)?.heartbeat
  ? new Heartbeat((workerData as { heartbeat: SharedArrayBuffer }).heartbeat)
  : undefined;

const designs = new Map<string, Promise<LoadedDesign>>();

/** The design of `spec`, loaded once in this thread and under guard. */
const design = (spec: string): Promise<LoadedDesign> => {
  let d = designs.get(spec);
  if (!d) {
    beat?.enter('import', undefined, undefined);
    d = loadDesign(spec).then(
      (x) => {
        beat?.leave();
        return { ...x, design: guardDesign(x.design, beat) };
      },
      (e) => {
        beat?.leave();
        throw e;
      },
    );
    designs.set(spec, d);
  }
  return d;
};

const answer = async (req: WorkerRequest): Promise<WorkerResult> => {
  if (!('kind' in req)) return runItem(await design(req.spec), req.item, req.options);
  switch (req.kind) {
    case 'syscall':
      return runSyscallItem(req.name, req.property, req.index, req.options);
    case 'mutant': {
      const m = req.set === 'unseen' ? unseenMutantByName(req.name) : mutantByName(req.name);
      if (!m) throw new Error(`unknown mutant '${req.name}'`);
      return runMutant(m, { seed: req.seed, runs: req.runs, now: () => performance.now() });
    }
    case 'probe': {
      const d = await design(req.spec);
      return { name: d.design.name, ref: d.ref, spec: d.spec };
    }
    case 'replay': {
      const d = (await design(req.spec)).design;
      const failure = checkScenario(d, req.property, req.scenario);
      const { rendering, trace } = replayTrace(d, req.scenario, failure, req.property);
      return { ...(failure ? { failure } : {}), rendering, trace };
    }
    case 'syscall-replay': {
      const { replaySyscall } = await import('./syscall-counterexample.ts');
      const { failure, rendering, trace } = replaySyscall(req.counterexample);
      return { ...(failure ? { failure } : {}), rendering, trace };
    }
  }
};

parentPort?.on('message', async (req: WorkerRequest) => {
  beat?.reset();
  try {
    const result = await answer(req);
    parentPort!.postMessage({ ok: true, result } satisfies WorkerReply);
  } catch (e) {
    const reply: WorkerReply =
      e instanceof DesignFault
        ? { ok: false, error: e.message, fault: { kind: e.kind, where: e.where } }
        : e instanceof UsageError
          ? { ok: false, error: errorLine(e, 1000), usage: true }
          : { ok: false, error: `${e instanceof Error ? `${e.name}: ` : ''}${errorLine(e)}` };
    parentPort!.postMessage(reply);
  }
});

// Loaded: the main thread's watchdog starts its stall clock from here, not from the thread's start.
parentPort?.postMessage({ ready: true });
