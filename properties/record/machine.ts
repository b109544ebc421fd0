/**
 * The trace record of a hosted-machine scenario (with or without a network): the run, step by step,
 * with what the reference permitted (its states followed as a frontier, as equivalence does), the
 * translation of the accessed address, the real TLB before and after, what changed for the guest and
 * in host memory, and the network beside the ideal switch. Built once per counterexample; every
 * rendering (text, JSON, HTML) reads it.
 */
import type { Scenario } from '../../generators/host.ts';
import {
  type Design,
  type DmaEngine,
  differingFrames,
  dmaMsiMessage,
  formatEflags,
  formatOp,
  frameWords,
  guestView,
  type HostMachine,
  type HowRan,
  hex,
  hypercallsOf,
  type Machine,
  type Nic,
  type Outcome,
  PAGE_SIZE,
  peekWord,
  REGISTER_NAMES,
  sameArchitecturalState,
} from '../../model/index.ts';
import { diffMachines } from '../diff.ts';
import { advanceFrontier } from '../frontier.ts';
import { atBoundary, idealDeliveries, withArrivals } from '../network/equivalence.ts';
import type { PropertyFailure } from '../property.ts';
import { runScenario, type Trace, viewAfter } from '../trace.ts';
import { ownerOf } from './owner.ts';
import { accessRecord, tlbEntryRecord } from './translation.ts';
import {
  type FieldChange,
  type FieldValue,
  type FrameRecord,
  type HostWordChange,
  type NetworkRecord,
  type RanRecord,
  type ReferenceRecord,
  type StepRecord,
  type TlbRecord,
  TRACE_FORMAT,
  TRACE_VERSION,
  type TraceRecord,
} from './types.ts';

/** Distinct permitted behaviours listed per step (the rest are counted). */
const SHOWN_BEHAVIOURS = 3;
/** Guest-visible changes recorded per step. */
const CHANGES_LIMIT = 12;
/** Host memory words recorded per step. */
const HOST_WORDS_LIMIT = 32;

/** A design's choices, by axis. */
export const designFacts = (d: Design): FieldValue[] => {
  const a = d.axes;
  const out: FieldValue[] = [
    { name: 'CPU', value: a.cpu },
    { name: 'MMU', value: a.mmu },
    { name: 'TLB', value: a.tlb },
    { name: 'I/O', value: a.io ?? 'emulated' },
  ];
  if (a.io === 'passthrough' || a.io === 'sriov') {
    out.push({ name: 'DMA remapping', value: a.iommu === false ? 'off' : 'on' });
    out.push({ name: 'interrupt remapping', value: a.interruptRemapping === false ? 'off' : 'on' });
  }
  if (a.net) out.push({ name: 'network', value: a.net });
  if (a.netPolicy)
    for (const [k, v] of Object.entries(a.netPolicy)) if (v !== undefined) out.push({ name: `policy ${k}`, value: v });
  return out;
};

/** What software can read of a machine's processor, field by field. */
const cpuFields = (m: Machine): FieldValue[] => {
  const c = m.cpu;
  return [
    { name: 'CPL', value: String(c.cpl) },
    { name: 'CS', value: hex(c.cs, 4) },
    { name: 'EIP', value: hex(c.eip) },
    { name: 'SS', value: hex(c.ss, 4) },
    { name: 'ESP', value: hex(c.esp) },
    { name: 'EFLAGS', value: formatEflags(c.eflags) },
    ...REGISTER_NAMES.map((n, i) => ({ name: n.toUpperCase(), value: hex(c.regs[i]!) })),
    { name: 'CR0', value: hex(c.cr0) },
    { name: 'CR2', value: hex(c.cr2) },
    { name: 'CR3', value: hex(c.cr3) },
    { name: 'GDTR', value: `${hex(c.gdtr.base)}/${hex(c.gdtr.limit, 4)}` },
    { name: 'IDTR', value: `${hex(c.idtr.base)}/${hex(c.idtr.limit, 4)}` },
    { name: 'LDTR', value: hex(c.ldtr.selector, 4) },
    { name: 'TR', value: hex(c.tr.selector, 4) },
    { name: 'run state', value: c.run },
    { name: 'pending', value: c.pending.length ? c.pending.map((v) => hex(v, 2)).join(' ') : 'none' },
  ];
};

/**
 * The frame on top of the guest's stack after a step in which bare metal delivered `events` (from
 * `before`, reaching `permitted`): named by the last event's shape (SDM Vol. 3A Figure 6-4: error
 * code, EIP, CS, EFLAGS, then ESP and SS when that delivery switched to an inner level's stack), its
 * words read from the design's view and from bare metal's state. A delivery after another one in
 * the same step starts at the first handler's level (no switch to the same level).
 */
