/**
 * A design under guard: every function of a design (and every callback it hands the hardware or
 * the network) is wrapped so that (1) the worker's heartbeat says which call runs, at which step,
 * on which operation; (2) anything it throws, Error or not, becomes a `DesignFault` naming the call
 * and the step; (3) what it returns is checked against the hosted machine's own invariants
 * (model/host/invariants.ts) before the model uses it. The design's name is shown escaped (it is
 * text from the user's file). Built-in designs run under the same guard.
 */

import { isFault, isVmExit } from '../model/exec.ts';
import { cpuProblem, hostMachineProblem } from '../model/host/invariants.ts';
import type { HostConfig } from '../model/host/layout.ts';
import type { Design, HostMachine } from '../model/index.ts';
import { errorLine, visible } from './escape.ts';
import type { Call, Heartbeat, Where } from './heartbeat.ts';

/** A design misbehaved: it threw, or it returned something the model cannot use. */
export class DesignFault extends Error {
  constructor(
    readonly kind: 'threw' | 'malformed-state',
    readonly detail: string,
    readonly where: Where,
  ) {
    super(`${kind === 'threw' ? 'threw' : 'returned a malformed state'}: ${detail}`);
  }
}

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null;

/** The step, guest and operation a call's arguments tell (the host counts the operations it ran). */
const position = (h: unknown): { step?: number; guest?: number } => {
  if (!isObject(h)) return {};
  const c = h.counters;
  return {
    ...(isObject(c) && typeof c.ops === 'number' ? { step: c.ops } : {}),
    ...(typeof h.current === 'number' ? { guest: h.current } : {}),
  };
};

/** A thrown value that is not an Error, as JSON where it can be (a string keeps its quotes). */
const describe = (e: unknown): string => {
  try {
    return JSON.stringify(e) ?? String(e);
  } catch {
    return Object.prototype.toString.call(e);
  }
};

/** What a thrown value says, whatever it is. */
const thrownText = (e: unknown): string =>
  e instanceof Error ? `${e.name}: ${errorLine(e)}` : `a non-Error value ${errorLine(describe(e))}`;

/**
 * `design` under guard, reporting to `beat` (or to nobody, in the main thread). The returned
 * design behaves exactly as `design` while `design` behaves.
 */
export const guardDesign = (design: Design, beat?: Heartbeat): Design => {
  let step: number | undefined;
  let guest: number | undefined;
  let op: unknown;
  let config: HostConfig | undefined;

  const here = (call: Call): Where => {
    let opText: string | undefined;
    try {
      opText = op === undefined ? undefined : JSON.stringify(op);
    } catch {}
    return {
      call,
      ...(step === undefined ? {} : { step }),
      ...(guest === undefined ? {} : { guest }),
      ...(opText === undefined ? {} : { op: opText }),
    };
  };

  /** Run `f` as design call `call`; `check` judges its result. */
  const run = <R>(call: Call, f: () => R, check?: (r: R) => string | undefined): R => {
    beat?.enter(call, step, guest, op);
    let r: R;
    try {
      r = f();
    } catch (e) {
      beat?.leave();
      if (e instanceof DesignFault) throw e;
      throw new DesignFault('threw', thrownText(e), here(call));
    }
    beat?.leave();
    const p = check?.(r);
    if (p !== undefined) throw new DesignFault('malformed-state', visible(p), here(call));
    return r;
  };

  const host = (h: unknown) => (config ? hostMachineProblem(h, config) : undefined);
  /** Note where a call stands from its host argument; `o`, the operation of the step starting. */
  let opStep: number | undefined;
  const at = (h: HostMachine, o?: unknown) => {
    const p = position(h);
    step = p.step;
    guest = p.guest;
    if (o !== undefined) {
      op = o;
      opStep = step;
    } else if (step !== opStep) op = undefined;
    if (isObject(h) && isObject(h.config)) config ??= h.config as unknown as HostConfig;
  };

  /** A callback (a hardware port): the model calls it inside a step, on its hot path. */
  const callback =
    (f: (...args: unknown[]) => unknown) =>
    (...args: unknown[]): unknown => {
      const before = beat?.mark('hardware callback') ?? 0;
      let r: unknown;
      try {
        r = f(...args);
      } catch (e) {
        // A port signals a VM exit or a fault by throwing it (model/exec.ts): the model catches those.
        if (e instanceof DesignFault || isVmExit(e) || isFault(e)) {
          beat?.unmark(before);
          throw e;
        }
        throw new DesignFault('threw', thrownText(e), here('hardware callback'));
      }
      beat?.unmark(before);
      return r;
    };

  /** Every function-valued field of a callback record, wrapped (one level deep: ExitControls, ports). */
  const callbacks = <T>(x: T): T => {
    if (!isObject(x)) return x;
    if (Array.isArray(x)) return x;
    const out: Record<string, unknown> = { ...x };
    for (const [k, v] of Object.entries(x)) {
      if (typeof v === 'function') out[k] = callback(v as (...args: unknown[]) => unknown);
      else if (isObject(v) && !Array.isArray(v) && Object.values(v).some((y) => typeof y === 'function'))
        out[k] = callbacks(v);
    }
    return out as T;
  };

  const network = design.network;
  const guarded: Design = {
    ...design,
    name: visible(design.name),
    description: visible(design.description),
    init: (h) => {
      config = h.config;
      step = undefined;
      guest = undefined;
      op = undefined;
      opStep = undefined;
      return run('init', () => design.init(h), host);
    },
    hardware: (h) => {
      at(h);
      return callbacks(
        run(
          'hardware',
          () => design.hardware(h),
          (r) => (isObject(r) ? undefined : `hardware is ${typeof r}`),
        ),
      );
    },
    load: (h, g, vcpu) => {
      at(h);
      return run(
        'load',
        () => design.load(h, g, vcpu),
        (c) => cpuProblem(c, 'the loaded CPU'),
      );
    },
    save: (h, g, real, vcpu) => {
      at(h);
      return run(
        'save',
        () => design.save(h, g, real, vcpu),
        (c) => cpuProblem(c, 'the saved vCPU'),
      );
    },
    dispatch: (h, o) => {
      at(h, o);
      return run(
        'dispatch',
        () => design.dispatch(h, o),
        (r) =>
          r === 'native' || r === 'hypervisor' ? undefined : `dispatch answered ${JSON.stringify(r) ?? typeof r}`,
      );
    },
    handle: (h, entry) => {
      at(h, isObject(entry) ? entry.op : undefined);
      return run('handle', () => design.handle(h, entry), host);
    },
    afterNative: (h) => {
      at(h);
      return run('afterNative', () => design.afterNative(h), host);
    },
    tag: (h, g) => {
      at(h);
      return run(
        'tag',
        () => design.tag(h, g),
        (t) => (Number.isInteger(t) && t >= 0 && t <= 0xffff ? undefined : `tag is ${String(t)}, not a VPID 0..65535`),
      );
    },
    switchTo: (h, to) => {
      at(h);
      return run('switchTo', () => design.switchTo(h, to), host);
    },
    ...(network
      ? {
          network: {
            ...network,
            init: (d, h) => {
              at(h);
              return run('network', () => network.init(d, h), host);
            },
            transmit: (d, h, g, address) => {
              at(h);
              return run('network', () => network.transmit(d, h, g, address), host);
            },
            receive: (d, h, frame) => {
              at(h);
              return run('network', () => network.receive(d, h, frame), host);
            },
            configure: (d, h, g) => {
              at(h);
              return run('network', () => network.configure(d, h, g), host);
            },
          },
        }
      : {}),
  };
  return guarded;
};
