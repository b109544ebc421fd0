/**
 * The design API: what a hypervisor design is. A design is a small value: its choices on each
 * axis (DESIGN.md §3) and pure functions for what the hardware hands the hypervisor. Built-in
 * designs are written with this API and the toolkit beside it (toolkit.ts), exactly as a user's
 * design in their own file would be.
 */
import type { ExitInfo, Hardware } from '../isa.ts';
import type { Op } from '../ops.ts';
import type { Cpu } from '../state.ts';
import type { DirectPagingRules } from './direct-paging.ts';
import type { SourceValidation } from './iommu.ts';
import type { HostMachine } from './machine.ts';
import type { NetworkBackEnd } from './net/backend.ts';

/** How the CPU is virtualized. */
export type CpuVirtualization = 'trap-and-emulate' | 'binary-translation' | 'hardware-assisted' | 'paravirtual';
/**
 * How the MMU is virtualized: shadow page tables; nested paging (EPT); or direct paging (Xen PV:
 * the guest's own tables hold machine frames, read-only to it once they are page tables, changed
 * only by hypercalls the hypervisor validates against per-frame types; direct-paging.ts). Direct
 * paging needs a guest that makes those hypercalls: the `paravirtual` CPU.
 */
export type MmuVirtualization = 'shadow' | 'nested' | 'direct';
/** How the TLB is shared between guests: flushed on every switch, or tagged by VPID. */
export type TlbPolicy = 'flush' | 'vpid';

/**
 * How a guest's devices are virtualized: emulated (every access traps to the hypervisor's device
 * model), paravirtual (virtio-style: a ring shared with the hypervisor's back end, which a notify
 * wakes), passthrough (the guest drives a real device; its DMA goes through the IOMMU and its
 * MSIs through interrupt remapping), or SR-IOV (the same, with a virtual function of one
 * physical function per guest).
 */
export type IoVirtualization = 'emulated' | 'paravirtual' | 'passthrough' | 'sriov';

/**
 * How guests share the physical network card (model/host/net/): a bridge in the hypervisor over
 * the card in promiscuous mode; VMDq (the card sorts frames by MAC into per-guest queues); SR-IOV
 * (a virtual function per guest, switched by the card); Xen's split driver (front ends talk to
 * Dom0's back end, and Dom0 alone drives the card).
 */
export type NetworkVirtualization = 'bridge' | 'vmdq' | 'sriov' | 'xen-split';

/** A virtual switch's security policy setting (VMware vSwitch terms). */
export type PolicySetting = 'reject' | 'accept';

/** The three security policies of a virtual switch; every one is `reject` unless set. */
export interface NetworkPolicy {
  /** May a guest in promiscuous mode see frames addressed to others? */
  readonly promiscuous: PolicySetting;
  /** May a guest that changed its MAC receive frames for its new address? (reject: it receives nothing) */
  readonly macChanges: PolicySetting;
  /** May a guest send frames whose source MAC is not its own? */
  readonly forgedTransmits: PolicySetting;
}

/** How a design virtualizes each part of the machine: CPU, MMU, TLB, devices, IOMMU, interrupts, network. */
export interface DesignAxes {
  readonly cpu: CpuVirtualization;
  readonly mmu: MmuVirtualization;
  readonly tlb: TlbPolicy;
  /** Devices (model/host/io.ts); emulated when absent. */
  readonly io?: IoVirtualization;
  /** For passthrough and SR-IOV: DMA through IOMMU domains (default true). */
  readonly iommu?: boolean;
  /** For passthrough and SR-IOV: MSIs through the interrupt-remapping table (default true). */
  readonly interruptRemapping?: boolean;
  /**
   * With interrupt remapping: the source validation (SVT) of the IRTEs the hypervisor writes
   * (default `requester-id`, SVT = 01 with the assigned function's requester id; `none` is
   * SVT = 00: any requester may use any entry). See model/host/iommu.ts.
   */
  readonly irteSourceValidation?: SourceValidation;
  /** With interrupt remapping: compatibility-format MSIs pass unremapped (GSTS.CFIS; default false: blocked). */
  readonly compatibilityFormatInterrupts?: boolean;
  /** The network (model/host/net/); absent: guests' cards are the hypervisor's models with nothing behind them. */
  readonly net?: NetworkVirtualization;
  /** The network's security policy; any setting left out is `reject`. */
  readonly netPolicy?: Partial<NetworkPolicy>;
}