const frameRecord = (
  events: Outcome['events'],
  before: Machine,
  permitted: Machine,
  view: Machine,
): FrameRecord | undefined => {
  const last = events[events.length - 1];
  if (last === undefined) return undefined;
  const switched = events.length === 1 && before.cpu.cpl > permitted.cpu.cpl;
  const names = [
    ...(last.errorCode === undefined ? [] : ['error code']),
    'EIP',
    'CS',
    'EFLAGS',
    ...(switched ? ['ESP', 'SS'] : []),
  ];
  const esp = view.cpu.esp;
  return {
    vector: last.vector,
    ss: view.cpu.ss,
    esp,
    words: names.map((name, k) => {
      const at = (esp + 4 * k) >>> 0;
      const value = peekWord(view, at);
      const bare = peekWord(permitted, (permitted.cpu.esp + 4 * k) >>> 0);
      return {
        name,
        at,
        ...(value === undefined ? {} : { value }),
        ...(bare === undefined ? {} : { permitted: bare }),
      };
    }),
  };
};

const frames = (fs: readonly number[]) => `[${fs.map((f) => hex(f)).join(', ')}]`;

const engineFields = (e: DmaEngine | undefined, d: number): FieldValue[] =>
  e === undefined
    ? []
    : [
        { name: `device ${d} ADDRESS`, value: hex(e.address) },
        { name: `device ${d} DATA`, value: hex(e.data) },
        { name: `device ${d} COMMAND`, value: hex(e.command) },
        { name: `device ${d} VECTOR`, value: hex(e.vector, 2) },
        { name: `device ${d} STATUS`, value: hex(e.status, 2) },
        {
          name: `device ${d} job`,
          value: e.job ? `${e.job.toMemory ? 'write' : 'read'} ${hex(e.job.address)}` : 'none',
        },
        // The MSI registers only once written (an engine driven through VECTOR alone shows as before).
        ...(e.msiAddress === undefined && e.msiData === undefined
          ? []
          : [
              { name: `device ${d} MSI ADDRESS`, value: hex(dmaMsiMessage(e).address) },
              { name: `device ${d} MSI DATA`, value: hex(dmaMsiMessage(e).data) },
            ]),
      ];

const nicFields = (n: Nic | undefined): FieldValue[] =>
  n === undefined
    ? []
    : [
        { name: 'card MAC', value: hex(n.mac, 2) },
        { name: 'card CONTROL', value: hex(n.control, 4) },
        { name: 'card receive queue', value: frames(n.rx) },
        { name: 'card transmits', value: String(n.txCount) },
      ];

/** A guest's devices and network card, field by field. */
const ioFields = (m: Machine): FieldValue[] => [
  ...Array.from({ length: m.devices?.length ?? 0 }, (_, d) => engineFields(m.devices![d], d)).flat(),
  ...nicFields(m.nic),
];

/**
 * What differs between two guest machines, named in the guest's terms: registers and memory
 * (properties/diff.ts, the words failure messages use), then devices and the network card.
 */
export const guestChanges = (a: Machine, b: Machine, limit = CHANGES_LIMIT): FieldChange[] => {
  const out: FieldChange[] = diffMachines(a, b, limit).map((d) => ({ field: d.field, before: d.a, after: d.b }));
  const before = new Map(ioFields(a).map((f) => [f.name, f.value]));
  for (const f of ioFields(b)) {
    const was = before.get(f.name) ?? 'absent';
    if (was !== f.value && out.length < limit) out.push({ field: f.name, before: was, after: f.value });
  }
  return out;
};

/** One line of changes, as the text trace prints them. */
export const changesLine = (cs: readonly FieldChange[], limit = 5): string =>
  cs.length === 0
    ? 'no visible change'
    : cs
        .slice(0, limit)
        .map((x) => `${x.field} ${x.before} -> ${x.after}`)
        .join(', ');

const outcomeText = (o: Outcome): string => {
  const ev = o.events
    .map((e) => `#${e.vector}${e.errorCode === undefined ? '' : `(${hex(e.errorCode, 4)})`}`)
    .join(' ');
  return ev ? `${o.status} ${ev}` : o.status;
};

/** The step's hypercalls (direct paging), when the hypervisor ran any part of it. */
const withHypercalls = (r: RanRecord, calls: readonly string[]): RanRecord =>
  r.kind === 'native' || calls.length === 0 ? r : { ...r, hypercalls: calls };

