/**
 * Which generator shrinks better: fast-check's model-based testing (`fc.commands`, each guest
 * operation a Command run against the hosted machine and the reference) or this project's own
 * sequence arbitrary (`arbScenario`). Same operations and value biases, same broken design, same
 * seeds; the figures are runs to the first failure and the length fast-check's own shrinking
 * reaches (before hyperprop's 1-minimal post-shrink, which is reported separately).
 *
 *   npm run bench:shrinking -- [--seeds 20] [--budget 3000]
 */
import fc from 'fast-check';
import { arbGuestSpec, arbOp, bootGuest } from '../generators/reference.ts';
import {
  arbScenario,
  checkScenario,
  createHost,
  DEFAULT_GEOMETRY,
  type Design,
  formatOp,
  guestView,
  type HostMachine,
  hostStep,
  type Machine,
  minimizeScenario,
  OP_KINDS,
  type Op,
  permitted,
  type Scenario,
  sameArchitecturalState,
} from '../index.ts';
import { shadowNoInvlpgSync } from '../mutants/mmu.ts';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const seeds = arg('seeds', 20);
const budget = arg('budget', 3000);
const g = DEFAULT_GEOMETRY;

interface Real {
  host: HostMachine;
  frontier: Machine[];
}

/** A guest operation as a fast-check Command: run it on the host and the reference, and compare. */
class GuestOpCommand implements fc.Command<object, Real> {
  constructor(
    readonly design: Design,
    readonly op: Op,
  ) {}
  check = () => true;
  run(_m: object, r: Real) {
    r.host = hostStep(this.design, r.host, this.op);
    const view = guestView(this.design, r.host, 0);
    const next = r.frontier
      .flatMap((m) => permitted(m, this.op).map((s) => s.machine))
      .filter((m) => sameArchitecturalState(m, view));
    if (next.length === 0) throw new Error(`divergence after ${formatOp(this.op)}`);
    r.frontier = next.slice(0, 32);
  }
  toString = () => formatOp(this.op);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const viaCommands = (design: Design, seed: number) => {
  const commands = fc.commands([arbOp(g).map((op) => new GuestOpCommand(design, op) as fc.Command<object, Real>)], {
    maxCommands: 12,
  });
  const details = fc.check(
    fc.property(arbGuestSpec(g, [0, 0, 3]), commands, (spec, cmds) => {
      const m = bootGuest(spec, g);
      fc.modelRun(() => ({ model: {}, real: { host: createHost(design, [m]), frontier: [m] } }), cmds);
    }),
    { seed, numRuns: budget },
  );
  const ce = details.counterexample as [unknown, Iterable<unknown>] | null;
  return { failed: details.failed, runs: details.numRuns, length: ce ? [...ce[1]].length : 0 };
};

const viaScenario = (motifs: boolean) => (design: Design, seed: number) => {
  let shrunk: Scenario | undefined;
  // Passing the kinds explicitly turns motifs off: the same operation distribution as fc.commands.
  const options = { geometry: g, maxGuests: 1, maxOps: 12, ...(motifs ? {} : { kinds: OP_KINDS }) };
  const details = fc.check(
    fc.property(arbScenario(options), (s) => checkScenario(design, 'equivalence', s) === undefined),
    { seed, numRuns: budget },
  );
  if (details.counterexample) shrunk = details.counterexample[0] as Scenario;
  const minimal = shrunk ? minimizeScenario(design, 'equivalence', shrunk) : undefined;
  return {
    failed: details.failed,
    runs: details.numRuns,
    length: shrunk?.ops.length ?? 0,
    minimal: minimal?.ops.length ?? 0,
  };
};

console.log(`design ${shadowNoInvlpgSync.name}, equivalence, seeds 1..${seeds}, budget ${budget}`);
for (const [name, f] of [
  ['fc.commands (arbOp values)', viaCommands],
  ['arbScenario (arbOp values)', viaScenario(false)],
  ['arbScenario (arbOp values + motifs)', viaScenario(true)],
] as const) {
  const rs: { failed: boolean; runs: number; length: number; minimal?: number }[] = [];
  const t0 = process.hrtime.bigint();
  for (let seed = 1; seed <= seeds; seed++) rs.push(f(shadowNoInvlpgSync, seed));
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  const found = rs.filter((r) => r.failed);
  console.log(
    `${name.padEnd(40)} caught ${found.length}/${seeds}; median runs ${found.length ? median(found.map((r) => r.runs)) : '-'}; fast-check-shrunk length median ${found.length ? median(found.map((r) => r.length)) : '-'} (min ${found.length ? Math.min(...found.map((r) => r.length)) : '-'}, max ${found.length ? Math.max(...found.map((r) => r.length)) : '-'})${found[0]?.minimal !== undefined ? `; after hyperprop's post-shrink ${median(found.map((r) => r.minimal!))}` : ''}; ${s.toFixed(1)} s`,
  );
}
