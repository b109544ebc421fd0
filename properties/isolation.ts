/**
 * Isolation (non-interference, DESIGN.md §4): each guest's observations are the same whether the
 * other guests run their operations or run no-ops in their place (the schedule, and so every
 * guest switch, is kept). An observation is the guest's architectural view after each of its
 * own operations.
 */
import type { Scenario } from '../generators/host.ts';
import { type Design, formatOp, guestView, type Op, sameArchitecturalState } from '../model/index.ts';
import { diffMachines, renderDiff } from './diff.ts';
import { withDeclaredChannels } from './network/isolation.ts';
import type { Property, PropertyFailure } from './property.ts';
import { runHost, type Trace } from './trace.ts';

/** What another guest runs in the second run: an operation that touches nothing shared. */
const NO_OP: Op = { kind: 'movImm', dst: 0, imm: 0 };
const isNoOp = (op: Op) => op.kind === 'movImm' && op.dst === 0 && op.imm === 0;

/**
 * The first observation of a guest that depends on the other guests' operations. `fromStart`
 * re-runs every second run from the initial host (the definition; sharing the recorded prefix
 * is tested to agree with it).
 */
export const checkIsolation = (
  design: Design,
  scenario: Scenario,
  trace: Trace,
  fromStart = false,
): PropertyFailure | undefined => {
  if (scenario.guests.length < 2) return undefined;
  for (let g = 0; g < scenario.guests.length; g++) {
    if (!scenario.ops.some((o) => o.guest === g)) continue;
    const quiet = scenario.ops.map((o) => (o.guest === g || isNoOp(o.op) ? o : { guest: o.guest, op: NO_OP }));
    // With network cards, the frames the ideal switch addresses to g still arrive (declared channels).
    const alone = trace.ideal ? withDeclaredChannels(trace, g, quiet) : quiet;
    // The run with the others' operations replaced is the recorded run up to the first operation
    // it replaced: start there, from the recorded host.
    const first = scenario.ops.findIndex((o, i) => alone[i]!.op !== o.op);
    if (first < 0 && !fromStart) continue;
    const from = fromStart ? 0 : first;
    // Observations end with g's last operation: the second run need not go further.
    let last = scenario.ops.length - 1;
    while (!fromStart && scenario.ops[last]!.guest !== g) last--;
    let failure: PropertyFailure | undefined;
    runHost(
      design,
      from === 0 ? trace.initial : trace.steps[from - 1]!.after,
      alone,
      (i, _before, after) => {
        const s = trace.steps[i]!;
        if (s.guest !== g) return i >= last;
        const a = s.view;
        const b = guestView(design, after, g);
        if (sameArchitecturalState(a, b)) return i >= last;
        const d = diffMachines(b, a);
        const culprit = scenario.ops.slice(0, i).filter((o) => o.guest !== g);
        failure = {
          step: i,
          guest: g,
          message: `after ${formatOp(s.op)}, guest ${g} sees something that depends on other guests' operations (${culprit.map((o) => `guest ${o.guest}: ${formatOp(o.op)}`).join('; ')}): ${renderDiff(d, 'alone', 'with them')}`,
          expected: d.map((x) => `${x.field} ${x.a}`).join(', '),
          actual: d.map((x) => `${x.field} ${x.b}`).join(', '),
        };
        return true;
      },
      from,
    );
    if (failure) return failure;
  }
  return undefined;
};

export const isolation: Property = {
  name: 'isolation',
  description: 'nothing one guest does changes what another guest observes (non-interference)',
  check: (design, scenario, trace) => checkIsolation(design, scenario, trace),
};
