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
import { unseenSetMutantByName } from '../mutants/unseen-catalog.ts';
import { distinguishingFailure } from '../properties/check.ts';
import type { PropertyFailure, PropertyName } from '../properties/property.ts';
import type { TraceRecord } from '../properties/record/types.ts';
import type { SyscallPropertyName } from '../properties/syscall/properties.ts';
import type { DesignRef } from './counterexample.ts';
import {
  type LoadedAnyDesign,
  type LoadedDesign,
  type LoadedSyscallDesign,
  levelOf,
  loadAnyDesign,
  UsageError,
} from './designs.ts';
import { errorLine } from './escape.ts';
import { DesignFault, guardDesign, guardSyscallDesign } from './guard.ts';
import { Heartbeat, type Where } from './heartbeat.ts';
import { replayTrace } from './replay-render.ts';
import { isSyscallPreset, runSyscallItem } from './syscall.ts';
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
  /** Which set the mutant is in: the catalog (default) or a frozen unseen set (mutants/unseen/, mutants/unseen2/). */
  readonly set?: 'catalog' | 'unseen' | 'unseen2';
}
/** One (design, property) item of a system-call-level design, for `hyperprop check`. */
export interface SyscallRequest {
  readonly kind: 'syscall';
  /** A built-in's name, or a design file's absolute path (as the command line named it). */
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
/** Replay one machine-level counterexample's scenario on a design (with the baseline it was found against, if any). */
export interface ReplayRequest {
  readonly kind: 'replay';
  readonly spec: string;
  readonly property: PropertyName;
  readonly scenario: Scenario;
  readonly baseline?: string;
}
/**
 * Replay one system-call-level counterexample on `spec` (a built-in's name, or a design file given
 * on the command line: never a name read from the file but a built-in's), with its baseline if any.
 */
export interface SyscallReplayRequest {
  readonly kind: 'syscall-replay';
  readonly counterexample: SyscallCounterexampleFile;
  readonly spec?: string;
  readonly baseline?: string;
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
  /** Its level, recognised from what the file exports (absent: machine). */
  readonly level?: 'machine' | 'syscall';
  /** Whether a machine-level design has a network back end (its items get network scenarios by default). */
  readonly network?: boolean;
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

const designs = new Map<string, Promise<LoadedAnyDesign>>();

/** The design of `spec` (of any level), loaded once in this thread and under guard. */
const anyDesign = (spec: string): Promise<LoadedAnyDesign> => {
  let d = designs.get(spec);
  if (!d) {
    beat?.enter('import', undefined, undefined);
    d = loadAnyDesign(spec).then(
      (x): LoadedAnyDesign => {
        beat?.leave();
        return x.level === 'syscall'
          ? { ...x, design: guardSyscallDesign(x.design, beat) }
          : { ...x, design: guardDesign(x.design, beat) };
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

/** The design of `spec`, of the level asked for (`what` names its role in the error line otherwise). */
function design(spec: string, level: 'machine', what?: string): Promise<LoadedDesign>;
function design(spec: string, level: 'syscall', what?: string): Promise<LoadedSyscallDesign>;
async function design(spec: string, level: 'machine' | 'syscall', what = 'design'): Promise<LoadedAnyDesign> {
  const d = await anyDesign(spec);
  if (levelOf(d) !== level)
    throw new UsageError(
      `${what} ${d.ref.kind === 'preset' ? d.ref.name : d.ref.path} is a ${levelOf(d) === 'syscall' ? 'system-call-level' : 'hosted-machine'} design: it cannot serve a ${level === 'syscall' ? 'system-call-level' : 'hosted-machine'} design`,
    );
  return d;
}

const answer = async (req: WorkerRequest): Promise<WorkerResult> => {
  if (!('kind' in req)) {
    const base = req.options.baseline;
    return runItem(
      await design(req.spec, 'machine'),
      req.item,
      req.options,
      base === undefined ? undefined : await design(base, 'machine', 'baseline'),
    );
  }
  switch (req.kind) {
    case 'syscall': {
      const base = req.options.baseline;
      return runSyscallItem(
        await design(req.name, 'syscall'),
        req.property,
        req.index,
        req.options,
        base === undefined ? undefined : await design(base, 'syscall', 'baseline'),
      );
    }
    case 'mutant': {
      const m =
        req.set === 'unseen' || req.set === 'unseen2'
          ? unseenSetMutantByName(req.set, req.name)
          : mutantByName(req.name);
      if (!m) throw new Error(`unknown mutant '${req.name}'`);
      return runMutant(m, { seed: req.seed, runs: req.runs, now: () => performance.now() });
    }
    case 'probe': {
      const d = await anyDesign(req.spec);
      return d.level === 'syscall'
        ? { level: 'syscall', name: d.design.name, ref: d.ref, spec: d.spec }
        : { level: 'machine', network: d.design.network !== undefined, name: d.design.name, ref: d.ref, spec: d.spec };
    }
    case 'replay': {
      const d = (await design(req.spec, 'machine')).design;
      const base = req.baseline === undefined ? undefined : (await design(req.baseline, 'machine', 'baseline')).design;
      const failure = distinguishingFailure(d, req.property, req.scenario, base);
      const { rendering, trace } = replayTrace(d, req.scenario, failure, req.property);
      return { ...(failure ? { failure } : {}), rendering, trace };
    }
    case 'syscall-replay': {
      const { replaySyscall } = await import('./syscall-counterexample.ts');
      // A name read from the file serves only as a built-in's name: a file is never loaded from it.
      const named = req.counterexample.design;
      const spec = req.spec ?? (named.kind === 'preset' && isSyscallPreset(named.name) ? named.name : undefined);
      if (spec === undefined)
        throw new UsageError('a counterexample found on a design file replays only with --design FILE');
      const d = (await design(spec, 'syscall')).design;
      const base = req.baseline === undefined ? undefined : (await design(req.baseline, 'syscall', 'baseline')).design;
      const { failure, rendering, trace } = replaySyscall(req.counterexample, d, base);
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
