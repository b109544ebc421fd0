/**
 * A design under guard: every function of a design (and of its network back end) is wrapped so
 * that (1) the worker's heartbeat says which call runs, at which step, on which operation; (2) anything it throws, Error or not, becomes a `DesignFault` naming the call
 * and the step; (3) what it returns is checked against the hosted machine's own invariants
 * (model/host/invariants.ts) before the model uses it. The design's name is shown escaped (it is
 * text from the user's file). Built-in designs run under the same guard.
 */

import { cpuProblem, hostMachineProblem } from '../model/host/invariants.ts';
import type { HostConfig } from '../model/host/layout.ts';
import type { Cpu, Design, Hardware, HostMachine } from '../model/index.ts';
import type { SyscallDesign } from '../model/syscall/designs.ts';
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
 * design behaves exactly as `design` while `design` behaves. Written for the hot path (every step
 * calls a design several times): no allocation per call but the design's own.
 *
 * The callbacks a design hands the hardware (its physical port, exit controls) are not wrapped:
 * the model calls them on every memory access, and signals VM exits and faults through them by
 * throwing. Something else thrown there reaches the worker as an error, and the heartbeat still
 * says at which step and operation.
 */
export const guardDesign = (design: Design, beat?: Heartbeat): Design => {
  let step = -1;
  let guest = -1;
  let op: unknown;
  let opStep = -1;
  let config: HostConfig | undefined;

  const here = (call: Call): Where => {
    let opText: string | undefined;
    try {
      opText = op === undefined ? undefined : JSON.stringify(op);
    } catch {}
    return {
      call,
      ...(step < 0 ? {} : { step }),
      ...(guest < 0 ? {} : { guest }),
      ...(opText === undefined ? {} : { op: opText }),
    };
  };

  /** A call starts: where it stands, from its host argument (the host counts the operations it ran). */
  const enter = (call: Call, h: HostMachine, o?: unknown): void => {
    const c = isObject(h) ? (h as { counters?: { ops?: unknown } }).counters : undefined;
    step = typeof c?.ops === 'number' ? c.ops : -1;
    guest = isObject(h) && typeof h.current === 'number' ? h.current : -1;
    if (o !== undefined) {
      op = o;
      opStep = step;
    } else if (step !== opStep) op = undefined;
    if (config === undefined && isObject(h) && isObject(h.config)) config = h.config;
    beat?.enter(call, step < 0 ? undefined : step, guest < 0 ? undefined : guest, op);
  };
  const threw = (call: Call, e: unknown): DesignFault => {
    beat?.leave();
    return e instanceof DesignFault ? e : new DesignFault('threw', thrownText(e), here(call));
  };
  const broken = (call: Call, problem: string): DesignFault =>
    new DesignFault('malformed-state', visible(problem), here(call));
  /** A host the design returned, checked against the one it was given (sound: the model made it, or it was checked). */
  const host = (call: Call, r: HostMachine, before: HostMachine): HostMachine => {
    beat?.leave();
    const p = config === undefined ? undefined : hostMachineProblem(r, config, before);
    if (p !== undefined) throw broken(call, p);
    return r;
  };
  const cpu = (call: Call, r: Cpu, what: string): Cpu => {
    beat?.leave();
    const p = cpuProblem(r, what);
    if (p !== undefined) throw broken(call, p);
    return r;
  };

  const network = design.network;
  const net = (h: HostMachine, f: () => HostMachine): HostMachine => {
    enter('network', h);
    let r: HostMachine;
    try {
      r = f();
    } catch (e) {
      throw threw('network', e);
    }
    return host('network', r, h);
  };
  return {
    ...design,
    name: visible(design.name),
    description: visible(design.description),
    init: (h) => {
      config = h.config;
      op = undefined;
      opStep = -1;
      enter('init', h);
      let r: HostMachine;
      try {
        r = design.init(h);
      } catch (e) {
        throw threw('init', e);
      }
      return host('init', r, h);
    },
    hardware: (h) => {
      enter('hardware', h);
      let r: Hardware;
      try {
        r = design.hardware(h);
      } catch (e) {
        throw threw('hardware', e);
      }
      beat?.leave();
      if (!isObject(r) || typeof r.physical !== 'function')
        throw broken('hardware', `hardware is ${isObject(r) ? 'an object without a physical port' : typeof r}`);
      return r;
    },
    load: (h, g, vcpu) => {
      enter('load', h);
      let r: Cpu;
      try {
        r = design.load(h, g, vcpu);
      } catch (e) {
        throw threw('load', e);
      }
      return cpu('load', r, 'the loaded CPU');
    },
    save: (h, g, real, vcpu) => {
      enter('save', h);
      let r: Cpu;
      try {
        r = design.save(h, g, real, vcpu);
      } catch (e) {
        throw threw('save', e);
      }
      return cpu('save', r, 'the saved vCPU');
    },
    dispatch: (h, o) => {
      enter('dispatch', h, o);
      let r: 'native' | 'hypervisor';
      try {
        r = design.dispatch(h, o);
      } catch (e) {
        throw threw('dispatch', e);
      }
      beat?.leave();
      if (r !== 'native' && r !== 'hypervisor')
        throw broken('dispatch', `dispatch answered ${describe(r)}, not native or hypervisor`);
      return r;
    },
    handle: (h, entry) => {
      enter('handle', h, isObject(entry) ? entry.op : undefined);
      let r: HostMachine;
      try {
        r = design.handle(h, entry);
      } catch (e) {
        throw threw('handle', e);
      }
      return host('handle', r, h);
    },
    afterNative: (h, o) => {
      enter('afterNative', h);
      let r: HostMachine;
      try {
        // The operation that ran natively goes on (direct paging's PV kernel reads PTEs with pte_val()).
        r = design.afterNative(h, o);
      } catch (e) {
        throw threw('afterNative', e);
      }
      return host('afterNative', r, h);
    },
    tag: (h, g) => {
      enter('tag', h);
      let r: number;
      try {
        r = design.tag(h, g);
      } catch (e) {
        throw threw('tag', e);
      }
      beat?.leave();
      if (!Number.isInteger(r) || r < 0 || r > 0xffff)
        throw broken('tag', `tag is ${describe(r)}, not a VPID 0..65535`);
      return r;
    },
    switchTo: (h, to) => {
      enter('switchTo', h);
      let r: HostMachine;
      try {
        r = design.switchTo(h, to);
      } catch (e) {
        throw threw('switchTo', e);
      }
      return host('switchTo', r, h);
    },
    ...(network
      ? {
          network: {
            ...network,
            init: (d, h) => net(h, () => network.init(d, h)),
            transmit: (d, h, g, address) => net(h, () => network.transmit(d, h, g, address)),
            receive: (d, h, frame) => net(h, () => network.receive(d, h, frame)),
            configure: (d, h, g) => net(h, () => network.configure(d, h, g)),
          },
        }
      : {}),
  };
};

