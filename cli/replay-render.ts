/**
 * A replayed counterexample, step by step: the operation and its guest, how the design ran it and
 * what the guest saw change, what the reference permitted from the guest's bare-metal states
 * (followed as a frontier, as the equivalence property does), and the divergence marked.
 */
import type { Scenario } from '../generators/host.ts';
import type { Design } from '../model/host/design.ts';
import {
  formatEflags,
  formatOp,
  guestView,
  hex,
  hypercallsOf,
  type Machine,
  type Outcome,
  permitted,
  sameArchitecturalState,
} from '../model/index.ts';
import { diffMachines } from '../properties/diff.ts';
import type { PropertyFailure } from '../properties/property.ts';
import { runScenario, viewAfter } from '../properties/trace.ts';

const FRONTIER_LIMIT = 32;
const SHOWN = 3;

const changes = (a: Machine, b: Machine): string => {
  const d = diffMachines(a, b, 5);
  return d.length === 0 ? 'no visible change' : d.map((x) => `${x.field} ${x.a} -> ${x.b}`).join(', ');
};

const outcomeText = (o: Outcome): string => {
  const ev = o.events
    .map((e) => `#${e.vector}${e.errorCode === undefined ? '' : `(${hex(e.errorCode, 4)})`}`)
    .join(' ');
  return ev ? `${o.status} ${ev}` : o.status;
};

/** The trace of `scenario` under `design`, up to and including `failure.step` (all steps when it holds). */
export const renderReplay = (design: Design, scenario: Scenario, failure: PropertyFailure | undefined): string => {
  const trace = runScenario(design, scenario);
  const lines: string[] = [`design ${design.name}; ${scenario.guests.length} guest(s)`];
  scenario.guests.forEach((g, i) => {
    lines.push(
      `  guest ${i} boots at CPL ${g.cpl}, ${formatEflags(g.eflags | 2)}, CR0.WP=${g.wp ? 1 : 0}, CR0.TS=${g.ts ? 1 : 0}, regs ${g.regs.map((r) => hex(r)).join(' ')}`,
    );
  });
  const frontiers: Machine[][] = trace.guests.map((m) => [m]);
  for (const s of trace.steps) {
    const g = s.guest;
    const viewBefore = guestView(design, s.before, g);
    const view = viewAfter(trace, s);
    const how =
      s.ran.kind === 'native'
        ? 'ran natively'
        : s.ran.kind === 'call'
          ? 'handed to the hypervisor'
          : `trapped (${s.ran.exit.reason}${s.ran.exit.reason === 'exception' ? ` #${s.ran.exit.vector}` : ''})`;
    const from = frontiers[g]!;
    const successors = from.flatMap((m) => permitted(m, s.op).map((x) => ({ m, x })));
    const matching = successors.filter(({ x }) => sameArchitecturalState(x.machine, view));
    const isFailure = failure !== undefined && s.index === failure.step;
    lines.push(`${isFailure ? '>>' : '  '}${String(s.index).padStart(3)}  guest ${g}  ${formatOp(s.op)}`);
    lines.push(`         design:    ${how}; ${changes(viewBefore, view)}`);
    const calls = s.ran.kind === 'native' ? [] : hypercallsOf(s.after, g, s.before.counters.ops);
    if (calls.length > 0) lines.push(`         hypercalls: ${calls.join('; ')}`);
    const seen = new Set<string>();
    const shown: string[] = [];
    for (const { m, x } of successors) {
      const t = `${outcomeText(x.outcome)}; ${changes(m, x.machine)}`;
      if (seen.has(t)) continue;
      seen.add(t);
      if (shown.length < SHOWN) shown.push(t);
    }
    const more = seen.size > shown.length ? ` (+${seen.size - shown.length} more)` : '';
    const verdict = matching.length > 0 ? 'the design’s state is among them' : 'the design’s state is NOT among them';
    lines.push(`         reference: ${seen.size} permitted behaviour(s), ${verdict}${more}`);
    for (const t of shown) lines.push(`           - ${t}`);
    if (isFailure) {
      lines.push(`      ^^ first divergence: ${failure.message}`);
      if (failure.expected) lines.push(`         permitted: ${failure.expected}`);
      if (failure.actual) lines.push(`         produced:  ${failure.actual}`);
      break;
    }
    const next: Machine[] = [];
    const keep = matching.length > 0 ? matching : successors.slice(0, 1);
    for (const { x } of keep)
      if (next.length < FRONTIER_LIMIT && !next.some((y) => y.tlb === x.machine.tlb)) next.push(x.machine);
    frontiers[g] = next;
  }
  return lines.join('\n');
};
