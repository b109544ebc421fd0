/**
 * Text made from a trace record (types.ts): the short trace of a `check` report and the long one of
 * `hyperprop replay`. Pure formatting: every value comes from the record.
 */
import { hex } from '../../model/index.ts';
import { changesLine } from './machine.ts';
import type { AccessRecord, FieldValue, StepRecord, TraceRecord, WalkRecord } from './types.ts';

const fact = (facts: readonly FieldValue[], name: string): string => facts.find((f) => f.name === name)?.value ?? '?';

const divergenceLines = (r: TraceRecord, indent: string): string[] => {
  const d = r.divergence;
  if (!d) return [];
  return [
    `${indent}${d.message}`,
    ...(d.expected ? [`${indent}permitted: ${d.expected}`] : []),
    ...(d.actual ? [`${indent}produced:  ${d.actual}`] : []),
  ];
};

/** The system-call level's trace: each call, its result and its own kernel's, the divergence marked. */
const syscallText = (r: TraceRecord): string => {
  const lines = [
    `design ${r.design.name} (${fact(r.design.facts, 'structure')}); guests: ${r.guests.map((x) => `${x.guest}: quota ${fact(x.facts, 'quota')}, ${fact(x.facts, 'interface')} interface`).join('; ')}`,
  ];
  for (const s of r.steps) {
    const mark = s.divergence ? '>>' : '  ';
    lines.push(
      `${mark} ${String(s.index).padStart(2)}  guest ${s.guest}: ${s.op.text.padEnd(34)} -> ${s.syscall!.result.padEnd(28)} own kernel: ${s.syscall!.reference}`,
    );
  }
  lines.push(`>> ${r.divergence?.message ?? 'the property holds'}`);
  return lines.join('\n');
};

/**
 * The trace a `check` report shows: each step's operation and how the design ran it, what the guest
 * sees after it, the first divergence marked (for the system-call level: each call and its result).
 */
export const checkText = (r: TraceRecord): string => {
  if (r.level === 'syscall') return syscallText(r);
  const lines: string[] = [`design ${r.design.name}; ${r.guests.length} guest(s)`];
  for (const g of r.guests)
    lines.push(
      `  guest ${g.guest} boots at CPL ${fact(g.facts, 'CPL')}, ${fact(g.facts, 'EFLAGS')}, CR0.WP=${fact(g.facts, 'CR0.WP')}`,
    );
  for (const s of r.steps) {
    const sees = (n: string) => s.state.find((x) => x.name === n)?.value ?? '?';
    const regs = ['EAX', 'ECX', 'EDX', 'EBX'].map((n) => `${n}=${sees(n)}`).join(' ');
    const mark = s.divergence ? '  <-- first divergence' : '';
    lines.push(`${String(s.index).padStart(3)}  guest ${s.guest}  ${s.op.text.padEnd(34)} ${s.ran?.text ?? ''}${mark}`);
    lines.push(`       guest sees CPL ${sees('CPL')} CS=${sees('CS')} ${sees('EFLAGS')} ${regs}`);
    if (s.divergence) lines.push(...divergenceLines(r, '       '));
  }
  return lines.join('\n');
};

/** A walk in one line: each entry read, then where it ended. */
export const walkLine = (w: WalkRecord): string => {
  const path = w.entries.map((e) => `${e.name} ${hex(e.value)}`);
  const end = w.end.ok
    ? `${w.end.output.space} ${hex(w.end.output.value)} (${w.end.rights}${w.end.owner ? `; ${w.end.owner.text}` : ''})`
    : w.end.text;
  return `${w.title}: ${[...path, end].join(' -> ')}`;
};

const accessLines = (a: AccessRecord, indent: string): string[] => [
  `${indent}access:    ${a.what}, ${a.address.space} ${hex(a.address.value)}`,
  ...a.walks.map((w) => `${indent}  - ${walkLine(w)}`),
  ...(a.tlbHit
    ? [
        `${indent}  - real TLB (tag ${a.tlbHit.tag}) holds GVA ${hex(a.tlbHit.gva)} -> HPA ${hex(a.tlbHit.hpa)} (${a.tlbHit.rights}): the real CPU uses it`,
      ]
    : []),
  ...(a.mismatch ? [`${indent}  ! ${a.mismatch}`] : []),
];

const replayStep = (s: StepRecord): string[] => {
  const lines = [`${s.divergence ? '>>' : '  '}${String(s.index).padStart(3)}  guest ${s.guest}  ${s.op.text}`];
  lines.push(`         design:    ${s.ran?.text ?? ''}; ${changesLine(s.changes)}`);
  const ref = s.reference;
  if (ref) {
    const more = ref.total > ref.behaviours.length ? ` (+${ref.total - ref.behaviours.length} more)` : '';
    const verdict = ref.matches ? 'the design’s state is among them' : 'the design’s state is NOT among them';
    lines.push(`         reference: ${ref.total} permitted behaviour(s), ${verdict}${more}`);
    for (const t of ref.behaviours) lines.push(`           - ${t}`);
  }
  if (s.access) lines.push(...accessLines(s.access, '         '));
  return lines;
};

/**
 * The trace `hyperprop replay` prints: each step's operation, how the design ran it and what the guest
 * saw change, the behaviours the reference permitted, the translation of the address it accessed,
 * and the first divergence marked with what bare metal permitted and what the design produced.
 */
export const replayText = (r: TraceRecord): string => {
  if (r.level === 'syscall') return syscallText(r);
  const lines: string[] = [`design ${r.design.name}; ${r.guests.length} guest(s)`];
  for (const g of r.guests)
    lines.push(
      `  guest ${g.guest} boots at CPL ${fact(g.facts, 'CPL')}, ${fact(g.facts, 'EFLAGS')}, CR0.WP=${fact(g.facts, 'CR0.WP')}, CR0.TS=${fact(g.facts, 'CR0.TS')}, regs ${fact(g.facts, 'registers')}`,
    );
  for (const s of r.steps) {
    lines.push(...replayStep(s));
    if (s.divergence && r.divergence) {
      const d = r.divergence;
      lines.push(`      ^^ first divergence: ${d.message}`);
      if (d.expected) lines.push(`         permitted: ${d.expected}`);
      if (d.actual) lines.push(`         produced:  ${d.actual}`);
    }
  }
  return lines.join('\n');
};
