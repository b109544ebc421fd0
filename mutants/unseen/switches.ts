/**
 * Unseen mutants of guest switches: guest state the hypervisor must save and restore by hand and
 * does not (CR2, which the VMCS does not hold; the STI interruptibility state; pending events).
 *
 * FROZEN: nothing under mutants/unseen/ changes after its first commit.
 */
import { composeDesign, type Design, ept, linear, withGuest, xenPv } from '../../index.ts';
import { GEOMETRY, guest, type UnseenMachineMutant } from './types.ts';

// ---------------------------------------------------------------------------------------------

const eptCr2Design: Design = composeDesign({
  ...ept,
  name: 'ept-cr2-not-switched',
  description: 'ept: CR2 is not switched between guests (the VMCS has no CR2 field)',
  switchTo: (h, to) => {
    if (to === h.current) return h;
    const out = ept.switchTo(h, to);
    // The flaw: CR2 is not part of the VMCS guest-state area, so the hypervisor must load the incoming
    // guest's CR2 itself before VM entry; it does not, and the outgoing guest's CR2 stays in the CPU.
    return { ...out, cpu: { ...out.cpu, cr2: h.cpu.cr2 } };
  },
});

export const eptCr2NotSwitched: UnseenMachineMutant = {
  name: 'ept-cr2-not-switched',
  base: 'ept',
  area: 'CPU',
  level: 'machine',
  bugClass: 'save/restore on switches: a register leaks between guests (CR2)',
  reference:
    'Intel SDM Vol. 3C, the VMCS guest-state area holds no CR2: a hypervisor restores the guest CR2 by hand before VM entry (KVM’s VMX entry path writes vcpu->arch.cr2 into CR2 before VM entry and reads it back after the exit)',
  flaw: 'On a switch the incoming guest gets the real CPU’s CR2, i.e. the last fault address of the guest that ran before it: one guest reads another’s page-fault addresses.',
  design: eptCr2Design,
  property: 'isolation',
  minimal: 2,
  minimalWhy:
    'Guest 0 takes a #PF at a non-zero address (its PTE for page (1,1) is not present: CR2 = 0x401004), then guest 1 runs any operation: its CR2 (0 on its own machine) is now 0x401004, and it differs from a run where guest 0 did nothing, so isolation fails at step 1 (equivalence too). One operation per guest is the least that involves two guests.',
  witness: {
    geometry: GEOMETRY,
    guests: [guest({ pteFlags: [7, 7, 7, 7, 7, 0, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7] }), guest()],
    ops: [
      { guest: 0, op: { kind: 'load', dst: 0, va: linear(1, 1, 1) } },
      { guest: 1, op: { kind: 'movImm', dst: 0, imm: 0 } },
    ],
  },
};

// ---------------------------------------------------------------------------------------------

const eptStiDesign: Design = composeDesign({
  ...ept,
  name: 'ept-sti-blocking-not-saved',
  description: 'ept: the guest’s blocking-by-STI state is not saved when it is descheduled',
  // The flaw: the vCPU is saved without its interruptibility state (blocking by STI), so on its next
  // VM entry the hypervisor injects a pending interrupt inside the STI shadow, before the instruction
  // that follows STI.
  switchTo: (h, to) => (to === h.current ? h : ept.switchTo({ ...h, cpu: { ...h.cpu, stiShadow: false } }, to)),
});

export const eptStiBlockingNotSaved: UnseenMachineMutant = {
  name: 'ept-sti-blocking-not-saved',
  base: 'ept',
  area: 'interrupts',
  level: 'machine',
  bugClass: 'event injection inside an STI shadow (interruptibility state not saved)',
  reference:
    'Intel SDM Vol. 2B STI (interrupts are recognized only after the next instruction) and Vol. 3C "Checks on Guest Non-Register State" (no external-interrupt injection while blocking by STI); the `sti; hlt` idiom relies on it',
  flaw: 'When a guest is descheduled right after STI, its STI shadow is not saved; on re-entry a pending interrupt is injected before the instruction the shadow protects.',
  design: eptStiDesign,
  property: 'equivalence',
  minimal: 4,
  minimalWhy:
    'Guest 0 needs a pending interrupt (a timer tick while IF = 0: 1) and an STI shadow (STI: 2), must be descheduled inside the shadow (guest 1 runs: 3), and must then run an instruction that shows whether the interrupt came before it (PUSHF: 4): bare metal pushes IF = 1 (EAX = 0x202) and then delivers the tick; the mutant delivers first and PUSHF reads 0x2. MOV would not show it (the final states agree), and nothing shorter deschedules guest 0 inside its shadow.',
  witness: {
    geometry: GEOMETRY,
    guests: [guest(), guest()],
    ops: [
      { guest: 0, op: { kind: 'timer' } },
      { guest: 0, op: { kind: 'sti' } },
      { guest: 1, op: { kind: 'movImm', dst: 0, imm: 0 } },
      { guest: 0, op: { kind: 'pushf', dst: 0 } },
    ],
  },
};

// ---------------------------------------------------------------------------------------------

const xenPvPendingDesign: Design = composeDesign({
  ...xenPv,
  name: 'xen-pv-switch-drops-pending',
  description: 'xen-pv: descheduling a guest drops the events pending for it',
  switchTo: (h, to) => {
    if (to === h.current) return h;
    const g = h.current;
    // The flaw: the context switch saves the vCPU without its pending events (the upcall-pending
    // state is reset as if they had been delivered), so an interrupt raised while the guest had
    // interrupts masked is lost when another guest runs.
    return xenPv.switchTo(withGuest(h, g, { vcpu: { ...h.guests[g]!.vcpu, pending: [] } }), to);
  },
});

export const xenPvSwitchDropsPending: UnseenMachineMutant = {
  name: 'xen-pv-switch-drops-pending',
  base: 'xen-pv',
  area: 'interrupts',
  level: 'machine',
  bugClass: 'save/restore on switches: pending events lost (a lost interrupt)',
  flaw: 'When the hypervisor switches away from a guest, the interrupts pending for it (raised while its virtual IF was 0) are discarded.',
  design: xenPvPendingDesign,
  property: 'equivalence',
  minimal: 3,
  minimalWhy:
    'Guest 0 gets a timer tick while IF = 0, so it stays pending (1); guest 1 runs, which switches guest 0 out (2); guest 0 runs again (3) and its pending set is empty where bare metal still holds vector 0x20. The loss needs a switch, so two guests and three operations (guest 0’s state is compared when it runs).',
  witness: {
    geometry: GEOMETRY,
    guests: [guest(), guest()],
    ops: [
      { guest: 0, op: { kind: 'timer' } },
      { guest: 1, op: { kind: 'movImm', dst: 0, imm: 0 } },
      { guest: 0, op: { kind: 'movImm', dst: 0, imm: 0 } },
    ],
  },
};

/** The switch mutants. */
export const SWITCH_MUTANTS: readonly UnseenMachineMutant[] = [
  eptCr2NotSwitched,
  eptStiBlockingNotSaved,
  xenPvSwitchDropsPending,
];
