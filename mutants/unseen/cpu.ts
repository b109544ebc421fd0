/**
 * Unseen mutants of CPU virtualization: fault reflection, event delivery interrupted by an exit,
 * the hypervisor's instruction emulator, and IOPL under paravirtualization.
 *
 * FROZEN: nothing under mutants/unseen/ changes after its first commit.
 */
import {
  bt,
  CANONICAL,
  CR0,
  commitGuest,
  composeDesign,
  type Design,
  EFLAGS,
  emulate,
  guestView,
  linear,
  type Machine,
  PTE,
  peekWord,
  type Registers,
  readWord,
  shadow,
  shadowFill,
  standardHandle,
  stepWith,
  syncMmu,
  VEC,
  walk,
  writeWord,
  X86_32,
  xenPv,
} from '../../index.ts';
import { GEOMETRY, guest, type UnseenMachineMutant } from './types.ts';

// ---------------------------------------------------------------------------------------------

const shadowPfReflectStaleCr2Design: Design = composeDesign({
  ...shadow,
  name: 'shadow-pf-reflect-stale-cr2',
  description: 'shadow: a guest #PF that VM-exits is reflected without writing the guest CR2',
  handle: (h, entry) => {
    const out = standardHandle(() => shadowPfReflectStaleCr2Design)(h, entry);
    if (entry.kind !== 'exit' || entry.exit.reason !== 'exception' || entry.exit.vector !== VEC.PF) return out;
    // The flaw: a #PF that exits leaves CR2 unwritten (the hardware's rule for intercepted #PF), and
    // the reflection path forgets to write the guest's CR2 itself: the guest keeps its old CR2.
    const g = out.current;
    const was = guestView(shadowPfReflectStaleCr2Design, entry.before, g).cpu.cr2;
    const view = guestView(shadowPfReflectStaleCr2Design, out, g);
    return view.cpu.cr2 === was
      ? out
      : commitGuest(shadowPfReflectStaleCr2Design, out, g, { ...view, cpu: { ...view.cpu, cr2: was } });
  },
});

export const shadowPfReflectStaleCr2: UnseenMachineMutant = {
  name: 'shadow-pf-reflect-stale-cr2',
  base: 'shadow',
  area: 'CPU',
  level: 'machine',
  bugClass: 'fault reflection: wrong CR2 on a reflected #PF',
  reference:
    'Intel SDM Vol. 3C "Architectural State Before a VM Exit": a #PF that causes a VM exit does not write CR2, so the hypervisor must set the guest CR2 when it injects the fault; KVM moved CR2 into the exception payload for this reason (Linux 4.20, "kvm: x86: Defer setting of CR2 until #PF delivery")',
  flaw: 'Under shadow paging every #PF exits; when the hypervisor finds the fault is the guest’s own and reflects it, the guest’s CR2 keeps its previous value instead of the faulting linear address.',
  design: shadowPfReflectStaleCr2Design,
  property: 'equivalence',
  minimal: 1,
  minimalWhy:
    'One guest #PF at a non-zero linear address shows it: CR2 is guest state (the abstraction compares it), boot CR2 is 0, and bare metal sets CR2 to the address as it delivers the fault. The witness reads word 1 of page (1,1), whose PTE is not present: bare metal CR2 = 0x401004, the mutant leaves 0. No shorter sequence exists (nothing faults in zero operations), and a #PF at address 0 would not show it.',
  witness: {
    geometry: GEOMETRY,
    guests: [guest({ pteFlags: [7, 7, 7, 7, 7, 0, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7] })],
    ops: [{ guest: 0, op: { kind: 'load', dst: 0, va: linear(1, 1, 1) } }],
  },
};

// ---------------------------------------------------------------------------------------------

/** Set the accessed flags along the guest's walk of `address`, as a shadow MMU does when it fixes a hidden fault. */
const markAccessed = (m: Machine, address: number): Machine => {
  if (!(m.cpu.cr0 & CR0.PG)) return m;
  const r = walk(
    X86_32,
    (m.cpu.cr3 & PTE.FRAME) >>> 0,
    address,
    (pa) => readWord(m.memory, pa),
    () => true,
  );
  let memory = m.memory;
  for (const s of r.path) memory = writeWord(memory, s.entryAddress, (s.entry | PTE.A) >>> 0);
  return { ...m, memory };
};

const shadowDropsEventDesign: Design = composeDesign({
  ...shadow,
  name: 'shadow-drops-event-on-delivery-exit',
  description: 'shadow: a hidden #PF met while delivering an event is fixed, but the event is not re-injected',
  handle: (h, entry) => {
    if (
      entry.kind === 'exit' &&
      entry.exit.reason === 'exception' &&
      entry.exit.vector === VEC.PF &&
      entry.exit.during !== undefined &&
      entry.exit.address !== undefined
    ) {
      // The flaw: the exit's IDT-vectoring information (the event being delivered) is ignored. The
      // hidden fault is fixed (accessed flags set, shadow entry filled) and the guest resumed, but the
      // exception or interrupt it was receiving is never re-injected.
      const g = h.current;
      const fixed = commitGuest(
        shadowDropsEventDesign,
        h,
        g,
        markAccessed(guestView(shadowDropsEventDesign, h, g), entry.exit.address),
      );
      return shadowFill(shadowDropsEventDesign, fixed, g, entry.exit.address);
    }
    return standardHandle(() => shadowDropsEventDesign)(h, entry);
  },
});

