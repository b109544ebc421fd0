/**
 * Exception frames are guest state: a hypervisor that reflects a fault or injects an interrupt must
 * leave in the guest's stack the frame bare metal would (SDM Vol. 3A §6.12.1 Figure 6-4, §6.13,
 * §4.7), and equivalence sees the frame because it is guest memory. Each flaw below is one change
 * to how a correct design built with `composeDesign` reflects or injects an event (through the
 * toolkit's `injectEvent`); each fails equivalence in one operation, and only in the frame's words
 * (the registers agree), which is what modelling the stack made observable. Its correct twin —
 * the same code with the one change undone — passes the same scenario and a few hundred generated
 * ones.
 *
 * Hand-derived facts (model/boot.ts, default geometry): the kernel stack is frame 22 (guest-physical
 * 0x16000) and its top 0x17000; a frame from CPL 3 is SS, ESP, EFLAGS, CS, EIP and, for #PF, the
 * error code, at 0x16FFC down to 0x16FE8; a same-level frame (CPL 0) is EFLAGS, CS, EIP at 0x16FFC
 * down to 0x16FF4. The system page (3,3) is supervisor-only and present.
 */
import {
  bt,
  check,
  checkScenario,
  commitGuest,
  composeDesign,
  type Design,
  type DesignAxes,
  ept,
  guestView,
  type HostMachine,
  type HypervisorEntry,
  injectEvent,
  linear,
  type Op,
  type Scenario,
  shadow,
  standardHandle,
  step,
  TIMER_VECTOR,
} from 'hyperprop';
import { describe, expect, it } from 'vitest';
import { type GuestSpec, plainGuestSpec } from '../../generators/reference.ts';
import { recordTrace } from '../../properties/record/machine.ts';
import { checkText } from '../../properties/record/text.ts';

const IF = 1 << 9;
const ONE_OP = (spec: Partial<GuestSpec>, op: Op): Scenario => ({
  geometry: { dirEntries: 4, tableEntries: 4, frames: 32, wordsPerPage: 16 },
  guests: [{ ...plainGuestSpec(), ...spec }],
  ops: [{ guest: 0, op }],
});

type Exit = Extract<HypervisorEntry, { kind: 'exit' }>;
/** The host a trap restarts from: the one before the operation, with what the real CPU did to the real TLB. */
const restart = (h: HostMachine, e: Exit): HostMachine => ({ ...e.before, tlb: h.tlb });

/**
 * A design that reflects the guest's own page faults of loads and stores itself, by event injection
 * (as a shadow-paging hypervisor does once its walk of the guest's tables fails, KVM's
 * FNAME(page_fault)/inject_page_fault), and hands every other trap to the standard handler.
 * `errorCode` picks the error code it injects: `guest` the guest walk's (correct), `hardware` the
 * one the real #PF on the shadow tables had (the flaw).
 */
const reflecting = (name: string, axes: DesignAxes, errorCode: 'guest' | 'hardware'): Design => {
  const d: Design = composeDesign({
    name,
    description: `reflects the guest's #PF with the ${errorCode} error code`,
    axes,
    handle: (h, e) => {
      if (e.kind === 'exit' && e.exit.reason === 'exception' && e.exit.vector === 14 && !e.exit.during) {
        if (e.op.kind === 'load' || e.op.kind === 'store') {
          const from = restart(h, e);
          // The guest's own semantics on its view say whether this #PF is the guest's (a walk of its tables).
          const own = step(guestView(d, from, from.current), e.op).outcome;
          const pf = own.events[0];
          if (own.status === 'faulted' && pf?.vector === 14 && pf.source === 'exception')
            return injectEvent(d, from, {
              vector: 14,
              type: 'hardware-exception',
              errorCode: errorCode === 'guest' ? (pf.errorCode ?? 0) : (e.exit.errorCode ?? 0),
              address: e.op.va,
            });
        }
      }
      return standardHandle(() => d)(h, e);
    },
  });
  return d;
};

/**
 * A VMX design that injects the timer itself when the guest can take it, `masked`: after clearing
 * the guest's IF in its RFLAGS (the flaw: a hypervisor masking interrupts "for the handler" before
 * injecting, so the frame saves IF = 0), or not (correct); anything else goes to the standard handler.
 */
