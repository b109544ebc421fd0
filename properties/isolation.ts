/**
 * Isolation (non-interference, DESIGN.md §4): each guest's observations are the same whether the
 * other guests run their operations or run no-ops in their place (the schedule, and so every
 * guest switch, is kept). An observation is the guest's architectural view after each of its
 * own operations.
 */
import { formatOp, type Op, sameArchitecturalState } from '../model/index.ts';
import { diffMachines, renderDiff } from './diff.ts';
import { withDeclaredChannels } from './network/isolation.ts';
import type { Property } from './property.ts';
import { runScenario, viewAfter } from './trace.ts';

/** What another guest runs in the second run: an operation that touches nothing shared. */
const NO_OP: Op = { kind: 'movImm', dst: 0, imm: 0 };

export const isolation: Property = {
  name: 'isolation',
  description: 'nothing one guest does changes what another guest observes (non-interference)',
  check: (design, scenario, trace) => {
    if (scenario.guests.length < 2) return undefined;
    for (let g = 0; g < scenario.guests.length; g++) {
      if (!scenario.ops.some((o) => o.guest === g)) continue;
      const alone = runScenario(
        design,
        scenario,
        withDeclaredChannels(
          trace,
          g,
          scenario.ops.map((o) => (o.guest === g ? o : { guest: o.guest, op: NO_OP })),
        ),
      );
      for (let i = 0; i < trace.steps.length; i++) {
        const s = trace.steps[i]!;
        if (s.guest !== g) continue;
        const a = viewAfter(trace, s);
        const b = viewAfter(alone, alone.steps[i]!);
        if (!sameArchitecturalState(a, b)) {
          const d = diffMachines(b, a);
          const culprit = scenario.ops.slice(0, i).filter((o) => o.guest !== g);
          return {
            step: i,
            guest: g,
            message: `after ${formatOp(s.op)}, guest ${g} sees something that depends on other guests' operations (${culprit.map((o) => `guest ${o.guest}: ${formatOp(o.op)}`).join('; ')}): ${renderDiff(d, 'alone', 'with them')}`,
            expected: d.map((x) => `${x.field} ${x.a}`).join(', '),
            actual: d.map((x) => `${x.field} ${x.b}`).join(', '),
          };
        }
      }
    }
    return undefined;
  },
};