export const shadowDropsEventOnDeliveryExit: UnseenMachineMutant = {
  name: 'shadow-drops-event-on-delivery-exit',
  base: 'shadow',
  area: 'interrupts',
  level: 'machine',
  bugClass: 'event injection: IDT-vectoring information lost on an exit during event delivery',
  reference:
    'Intel SDM Vol. 3C "Information for VM Exits That Occur During Event Delivery" (the hypervisor must re-inject the event from the IDT-vectoring fields); KVM does it in vmx_complete_interrupts()',
  flaw: 'When the real CPU exits on a hidden shadow fault while delivering an exception or interrupt to the guest (the IDT or GDT page not yet in the shadow), the hypervisor fixes the fault and resumes the guest without re-injecting the event: the guest never receives it.',
  design: shadowDropsEventDesign,
  property: 'equivalence',
  minimal: 1,
  minimalWhy:
    'The shadow starts empty, so the first event a guest receives meets a hidden #PF on the system page while the CPU reads the IDT. A CPL-3 guest executing CLI with IOPL 0 raises #GP (CLI does not exit under VT-x): bare metal delivers it to ring 0 (CPL 0, CS 0x08), the mutant leaves the guest at CPL 3 as if nothing happened. One operation; none is shorter.',
  witness: {
    geometry: GEOMETRY,
    guests: [guest({ cpl: 3 })],
    ops: [{ guest: 0, op: { kind: 'cli' } }],
  },
};

// ---------------------------------------------------------------------------------------------

/** The raw 20-bit limit field of the descriptor `selector` names (no granularity scaling), read without side effects. */
const rawLimit = (m: Machine, selector: number): number => {
  const base = selector & 4 ? m.cpu.ldtr.base : m.cpu.gdtr.base;
  const at = (base + (selector & 0xfff8)) >>> 0;
  const lo = peekWord(m, at) ?? 0;
  const hi = peekWord(m, at + 4) ?? 0;
  return ((lo & 0xffff) | (hi & 0xf_0000)) >>> 0;
};

const shadowLslDesign: Design = composeDesign({
  ...shadow,
  name: 'shadow-emulated-lsl-ignores-g',
  description: 'shadow: the instruction emulator’s LSL returns the limit field without applying G',
  handle: (h, entry) => {
    if (entry.kind !== 'exit' || entry.phase !== 'instruction' || entry.op.kind !== 'lsl')
      return standardHandle(() => shadowLslDesign)(h, entry);
    const op = entry.op;
    const r = emulate(shadowLslDesign, { ...entry.before, tlb: h.tlb }, op);
    let out = r.host;
    const g = out.current;
    const view = guestView(shadowLslDesign, out, g);
    if (r.outcome.status === 'retired' && view.cpu.eflags & EFLAGS.ZF) {
      // The flaw: the emulator's LSL loads the descriptor's limit field as it lies in the descriptor,
      // forgetting to scale it by 4 KiB when G = 1 (SDM LSL: "the limit is a byte granular value").
      const selector = guestView(shadowLslDesign, entry.before, g).cpu.regs[op.src] & 0xffff;
      const regs = view.cpu.regs.map((x, i) => (i === op.dst ? rawLimit(view, selector) : x)) as unknown as Registers;
      out = commitGuest(shadowLslDesign, out, g, { ...view, cpu: { ...view.cpu, regs } });
    }
    if (entry.exit.reason === 'exception' && entry.exit.vector === VEC.PF && entry.exit.address !== undefined)
      out = shadowFill(shadowLslDesign, out, out.current, entry.exit.address);
    return out;
  },
});

export const shadowEmulatedLslIgnoresG: UnseenMachineMutant = {
  name: 'shadow-emulated-lsl-ignores-g',
  base: 'shadow',
  area: 'CPU',
  level: 'machine',
  bugClass: 'emulator: LSL without granularity scaling (an emulator-only bug)',
  reference:
    'Amit, Tsafrir, Schuster, Ayoub, Shlomo, "Virtual CPU Validation", SOSP 2015: bugs of KVM’s x86 emulator, reachable only when an instruction is emulated rather than run natively',
  flaw: 'When LSL is emulated (its GDT read met a hidden shadow fault), the emulator returns the 20-bit limit field instead of the byte-granular limit; natively executed LSL is right.',
  design: shadowLslDesign,
  property: 'equivalence',
  minimal: 1,
  minimalWhy:
    'The shadow starts empty, so the first LSL’s descriptor read exits and LSL is emulated. LSL of the ring-0 code selector 0x08 (flat, limit field 0xFFFFF, G = 1) gives 0xFFFFFFFF on bare metal and 0x000FFFFF from the emulator. One operation, with ECX = 0x08 at boot.',
  witness: {
    geometry: GEOMETRY,
    guests: [guest({ regs: [0, 0x08, 0, 0] })],
    ops: [{ guest: 0, op: { kind: 'lsl', dst: 0, src: 1 } }],
  },
};

