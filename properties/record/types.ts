/**
 * The trace record: a counterexample's run, step by step, as plain JSON data. It is built once
 * (properties/record/machine.ts, syscall.ts) and everything a person reads is made from it: the
 * text traces of `check` and `replay`, `replay --reporter json`, and the HTML page of
 * `replay --html`. Nothing in a rendering is computed again from the model.
 *
 * Shapes are generic on purpose: a translation is a list of walks, each a list of entries (as many
 * levels as the format has: two today, four with IA-32e paging); a step names its guest and, when
 * there are several processors, will name its vCPU in a field of its own. New machine features add
 * optional fields; they do not change these.
 */

/** The format tag of a trace record. */
export const TRACE_FORMAT = 'hyperprop-trace';
/** Bumped when a field changes meaning (adding an optional field does not bump it). */
export const TRACE_VERSION = 1;

/** A name and its value as shown (hexadecimal, flags spelled out). */
export interface FieldValue {
  readonly name: string;
  readonly value: string;
}

/** A guest-visible field the step changed: its value before and after. */
export interface FieldChange {
  readonly field: string;
  readonly before: string;
  readonly after: string;
}

/** What bare metal (or the property's invariant) permitted beside what the design produced, for one field. */
export interface FieldVerdict {
  readonly field: string;
  readonly permitted: string;
  readonly produced: string;
}

/** The address spaces a translation goes through. PA: a kernel's own machine (the system-call level). */
export type AddressSpace = 'GVA' | 'GPA' | 'HPA' | 'IOVA' | 'PA';

/** One address of a translation, with the space it is in. */
export interface AddressRecord {
  readonly space: AddressSpace;
  /** Unsigned 32-bit today; a number all the same when addresses grow (IA-32e: up to 2^52 fits a double). */
  readonly value: number;
}

/** Who a host frame belongs to, in the layout's words. */
export interface OwnerRecord {
  readonly kind: 'guest' | 'hypervisor' | 'host';
  readonly guest?: number;
  /** Is it the stepping guest's own frame? */
  readonly own: boolean;
  /** e.g. "guest 1's memory, GPA 0x00003000", "guest 0's shadow page table", "the hypervisor's system page". */
  readonly text: string;
}

/** One paging-structure entry a walk read. */
export interface EntryRecord {
  /** 0 for the root level. */
  readonly level: number;
  /** The SDM's name for the entry at this level of this format (PDE, PTE, EPT PDE, …). */
  readonly name: string;
  /** Index into its table (the address bits of this level). */
  readonly index: number;
  /** Where the entry lives. */
  readonly at: AddressRecord;
  readonly value: number;
  /** The entry's flags by name, e.g. "P RW US A". */
  readonly flags: string;
  /** The next table or the page the entry points at. */
  readonly points: AddressRecord;
  /** How the entry's own address was translated (the EPT walk of a guest table read in VMX non-root mode). */
  readonly via?: WalkRecord;
  /** The owner of the host frame the entry lives in (for entries in host memory). */
  readonly owner?: OwnerRecord;
}

/** Where a walk ended. */
export type WalkEnd =
  | {
      readonly ok: true;
      readonly output: AddressRecord;
      /** The combined rights, by name ("RW US", "R W X"). */
      readonly rights: string;
      readonly owner?: OwnerRecord;
    }
  | {
      readonly ok: false;
      /** What stopped it, in the domain's words ("not present at PTE", "rights: a supervisor page", "EPT violation"). */
      readonly text: string;
      /** The level it stopped at, when a table entry stopped it. */
      readonly level?: number;
    };

/**
 * One translation through one set of tables, made with the model's one walker (model/paging.ts
 * `walk`, which returns the path): the guest's page tables, the shadow tables, EPT, an IOMMU domain;
 * or a translation without tables (DMA remapping off, the guest's memory region).
 */
