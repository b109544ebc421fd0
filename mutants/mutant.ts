/**
 * What a mutant is (DESIGN.md §3, "Mutants"): a design with one deliberate, realistic flaw, a
 * small change to one correct preset, tied to the real bug class it stands for and to the
 * property that must catch it, with the length of the shortest counterexample derived by hand.
 *
 * Mutants live at two levels: the hosted machine (a `Design`, checked by properties/check.ts)
 * and the system-call level (checked by that level's own runner). A level-specific mutant
 * supplies its `check`; the catalog's runner (`runMutant`) treats both alike.
 */
import type fc from 'fast-check';
import type { Scenario } from '../generators/host.ts';
import type { Design } from '../model/host/design.ts';

/** The part of the machine a mutant's flaw is in. */
export type MutantArea =
  | 'cpu'
  | 'shadow'
  | 'ept'
  | 'tlb'
  | 'iommu'
  | 'interrupts'
  | 'devices'
  | 'network'
  | 'efficiency'
  | 'containers'
  | 'api-translation';

/** One property's verdict on a mutant, as a level's runner reports it. */
export interface MutantVerdict {
  readonly property: string;
  readonly status: 'passed' | 'failed';
  /** Runs tried (to the first failure, when failed). */
  readonly runs: number;
  /** For a failure: operations in the shrunk counterexample. */
  readonly shrunkLength?: number;
  /** For a failure: the checker's one-line message and its readable trace. */
  readonly message?: string;
  readonly rendering?: string;
  /** For a failure: the correct base passes the same shrunk counterexample (where the level can replay it). */
  readonly distinguishing?: boolean;
}

/** How a mutant is checked: a hosted-machine design, or a level's own runner. */
export type MutantTarget =
  | {
      readonly level: 'machine';
      readonly design: Design;
      /** Scenarios that can show the flaw, where the default ones cannot (network cards: generators/net.ts). */
      readonly scenarios?: () => fc.Arbitrary<Scenario>;
    }
  | {
      readonly level: 'syscall';
      /** Check the named property with `runs` generated sequences from `seed`. */
      readonly check: (
        property: string,
        options: { readonly seed: number; readonly runs: number; readonly onFirstFailure?: () => void },
      ) => MutantVerdict;
    };

export interface Mutant {
  /** Unique, kebab-case: `<base>-<flaw>`. */
  readonly name: string;
  /** The correct preset this is one change to. */
  readonly base: string;
  readonly area: MutantArea;
  /** One line: the flaw, in the domain's words. */
  readonly bugClass: string;
  /** The real bug it stands for: a CVE, a Xen security advisory, or a paper. */
  readonly reference: string;
  /** The property that must catch it. */
  readonly property: string;
  /** Operations in the shortest counterexample, derived by hand (see `minimalWhy`). */
  readonly minimalLength: number;
  /** The hand derivation of `minimalLength`: the operations, and why none can be left out. */
  readonly minimalWhy: string;
  readonly target: MutantTarget;
}
