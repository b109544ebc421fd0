/**
 * A replayed counterexample, step by step: the operation and its guest, how the design ran it and
 * what the guest saw change, what the reference permitted from the guest's bare-metal states
 * (followed as a frontier, as the equivalence property does), the translation of the address it
 * accessed, and the divergence marked. Text made from the trace record (properties/record/), which
 * `replay --reporter json` and `replay --html` give as they are.
 */
import type { Scenario } from '../generators/host.ts';
import type { Design } from '../model/host/design.ts';
import type { PropertyFailure } from '../properties/property.ts';
import { recordTrace } from '../properties/record/machine.ts';
import { replayText } from '../properties/record/text.ts';
import type { TraceRecord } from '../properties/record/types.ts';

/** The trace record of a replay and its text. */
export const replayTrace = (
  design: Design,
  scenario: Scenario,
  failure: PropertyFailure | undefined,
  property?: string,
): { readonly trace: TraceRecord; readonly rendering: string } => {
  const trace = recordTrace(design, scenario, failure, property);
  return { trace, rendering: replayText(trace) };
};

/** The trace of `scenario` under `design`, up to and including `failure.step` (all steps when it holds). */
export const renderReplay = (design: Design, scenario: Scenario, failure: PropertyFailure | undefined): string =>
  replayTrace(design, scenario, failure).rendering;