const injectingTimer = (name: string, masked: boolean): Design => {
  const d: Design = composeDesign({
    name,
    description: `injects the timer${masked ? ' with IF cleared first' : ''}`,
    axes: ept.axes,
    handle: (h, e) => {
      if (e.kind === 'exit' && e.exit.reason === 'external-interrupt') {
        const from = restart(h, e);
        const g = from.current;
        const v = guestView(d, from, g);
        if (v.cpu.eflags & IF && !v.cpu.stiShadow && v.cpu.pending.length === 0 && v.cpu.run !== 'shutdown') {
          const at = masked ? commitGuest(d, from, g, { ...v, cpu: { ...v.cpu, eflags: v.cpu.eflags & ~IF } }) : from;
          return injectEvent(d, at, { vector: TIMER_VECTOR, type: 'external' });
        }
      }
      return standardHandle(() => d)(h, e);
    },
  });
  return d;
};

/**
 * Ring compression bouncing the guest's #UD to its kernel itself. `realEflags`: the bounce frame
 * is built from the real CPU's EFLAGS (IF = 1 and IOPL 0 under ring compression, the flaw Xen's
 * create_bounce_frame guards against by merging the virtual IF), instead of the guest's virtual EFLAGS.
 */
const bouncingUd = (name: string, realEflags: boolean): Design => {
  const d: Design = composeDesign({
    name,
    description: `bounces #UD to the guest kernel${realEflags ? ' with the real EFLAGS' : ''}`,
    axes: bt.axes,
    handle: (h, e) => {
      if (e.kind === 'exit' && e.exit.reason === 'exception' && e.exit.vector === 6 && e.op.kind === 'ud2') {
        const from = restart(h, e);
        const g = from.current;
        const v = guestView(d, from, g);
        const at = realEflags ? commitGuest(d, from, g, { ...v, cpu: { ...v.cpu, eflags: from.cpu.eflags } }) : from;
        return injectEvent(d, at, { vector: 6, type: 'hardware-exception' });
      }
      return standardHandle(() => d)(h, e);
    },
  });
  return d;
};

/** The failure's differing fields are all memory words (what bare metal and the design pushed). */
const onlyFrameWords = (expected: string | undefined) =>
  (expected ?? '').split(', ').every((f) => f.startsWith('memory GPA 0x00016f'));

describe('a wrong #PF error code in a reflected fault fails equivalence', () => {
  // At CPL 3, a store to the supervisor-only system page: the guest's walk finds it present and
  // forbids the user write, error code P | W/R | U/S = 7 (SDM §4.7). The shadow tables start empty,
  // so the real #PF says not present: W/R | U/S = 6. The error code is the frame's lowest word, 0x16FE8.
  const scenario = ONE_OP({ cpl: 3 }, { kind: 'store', va: linear(3, 3), src: 0 });

  it.each([
    ['shadow (VMX)', shadow.axes],
    ['bt (ring compression)', bt.axes],
  ] as const)('%s: the hardware error code (6) where the guest walk says 7, in one operation', (_n, axes) => {
    const f = checkScenario(reflecting('reflect-hw-pfec', axes, 'hardware'), 'equivalence', scenario);
    expect(f?.step).toBe(0);
    expect(f?.message).toContain('memory GPA 0x00016fe8: bare metal 0x00000007, design 0x00000006');
    expect(onlyFrameWords(f?.expected)).toBe(true);
    expect(checkScenario(reflecting('reflect-guest-pfec', axes, 'guest'), 'equivalence', scenario)).toBeUndefined();
  });

  it("the trace record names the frame word by word, the wrong error code beside bare metal's", () => {
    const d = reflecting('reflect-hw-pfec', shadow.axes, 'hardware');
    const f = checkScenario(d, 'equivalence', scenario);
    const t = recordTrace(d, scenario, f, 'equivalence');
    // Hand-derived (model/boot.ts): the kernel stack page is linear (3, 4) = 0x00C04000, its top
    // 0x00C05000; a frame from CPL 3 with an error code is six words, so ESP = 0x00C04FE8. The words
    // from ESP up: the error code, the store's own EIP (the boot EIP 0xFFC00000: a fault saves the
    // faulting instruction), CS = USER_CODE 0x1B, EFLAGS = RF | bit 1 = 0x10002 (a fault, IF = 0),
    // the user stack's top (linear (3, 5) + 4 KiB = 0x00C06000) and SS = USER_DATA 0x23.
    const frame = t.steps[0]!.frame!;
    expect(frame).toMatchObject({ vector: 14, ss: 0x10, esp: 0x00c04fe8 });
    expect(frame.words.map((w) => [w.name, w.at, w.value, w.permitted])).toEqual([
      ['error code', 0x00c04fe8, 6, 7],
      ['EIP', 0x00c04fec, 0xffc00000, 0xffc00000],
      ['CS', 0x00c04ff0, 0x1b, 0x1b],
      ['EFLAGS', 0x00c04ff4, 0x10002, 0x10002],
      ['ESP', 0x00c04ff8, 0x00c06000, 0x00c06000],
      ['SS', 0x00c04ffc, 0x23, 0x23],
    ]);
    expect(t.steps[0]!.state).toContainEqual({ name: 'ESP', value: '0x00c04fe8', changed: true });
    const text = checkText(t);
    expect(text).toContain('ESP=0x00c04fe8');
    expect(text).toContain('frame of #14 at 0x0010:0x00c04fe8: error code 0x00000006 (bare metal 0x00000007), EIP');
  });

  it('the checker finds the flaw and shrinks it to one or two operations; the correct twin passes', () => {
    const flawed = check(reflecting('reflect-hw-pfec', shadow.axes, 'hardware'), {
      properties: ['equivalence'],
      runs: 300,
      seed: 1,
    });
    const found = flawed[0]!.counterexample;
    expect(found).toBeDefined();
    expect(found!.scenario.ops.length).toBeLessThanOrEqual(2);
    const twin = check(reflecting('reflect-guest-pfec', shadow.axes, 'guest'), {
      properties: ['equivalence'],
      runs: 100,
      seed: 1,
    });
    expect(twin[0]!.counterexample).toBeUndefined();
  });
});

