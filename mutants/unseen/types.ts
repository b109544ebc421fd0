/**
 * The shape of an unseen mutant: a one-change flawed design written by an outside user from the
 * README, DESIGN.md and the public design API alone (issue 20, "Measuring generality honestly"),
 * with what it should fail, why, and a hand-built witness of the shortest counterexample.
 *
 * FROZEN: nothing under mutants/unseen/ changes after its first commit (a checker hook verifies it).
 */
import type {
  checkSyscallScenario,
  Design,
  PropertyName,
  Scenario,
  SyscallPropertyName,
  syscall,
} from '../../index.ts';

/** A system-call-level scenario (the type `checkSyscallScenario` takes). */
export type SyscallScenario = Parameters<typeof checkSyscallScenario>[2];

/** One guest of a machine-level scenario. */
export type GuestSpec = Scenario['guests'][number];

/** What every unseen mutant says about itself. */
interface UnseenCommon {
  /** Unique, kebab-case, starting with its base preset's name. */
  readonly name: string;
  /** The correct preset it changes in one place. */
  readonly base: string;
  /** Where the flaw lives (CPU, shadow paging, TLB, interrupts, devices, IOMMU / DMA, network, efficiency, system calls). */
  readonly area: string;
  /** The bug class, in a few words. */
  readonly bugClass: string;
  /** A real-world instance or the document that states the rule broken; absent when none is known. */
  readonly reference?: string;
  /** The flaw, in one or two sentences. */
  readonly flaw: string;
  /** Operations (or calls) in the shortest counterexample, derived by hand. */
  readonly minimal: number;
  /** Why no shorter sequence shows the flaw, and which property sees the witness. */
  readonly minimalWhy: string;
}

/** A mutant of the machine level: run on scenarios of guests and operations (`network`: guests with cards). */
export interface UnseenMachineMutant extends UnseenCommon {
  readonly level: 'machine' | 'network';
  readonly design: Design;
  /** The property that should catch it. */
  readonly property: PropertyName;
  /** A scenario of `minimal` operations, built by hand, on which the flaw shows. */
  readonly witness: Scenario;
}

/** A mutant of the system-call level. */
export interface UnseenSyscallMutant extends UnseenCommon {
  readonly level: 'syscall';
  readonly design: syscall.SyscallDesign;
  readonly property: SyscallPropertyName;
  readonly witness: SyscallScenario;
}

export type UnseenMutant = UnseenMachineMutant | UnseenSyscallMutant;

/** The default geometry (4 x 4 linear pages, 32 frames, 16 words per page), which every witness uses. */
export const GEOMETRY = Object.freeze({ dirEntries: 4, tableEntries: 4, frames: 32, wordsPerPage: 16 });

/** P | R/W | U/S: an ordinary present, writable, user entry. */
export const PRESENT_RW_USER = 0x7;
/** P | R/W | U/S | A | D: an entry the processor has already used for a write (no accessed/dirty update left to make). */
export const USED_RW_USER = 0x67;

/**
 * A guest booted with the standard layout (model/boot.ts): CPL 0, EFLAGS 0x2 (IF = 0), CR0.WP = 1,
 * registers 0, every window PTE and PDE present, writable and user (the system page stays
 * supervisor), no devices and no card, unless `patch` says otherwise.
 */
export const guest = (patch: Partial<GuestSpec> = {}): GuestSpec => ({
  cpl: 0,
  eflags: 0,
  wp: true,
  ts: false,
  regs: [0, 0, 0, 0],
  pteFlags: new Array(GEOMETRY.dirEntries * GEOMETRY.tableEntries).fill(PRESENT_RW_USER),
  pdeFlags: new Array(GEOMETRY.dirEntries).fill(PRESENT_RW_USER),
  ...patch,
});