/** What reaches the hypervisor. */
export type HypervisorEntry =
  /**
   * A trap (ring compression: the hypervisor owns the IDT) or VM exit while `op` ran natively.
   * `before` is the host before the operation; the host the handler receives is the one at the
   * exit. In the `instruction` phase the operation did not complete; in the `boundary` phase it
   * did, and the exit came while delivering a pending interrupt after it.
   */
  | {
      readonly kind: 'exit';
      readonly op: Op;
      readonly exit: ExitInfo;
      readonly phase: 'instruction' | 'boundary';
      readonly before: HostMachine;
    }
  /** An operation handed to the hypervisor before it ran: a translated instruction (BT) or a hypercall (PV). */
  | { readonly kind: 'call'; readonly op: Op };

/** A hypervisor design. Every function is pure. */
export interface Design {
  readonly name: string;
  /** One line: what it is. */
  readonly description: string;
  readonly axes: DesignAxes;
  /** Prepare the hypervisor's structures on a fresh host (its own pages, EPT tables, shadow roots). */
  readonly init: (h: HostMachine) => HostMachine;
  /** The hardware that runs the current guest natively: physical port (EPT or none) and exit controls. */
  readonly hardware: (h: HostMachine) => Hardware;
  /** Context load (VM entry): the real CPU state that runs guest `g` whose virtual CPU is `vcpu`. */
  readonly load: (h: HostMachine, g: number, vcpu: Cpu) => Cpu;
  /** Context save (VM exit): guest `g`'s virtual CPU, from the real CPU running it and its last saved vCPU. */
  readonly save: (h: HostMachine, g: number, real: Cpu, vcpu: Cpu) => Cpu;
  /** Before an operation runs: natively, or handed to the hypervisor (binary translation, hypercall). */
  readonly dispatch: (h: HostMachine, op: Op) => 'native' | 'hypervisor';
  /** The hypervisor: everything that reaches it. */
  readonly handle: (h: HostMachine, entry: HypervisorEntry) => HostMachine;
  /** After an operation (`op`) ran natively. */
  readonly afterNative: (h: HostMachine, op?: Op) => HostMachine;
  /** The TLB tag (VPID) guest `g` runs under; 0 means untagged. */
  readonly tag: (h: HostMachine, g: number) => number;
  /** Switch the real CPU to guest `to` (the scheduler's operation). */
  readonly switchTo: (h: HostMachine, to: number) => HostMachine;
  /** The network behind the guests' cards (model/host/net/), for a design with a `net` axis. */
  readonly network?: NetworkBackEnd;
  /** For direct paging: the hypervisor's validation rules (absent: Xen's, `XEN_RULES`). */
  readonly directPaging?: DirectPagingRules;
  /**
   * Guest-physical frames of guest `g` the hypervisor keeps read-only in its EPT (write tracking,
   * as KVM's page-track does for a nested guest's EPT or a GPU's page tables): every write the
   * guest's CPU makes to them exits as an EPT violation, every write its assigned device makes is
   * blocked by the IOMMU (whose mappings derive from EPT) and reaches the hypervisor as a DMA
   * fault; the toolkit's handler completes both by emulation. Used by `composeDesign`'s `init`
   * (nested MMU only); absent: none.
   */
  readonly readOnlyInEpt?: (h: HostMachine, g: number) => readonly number[];
}

/** True when a value has the shape of a design (for loading a user's file). */
export const isDesign = (x: unknown): x is Design => {
  if (typeof x !== 'object' || x === null) return false;
  const d = x as Record<string, unknown>;
  const fns = ['init', 'hardware', 'load', 'save', 'dispatch', 'handle', 'afterNative', 'tag', 'switchTo'];
  return (
    typeof d.name === 'string' &&
    typeof d.description === 'string' &&
    typeof d.axes === 'object' &&
    d.axes !== null &&
    fns.every((f) => typeof d[f] === 'function')
  );
};