describe('a wrong EFLAGS in an injected or reflected frame fails equivalence', () => {
  it('VMX: the timer injected after clearing the guest IF saves IF = 0 where bare metal saves IF = 1', () => {
    // CPL 0, IF = 1: the timer is delivered through the interrupt gate at the same level; the frame's
    // EFLAGS (0x16FFC) is 0x202 on bare metal (IF | bit 1, no RF for an interrupt), 0x002 when masked.
    const scenario = ONE_OP({ eflags: IF }, { kind: 'timer' });
    const f = checkScenario(injectingTimer('inject-masked', true), 'equivalence', scenario);
    expect(f?.step).toBe(0);
    expect(f?.message).toContain('memory GPA 0x00016ffc: bare metal 0x00000202, design 0x00000002');
    expect(onlyFrameWords(f?.expected)).toBe(true);
    expect(checkScenario(injectingTimer('inject', false), 'equivalence', scenario)).toBeUndefined();
  });

  it('ring compression: a #UD bounced with the real EFLAGS (IF = 1) where the guest had IF = 0', () => {
    // CPL 3, IF = 0: UD2 faults to ring 0 on the kernel stack; the frame's EFLAGS (0x16FF4) is
    // RF | bit 1 = 0x10002 on bare metal (a fault: RF set, SDM Vol. 3B §17.3.1.1), 0x10202 with the real IF.
    const scenario = ONE_OP({ cpl: 3 }, { kind: 'ud2' });
    const f = checkScenario(bouncingUd('bounce-real-eflags', true), 'equivalence', scenario);
    expect(f?.step).toBe(0);
    expect(f?.message).toContain('memory GPA 0x00016ff4: bare metal 0x00010002, design 0x00010202');
    expect(onlyFrameWords(f?.expected)).toBe(true);
    expect(checkScenario(bouncingUd('bounce', false), 'equivalence', scenario)).toBeUndefined();
  });

  it('the correct twins pass generated scenarios (their injection and bounce are sound)', () => {
    // bt is not equivalent in user mode (the Red Pill): its twin counts only failures bt itself has not.
    for (const [d, baseline] of [
      [injectingTimer('inject', false), undefined],
      [bouncingUd('bounce', false), bt],
    ] as const) {
      const r = check(d, { properties: ['equivalence'], runs: 100, seed: 3, ...(baseline ? { baseline } : {}) });
      expect(r[0]!.counterexample, d.name).toBeUndefined();
    }
  });
});