// ---------------------------------------------------------------------------------------------

const btVerrDesign: Design = composeDesign({
  ...bt,
  name: 'bt-verr-ignores-rpl',
  description: 'bt: the translated VERR checks the descriptor’s DPL against CPL only, not the selector’s RPL',
  handle: (h, entry) => {
    if (entry.kind !== 'call' || entry.op.kind !== 'verr') return standardHandle(() => btVerrDesign)(h, entry);
    const op = entry.op;
    const g = h.current;
    const v0 = guestView(btVerrDesign, h, g);
    // The flaw: the translation drops the selector's RPL before the privilege check (DPL >= max(CPL, RPL)).
    const regs = v0.cpu.regs.map((x, i) => (i === op.src ? (x & ~3) >>> 0 : x)) as unknown as Registers;
    const r = stepWith({ ...v0, cpu: { ...v0.cpu, regs } }, op, CANONICAL);
    const v1: Machine = { ...r.machine, cpu: { ...r.machine.cpu, regs: v0.cpu.regs } };
    return syncMmu(btVerrDesign, h, commitGuest(btVerrDesign, h, g, v1), v0, v1, op, r.outcome);
  },
});

export const btVerrIgnoresRpl: UnseenMachineMutant = {
  name: 'bt-verr-ignores-rpl',
  base: 'bt',
  area: 'CPU',
  level: 'machine',
  bugClass: 'emulator: VERR privilege check without RPL',
  reference:
    'Intel SDM Vol. 2B VERR/VERW ("the segment must be visible at the CPL and the RPL"); Amit et al., "Virtual CPU Validation", SOSP 2015 (emulator privilege-check bugs)',
  flaw: 'The binary translator emulates kernel-mode VERR, and its privilege check compares the descriptor’s DPL with CPL alone: a selector whose RPL is above the DPL is reported readable.',
  design: btVerrDesign,
  property: 'equivalence',
  minimal: 1,
  minimalWhy:
    'Kernel-mode VERR is always translated. VERR of 0x13 (the ring-0 data segment, RPL 3) at CPL 0: bare metal clears ZF (DPL 0 < RPL 3), the mutant sets it. One operation with ECX = 0x13 at boot.',
  witness: {
    geometry: GEOMETRY,
    guests: [guest({ regs: [0, 0x13, 0, 0] })],
    ops: [{ guest: 0, op: { kind: 'verr', src: 1 } }],
  },
};

// ---------------------------------------------------------------------------------------------

const xenPvIoplDesign: Design = composeDesign({
  ...xenPv,
  name: 'xen-pv-iopl-not-virtualized',
  description: 'xen-pv: the guest’s IOPL is loaded into the real EFLAGS instead of being kept virtual',
  // The flaw: context load copies the guest's (virtual) IOPL into the real EFLAGS, so guest user code
  // with IOPL 3 runs CLI, STI, IN and OUT on the real CPU at real ring 3 without the hypervisor.
  load: (h, g, v) => {
    const real = xenPv.load(h, g, v);
    return { ...real, eflags: ((real.eflags & ~EFLAGS.IOPL) | (v.eflags & EFLAGS.IOPL)) >>> 0 };
  },
});

export const xenPvIoplNotVirtualized: UnseenMachineMutant = {
  name: 'xen-pv-iopl-not-virtualized',
  base: 'xen-pv',
  area: 'CPU',
  level: 'machine',
  bugClass: 'IOPL virtualization: guest IOPL reaches the real EFLAGS',
  reference:
    'Xen XSA-171 / CVE-2016-3157 (I/O port access privilege escalation in x86-64 Linux PV guests: IOPL not virtualized/context-switched correctly)',
  flaw: 'On every context load the guest’s virtual IOPL is copied into the real EFLAGS, so a guest process with IOPL 3 clears the real CPU’s IF (and reaches real ports) natively.',
  design: xenPvIoplDesign,
  property: 'resource-control',
  minimal: 1,
  minimalWhy:
    'A guest booted at CPL 3 with IOPL 3 and IF = 1 executes CLI: at real ring 3 with the real IOPL 3 it runs natively and clears the real IF, which only the hypervisor may do (resource control: real interrupts stay the hypervisor’s); the guest’s virtual IF stays 1 while bare metal clears it (equivalence). One operation.',
  witness: {
    geometry: GEOMETRY,
    guests: [guest({ cpl: 3, eflags: 0x3200 })],
    ops: [{ guest: 0, op: { kind: 'cli' } }],
  },
};

/** The CPU mutants. */
export const CPU_MUTANTS: readonly UnseenMachineMutant[] = [
  shadowPfReflectStaleCr2,
  shadowDropsEventOnDeliveryExit,
  shadowEmulatedLslIgnoresG,
  btVerrIgnoresRpl,
  xenPvIoplNotVirtualized,
];