const ranRecord = (ran: HowRan): RanRecord => {
  if (ran.kind === 'native') return { kind: 'native', text: 'ran natively' };
  if (ran.kind === 'call') return { kind: 'call', text: 'handed to the hypervisor' };
  const e = ran.exit;
  const base = {
    kind: 'trap' as const,
    text: `trapped (${e.reason}${e.reason === 'exception' ? ` #${e.vector}` : ''})`,
    reason: e.reason,
    phase: ran.phase,
  };
  switch (e.reason) {
    case 'exception':
      return {
        ...base,
        vector: e.vector,
        ...(e.errorCode === undefined ? {} : { errorCode: e.errorCode }),
        ...(e.address === undefined ? {} : { address: e.address }),
      };
    case 'software-interrupt':
    case 'external-interrupt':
      return { ...base, vector: e.vector };
    case 'ept-violation':
      return { ...base, address: e.address };
    case 'device-interrupt':
      return { ...base, ...(e.vector === undefined ? {} : { vector: e.vector }) };
    default:
      return base;
  }
};

/** The real TLB from `before` to `after`: every entry of either, and what the step did to it. */
const tlbRecord = (design: Design, before: HostMachine, after: HostMachine, g: number): TlbRecord => {
  const key = (e: { tag: number; page: number; frame: number; rights: number; dirty: boolean }) =>
    `${e.tag}/${e.page}/${e.frame}/${e.rights}/${e.dirty}`;
  const old = new Set(before.tlb.entries.map(key));
  const now = new Set(after.tlb.entries.map(key));
  return {
    tag: design.tag(after, g),
    capacity: after.tlb.capacity,
    entries: [
      ...before.tlb.entries.map(
        (e) => ({ ...tlbEntryRecord(before, g, e), change: now.has(key(e)) ? 'kept' : 'dropped' }) as const,
      ),
      ...after.tlb.entries
        .filter((e) => !old.has(key(e)))
        .map((e) => ({ ...tlbEntryRecord(after, g, e), change: 'added' }) as const),
    ],
  };
};

/** The words of host memory that differ between two hosts (only frames whose subtrees differ are read). */
const hostChanges = (a: HostMachine, b: HostMachine, g: number): StepRecord['host'] => {
  const memory: HostWordChange[] = [];
  let more = 0;
  for (const frame of differingFrames(a.memory, b.memory)) {
    const x = new Map(frameWords(a.memory, frame));
    const y = new Map(frameWords(b.memory, frame));
    for (const w of [...new Set([...x.keys(), ...y.keys()])].sort((p, q) => p - q)) {
      const before = x.get(w) ?? 0;
      const after = y.get(w) ?? 0;
      if (before === after) continue;
      const hpa = frame * PAGE_SIZE + w * 4;
      if (memory.length < HOST_WORDS_LIMIT)
        memory.push({ hpa, before: before >>> 0, after: after >>> 0, owner: ownerOf(b.config, hpa, g) });
      else more++;
    }
  }
  return memory.length === 0 ? undefined : { memory, more };
};

/** The network around step `i`: each card against the ideal switch, frames sent and received. */
const networkRecord = (trace: Trace, i: number, before: HostMachine, after: HostMachine): NetworkRecord | undefined => {
  const net = after.net;
  const ideal = trace.ideal?.[i];
  if (!net || !ideal) return undefined;
  const prevWorld = trace.ideal?.[i - 1]?.world.length ?? 0;
  return {
    cards: net.nics.flatMap((n, p) =>
      n === undefined
        ? []
        : [
            {
              guest: p,
              mac: n.mac,
              assigned: net.assigned[p]!,
              promiscuous: (n.control & 1) !== 0,
              rxBefore: before.net?.nics[p]?.rx ?? [],
              rx: n.rx,
              idealRx: ideal.machines[p]?.nic?.rx ?? [],
            },
          ],
    ),
    sent: net.left.slice(before.net?.left.length ?? 0),
    world: net.world.slice(before.net?.world.length ?? 0),
    idealWorld: ideal.world.slice(prevWorld),
    idealDeliveries: ideal.deliveries,
  };
};

/**
 * The trace record of `scenario` under `design`, up to and including `failure.step` (every step
 * when the property holds). `property` names the property that failed, when one did.
 */