export interface WalkRecord {
  readonly role: 'guest' | 'shadow' | 'real' | 'ept' | 'iommu' | 'direct' | 'region' | 'kernel';
  /** One line: which tables, e.g. "guest page tables (CR3 0x00002000)". */
  readonly title: string;
  /** The paging format walked (model/paging.ts PagingFormat.name), when tables were walked. */
  readonly format?: string;
  readonly input: AddressRecord;
  readonly root?: AddressRecord;
  readonly entries: readonly EntryRecord[];
  readonly end: WalkEnd;
}

/** The address a step accessed and every translation of it, down to the host frame. */
export interface AccessRecord {
  /** e.g. "data read", "data write", "DMA write by device 0", "INVLPG (no access)". */
  readonly what: string;
  readonly address: AddressRecord;
  readonly write: boolean;
  readonly user: boolean;
  /** In order: the guest's own translation first, then what the hardware really used. */
  readonly walks: readonly WalkRecord[];
  /** A real TLB entry for the page under the running guest's tag: the real CPU uses it and does not walk. */
  readonly tlbHit?: TlbEntryRecord;
  /** When the guest's tables and the real translation disagree: how, in one line. */
  readonly mismatch?: string;
}

/** One entry of the real TLB. */
export interface TlbEntryRecord {
  /** VPID (0: untagged). */
  readonly tag: number;
  /** Linear address of the page. */
  readonly gva: number;
  /** Host-physical address of the frame. */
  readonly hpa: number;
  /** "RW US" and so on (rights combined along the walk). */
  readonly rights: string;
  readonly dirty: boolean;
  readonly owner: OwnerRecord;
}

/** The real TLB around a step: every entry before or after it, and what the step did to it. */
export interface TlbRecord {
  /** The running guest's tag. */
  readonly tag: number;
  readonly capacity: number;
  readonly entries: readonly (TlbEntryRecord & { readonly change: 'kept' | 'added' | 'dropped' })[];
}

/** A word of host memory the step changed. */
export interface HostWordChange {
  readonly hpa: number;
  readonly before: number;
  readonly after: number;
  readonly owner: OwnerRecord;
}

/** How the design ran the step. */
export interface RanRecord {
  readonly kind: 'native' | 'trap' | 'call';
  /** As the text trace says it: "ran natively", "trapped (exception #14)", "handed to the hypervisor". */
  readonly text: string;
  /** For a trap or exit: its reason (`exception`, `instruction`, `ept-violation`, …). */
  readonly reason?: string;
  readonly vector?: number;
  readonly errorCode?: number;
  /** The faulting linear address (#PF) or guest-physical address (EPT violation). */
  readonly address?: number;
  readonly phase?: 'instruction' | 'boundary';
  /** Under direct paging: the hypercalls the guest kernel made for the step, with Xen's answers. */
  readonly hypercalls?: readonly string[];
}

/** What the reference permitted at this step, from the guest's bare-metal states (a frontier). */
export interface ReferenceRecord {
  /** Distinct permitted behaviours, canonical first: outcome and the guest-visible change. */
  readonly behaviours: readonly string[];
  /** How many distinct behaviours there were (behaviours lists the first few). */
  readonly total: number;
  /** Is the design's state among them? */
  readonly matches: boolean;
}

/** A guest's network card and its reference at this step. */
export interface CardRecord {
  readonly guest: number;
  readonly mac: number;
  /** The MAC the administrator assigned its port. */
  readonly assigned: number;
  readonly promiscuous: boolean;
  /** Frames in its receive queue before and after the step, and what the ideal switch left there. */
  readonly rxBefore: readonly number[];
  readonly rx: readonly number[];
  readonly idealRx: readonly number[];
}

/** The network at one step: the design's and the ideal switch's. */
export interface NetworkRecord {
  readonly cards: readonly CardRecord[];
  /** Frames that left a guest's port in this step (the design). */
  readonly sent: readonly { readonly from: number; readonly frame: number }[];
  /** Frames the outside world received in this step: the design's, and the ideal switch's. */
  readonly world: readonly number[];
  readonly idealWorld: readonly number[];
  /** Frames the ideal switch put in guests' cards in this step. */
  readonly idealDeliveries: readonly { readonly guest: number; readonly frame: number }[];
}

