/** A counterexample's trace, step by step, with the first divergence marked: what a person reads. */
import type { Scenario } from '../generators/host.ts';
import type { Design } from '../model/index.ts';
import type { PropertyFailure } from './property.ts';
import { recordTrace } from './record/machine.ts';
import { checkText } from './record/text.ts';

/** Render the scenario's run under `design`, marking the failing step (made from its trace record). */
export const renderTrace = (design: Design, scenario: Scenario, failure: PropertyFailure): string =>
  checkText(recordTrace(design, scenario, failure));