/**
 * A system-call-level design under guard: its boot, call and kernels report to `beat` (which
 * function, at which step: the number of calls made since boot, on which guest) and anything they
 * throw becomes a `DesignFault` naming the function and the step. What they return is the design's
 * own world, opaque to the model, and is not checked.
 */
export const guardSyscallDesign = <W>(design: SyscallDesign<W>, beat?: Heartbeat): SyscallDesign<W> => {
  let step = -1;
  const run = <R>(call: Call, guest: number | undefined, op: unknown, f: () => R): R => {
    beat?.enter(call, step < 0 ? undefined : step, guest, op);
    try {
      const r = f();
      beat?.leave();
      return r;
    } catch (e) {
      beat?.leave();
      throw e instanceof DesignFault
        ? e
        : new DesignFault('threw', thrownText(e), {
            call,
            ...(step < 0 ? {} : { step }),
            ...(guest === undefined ? {} : { guest }),
          });
    }
  };
  return {
    ...design,
    name: visible(design.name),
    description: visible(design.description),
    boot: (guests) => {
      step = 0;
      return run('boot', undefined, undefined, () => design.boot(guests));
    },
    call: (w, g, c) => {
      const r = run('call', g, c, () => design.call(w, g, c));
      step++;
      return r;
    },
    kernels: (w) => run('kernels', undefined, undefined, () => design.kernels(w)),
  };
};