/** A call at the system-call level. */
export interface SyscallStepRecord {
  readonly result: string;
  /** What the guest's own kernel alone answered. */
  readonly reference: string;
  readonly agree: boolean;
}

/** One word of an exception or interrupt frame: its name, where it lies, what the guest's stack holds. */
export interface FrameWordRecord {
  /** `error code`, `EIP`, `CS`, `EFLAGS`, `ESP`, `SS` (SDM Vol. 3A Figure 6-4). */
  readonly name: string;
  /** Its linear address (the guest's). */
  readonly at: number;
  /** The word as the design left it, and as bare metal's first permitted state has it (absent: not mapped). */
  readonly value?: number;
  readonly permitted?: number;
}

/**
 * The frame at the top of the guest's stack after a step in which bare metal delivered an event: what
 * the handler reads. Its shape is that of the last event bare metal delivered (an error code or not;
 * the interrupted SS:ESP when that delivery switched stacks); its words are read from the guest's view.
 */
export interface FrameRecord {
  readonly vector: number;
  /** SS:ESP after the step (the design's): where the frame starts. */
  readonly ss: number;
  readonly esp: number;
  /** From ESP upward. */
  readonly words: readonly FrameWordRecord[];
}

/** One step of the run. */
export interface StepRecord {
  readonly index: number;
  readonly guest: number;
  /** The scheduler switched to this guest before the step (from that guest). */
  readonly switchedFrom?: number;
  /** The operation (or call): its kind and as the text trace prints it. */
  readonly op: { readonly kind: string; readonly text: string };
  readonly ran?: RanRecord;
  /** What the guest can read after the step (its view), each marked when the step changed it. */
  readonly state: readonly (FieldValue & { readonly changed: boolean })[];
  /** Guest-visible changes the step made. */
  readonly changes: readonly FieldChange[];
  /** The frame an event's delivery pushed in this step (when bare metal delivered one). */
  readonly frame?: FrameRecord;
  readonly reference?: ReferenceRecord;
  readonly access?: AccessRecord;
  readonly tlb?: TlbRecord;
  /** Host memory the step changed (at most a few dozen words; `more` counts the rest). */
  readonly host?: { readonly memory: readonly HostWordChange[]; readonly more: number };
  readonly network?: NetworkRecord;
  readonly syscall?: SyscallStepRecord;
  /** The first divergence is at this step. */
  readonly divergence: boolean;
}

/** The first divergence: where, and what bare metal permitted beside what the design produced. */
export interface DivergenceRecord {
  readonly step: number;
  readonly guest?: number;
  readonly message: string;
  readonly expected?: string;
  readonly actual?: string;
  /** Field by field, where the property compared states (equivalence). */
  readonly fields?: readonly FieldVerdict[];
}

/** The level a trace was recorded at: the machine, the network, or system calls. */
export type TraceLevel = 'machine' | 'network' | 'syscall';

/** A run, step by step, up to and including the first divergence (every step when the property holds). */
export interface TraceRecord {
  readonly format: typeof TRACE_FORMAT;
  readonly version: typeof TRACE_VERSION;
  readonly level: TraceLevel;
  readonly design: {
    readonly name: string;
    readonly description: string;
    /** Its choices, by axis (CPU, MMU, TLB, I/O, network; a system-call design's structure). */
    readonly facts: readonly FieldValue[];
  };
  readonly property?: string;
  /** Each guest as it boots. */
  readonly guests: readonly { readonly guest: number; readonly facts: readonly FieldValue[] }[];
  /** Operations in the scenario (steps may stop before, at the divergence). */
  readonly operations: number;
  readonly steps: readonly StepRecord[];
  readonly divergence?: DivergenceRecord;
}
