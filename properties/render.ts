/** A counterexample's trace, step by step, with the first divergence marked: what a person reads. */
import type { Scenario } from '../generators/host.ts';
import { type Design, formatEflags, formatOp, hex, REGISTER_NAMES } from '../model/index.ts';
import type { PropertyFailure } from './property.ts';
import { runScenario, viewAfter } from './trace.ts';

/** Render the scenario's run under `design`, marking the failing step. */
export const renderTrace = (design: Design, scenario: Scenario, failure: PropertyFailure): string => {
  const trace = runScenario(design, scenario);
  const lines: string[] = [];
  lines.push(`design ${design.name}; ${scenario.guests.length} guest(s)`);
  scenario.guests.forEach((g, i) => {
    lines.push(`  guest ${i} boots at CPL ${g.cpl}, ${formatEflags(g.eflags | 2)}, CR0.WP=${g.wp ? 1 : 0}`);
  });
  for (const s of trace.steps) {
    const v = viewAfter(trace, s);
    const how =
      s.ran.kind === 'native'
        ? 'ran natively'
        : s.ran.kind === 'call'
          ? 'handed to the hypervisor'
          : `trapped (${s.ran.exit.reason}${s.ran.exit.reason === 'exception' ? ` #${s.ran.exit.vector}` : ''})`;
    const regs = REGISTER_NAMES.map((n, i) => `${n.toUpperCase()}=${hex(v.cpu.regs[i]!)}`).join(' ');
    const mark = s.index === failure.step ? '  <-- first divergence' : '';
    lines.push(`${String(s.index).padStart(3)}  guest ${s.guest}  ${formatOp(s.op).padEnd(34)} ${how}${mark}`);
    lines.push(
      `       guest sees CPL ${v.cpu.cpl} CS=${hex(v.cpu.cs, 4)} ${formatEflags(v.cpu.eflags)} ${regs} ESP=${hex(v.cpu.esp)}`,
    );
    if (s.index === failure.step) {
      lines.push(`       ${failure.message}`);
      if (failure.expected) lines.push(`       permitted: ${failure.expected}`);
      if (failure.actual) lines.push(`       produced:  ${failure.actual}`);
      break;
    }
  }
  return lines.join('\n');
};