export const recordTrace = (
  design: Design,
  scenario: Scenario,
  failure: PropertyFailure | undefined,
  property?: string,
): TraceRecord => {
  const trace = runScenario(design, scenario);
  const network = trace.ideal !== undefined;
  const frontiers: (readonly Machine[])[] = trace.guests.map((m) => [m]);
  // Guests whose cards received frames while they were not running (their next boundary comes first).
  const waiting = trace.guests.map(() => false);
  const steps: StepRecord[] = [];
  let divergence: TraceRecord['divergence'];
  let previous = trace.initial;
  for (const s of trace.steps) {
    const g = s.guest;
    const viewBefore = guestView(design, s.before, g);
    const view = viewAfter(trace, s);
    // The reference: every permitted successor of the guest's bare-metal states (equivalence's frontier).
    const own = network ? idealDeliveries(trace, s.index, g) : [];
    const from = waiting[g] ? frontiers[g]!.map(atBoundary) : frontiers[g]!;
    waiting[g] = false;
    const f = advanceFrontier(from, s.op, view, network ? (m) => withArrivals(m, own, true) : undefined);
    const seen: string[] = [];
    f.successors.forEach((m, k) => {
      const t = `${outcomeText(f.outcomes[k]!)}; ${changesLine(guestChanges(from[0]!, m))}`;
      if (!seen.includes(t)) seen.push(t);
    });
    const reference: ReferenceRecord = {
      behaviours: seen.slice(0, SHOWN_BEHAVIOURS),
      total: seen.length,
      matches: f.next.length > 0,
    };
    const isFailure = failure !== undefined && s.index === failure.step;
    const before = cpuFields(viewBefore);
    const access = accessRecord(design, s.before, g, s.op);
    // Bare metal's behaviour beside the view: the one the view matches, else the canonical one.
    const k = Math.max(
      0,
      f.successors.findIndex((m) => sameArchitecturalState(m, view)),
    );
    const frame = frameRecord(f.outcomes[k]?.events ?? [], from[0]!, f.successors[k] ?? view, view);
    const host = hostChanges(previous, s.after, g);
    const net = networkRecord(trace, s.index, previous, s.after);
    steps.push({
      index: s.index,
      guest: g,
      ...(previous.current !== g ? { switchedFrom: previous.current } : {}),
      op: { kind: s.op.kind, text: formatOp(s.op) },
      ran: withHypercalls(ranRecord(s.ran), hypercallsOf(s.after, g, s.before.counters.ops)),
      state: cpuFields(view).map((x, k) => ({ ...x, changed: x.value !== before[k]!.value })),
      changes: guestChanges(viewBefore, view),
      ...(frame ? { frame } : {}),
      reference,
      ...(access ? { access } : {}),
      tlb: tlbRecord(design, previous, s.after, g),
      ...(host ? { host } : {}),
      ...(net ? { network: net } : {}),
      divergence: isFailure,
    });
    if (isFailure) {
      // Field by field, where the property compares the guest's state with bare metal's.
      const compared = (property === undefined || property === 'equivalence') && !reference.matches;
      const fields = compared
        ? guestChanges(f.successors[0]!, view).map((x) => ({ field: x.field, permitted: x.before, produced: x.after }))
        : [];
      divergence = {
        step: failure.step,
        ...(failure.guest === undefined ? {} : { guest: failure.guest }),
        message: failure.message,
        ...(failure.expected === undefined ? {} : { expected: failure.expected }),
        ...(failure.actual === undefined ? {} : { actual: failure.actual }),
        ...(fields.length > 0 ? { fields } : {}),
      };
      break;
    }
    frontiers[g] = f.next.length > 0 ? f.next : f.successors.slice(0, 1);
    if (network)
      frontiers.forEach((fr, p) => {
        const arrived = p === g ? [] : idealDeliveries(trace, s.index, p);
        if (arrived.length === 0) return;
        frontiers[p] = fr.map((m) => withArrivals(m, arrived, false));
        waiting[p] = true;
      });
    previous = s.after;
  }
  return {
    format: TRACE_FORMAT,
    version: TRACE_VERSION,
    level: network ? 'network' : 'machine',
    design: { name: design.name, description: design.description, facts: designFacts(design) },
    ...(property === undefined ? {} : { property }),
    guests: scenario.guests.map((spec, guest) => ({
      guest,
      facts: [
        { name: 'CPL', value: String(spec.cpl) },
        { name: 'EFLAGS', value: formatEflags(spec.eflags | 2) },
        { name: 'CR0.WP', value: spec.wp ? '1' : '0' },
        { name: 'CR0.TS', value: spec.ts ? '1' : '0' },
        { name: 'registers', value: spec.regs.map((r) => hex(r)).join(' ') },
        ...(spec.devices ? [{ name: 'DMA engines', value: String(spec.devices) }] : []),
        ...(spec.nic === undefined ? [] : [{ name: 'card MAC', value: hex(spec.nic, 2) }]),
      ],
    })),
    operations: scenario.ops.length,
    steps,
    ...(divergence ? { divergence } : {}),
  };
};
