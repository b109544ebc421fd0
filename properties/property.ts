/** What a property is, and what it says when it fails. */
import type { Scenario } from '../generators/host.ts';
import type { Design } from '../model/index.ts';
import type { Trace } from './trace.ts';

/** The properties every suite runs. */
export type PropertyName = 'equivalence' | 'resource-control' | 'isolation' | 'efficiency';
/** Every machine-level property, in the order suites run them. */
export const PROPERTY_NAMES: readonly PropertyName[] = ['equivalence', 'resource-control', 'isolation', 'efficiency'];

/** Where and how a property failed. */
export interface PropertyFailure {
  /** Index of the operation after which the property was violated. */
  readonly step: number;
  readonly guest?: number;
  /** One line: what went wrong, in the domain's words. */
  readonly message: string;
  /** What bare metal (or the invariant) permitted. */
  readonly expected?: string;
  /** What the design produced. */
  readonly actual?: string;
}

/** A pure predicate over a hosted run. */
export interface Property {
  readonly name: PropertyName;
  readonly description: string;
  /** The first violation, or undefined when the run satisfies the property. */
  readonly check: (design: Design, scenario: Scenario, trace: Trace) => PropertyFailure | undefined;
}
