/**
 * Unseen mutants of interrupt virtualization: MSI routing, lost and duplicated interrupts, a wrong
 * vector, and a halted guest woken by an interrupt it has masked.
 *
 * FROZEN: nothing under mutants/unseen/ changes after its first commit.
 */
import {
  commitGuest,
  composeDesign,
  type Design,
  deviceInterrupt,
  EFLAGS,
  guestView,
  injectInterrupt,
  passthrough,
  sriov,
  standardHandle,
  TIMER_VECTOR,
  vmdq,
} from '../../index.ts';
import { GEOMETRY, guest, type UnseenMachineMutant } from './types.ts';

/**
 * A device's MSI with vector 0x21 on a guest whose EAX is 0x21 at boot: OUT 0x43 sets the vector,
 * OUT 0x42 writes COMMAND = 0x21, whose bit 0 is START (a read of guest-physical 0), and the
 * completion sends the MSI. Three operations; no fewer program a vector and start a job.
 */
const MSI_0X21 = [
  { kind: 'out', port: 0x43 },
  { kind: 'out', port: 0x42 },
  { kind: 'dmaComplete', device: 0 },
] as const;

// ---------------------------------------------------------------------------------------------

const passthroughIrteDesign: Design = composeDesign({
  ...passthrough,
  name: 'passthrough-irte-to-boot-guest',
  description: 'passthrough: every interrupt-remapping entry sends its MSIs to guest 0',
  init: (h0) => {
    const h = passthrough.init(h0);
    const io = h.io;
    if (!io) return h;
    // The flaw: each IRTE's destination is left at its reset value, which names the boot vCPU
    // (guest 0), instead of the vCPU of the guest the device is assigned to.
    return { ...h, io: { ...io, iommu: { ...io.iommu, irt: io.iommu.irt.map((e) => ({ ...e, guest: 0 })) } } };
  },
});

export const passthroughIrteToBootGuest: UnseenMachineMutant = {
  name: 'passthrough-irte-to-boot-guest',
  base: 'passthrough',
  area: 'interrupts',
  level: 'machine',
  bugClass: 'MSI routing: remapping entries name the wrong destination',
  reference:
    'Intel VT-d specification, Interrupt Remapping Table Entry (destination ID per source id); a misrouted IRTE lets one guest’s device interrupt another guest',
  flaw: 'Interrupt remapping is on, but every remapping entry’s destination is guest 0: the MSIs of guest 1’s device reach guest 0 and guest 1 never receives them.',
  design: passthroughIrteDesign,
  property: 'equivalence',
  minimal: 3,
  minimalWhy:
    'Guest 1 programs its device’s vector and starts a job (2 operations with EAX = 0x21 at boot) and the job completes (3): with IF = 0 bare metal leaves vector 0x21 pending in guest 1, the mutant leaves it pending in guest 0 instead. Guest 0 itself only notices when it runs (isolation, 4 operations), guest 1’s loss shows at once.',
  witness: {
    geometry: GEOMETRY,
    guests: [guest({ devices: 1 }), guest({ devices: 1, regs: [0x21, 0, 0, 0] })],
    ops: MSI_0X21.map((op) => ({ guest: 1, op })),
  },
};

// ---------------------------------------------------------------------------------------------

const passthroughMsiDroppedDesign: Design = composeDesign({
  ...passthrough,
  name: 'passthrough-msi-dropped-when-masked',
  description: 'passthrough: an assigned device’s MSI that arrives while the guest has IF = 0 is dropped',
  handle: (h, entry) => {
    if (entry.kind === 'exit' && entry.exit.reason === 'device-interrupt' && entry.exit.vector !== undefined) {
      const v = guestView(passthroughMsiDroppedDesign, h, h.current);
      // The flaw: the handler injects the MSI only if the guest can take it now, and otherwise drops
      // it instead of leaving it pending (in the virtual IRR) for when the guest sets IF again.
      if (!(v.cpu.eflags & EFLAGS.IF)) {
        const { vector: _dropped, ...rest } = entry.exit;
        return deviceInterrupt(passthroughMsiDroppedDesign, h, rest);
      }
    }
    return standardHandle(() => passthroughMsiDroppedDesign)(h, entry);
  },
});

export const passthroughMsiDroppedWhenMasked: UnseenMachineMutant = {
  name: 'passthrough-msi-dropped-when-masked',
  base: 'passthrough',
  area: 'interrupts',
  level: 'machine',
  bugClass: 'lost interrupt: an interrupt arriving while masked is dropped, not left pending',
  flaw: 'An assigned device’s MSI that arrives while the guest has interrupts masked is discarded instead of being kept pending.',
  design: passthroughMsiDroppedDesign,
  property: 'equivalence',
  minimal: 3,
  minimalWhy:
    'Program the vector and start a job (2 operations, EAX = 0x21 at boot) and complete it (3): the guest boots with IF = 0, so bare metal keeps vector 0x21 pending; the mutant has nothing pending. Any MSI needs these three operations.',
  witness: {
    geometry: GEOMETRY,
    guests: [guest({ devices: 1, regs: [0x21, 0, 0, 0] })],
    ops: MSI_0X21.map((op) => ({ guest: 0, op })),
  },
};

// ---------------------------------------------------------------------------------------------

const sriovMsiTwiceDesign: Design = composeDesign({
  ...sriov,
  name: 'sriov-msi-injected-twice',
  description: 'sriov: a virtual function’s MSI stays requested after it is injected, so it is injected again',
  handle: (h, entry) => {
    const out = standardHandle(() => sriovMsiTwiceDesign)(h, entry);
    if (entry.kind !== 'exit' || entry.exit.reason !== 'device-interrupt' || entry.exit.vector === undefined)
      return out;
    const vector = entry.exit.vector;
    const g = out.current;
    const v = guestView(sriovMsiTwiceDesign, out, g);
    if (v.cpu.pending.includes(vector)) return out;
    // The flaw: injecting the interrupt does not clear its request (the posted-interrupt request bit
    // or virtual IRR bit stays set), so it is pending again and will be delivered a second time.
    const pending = [...v.cpu.pending, vector].sort((a, b) => a - b);
    return commitGuest(sriovMsiTwiceDesign, out, g, { ...v, cpu: { ...v.cpu, pending } });
  },
});

export const sriovMsiInjectedTwice: UnseenMachineMutant = {
  name: 'sriov-msi-injected-twice',
  base: 'sriov',
  area: 'interrupts',
  level: 'machine',
  bugClass: 'duplicated interrupt: request not cleared on injection',
  flaw: 'After the hypervisor injects a virtual function’s MSI, the vector is still requested: the guest receives the interrupt again as soon as it re-enables interrupts.',
  design: sriovMsiTwiceDesign,
  property: 'equivalence',
  minimal: 3,
  minimalWhy:
    'With IF = 1 at boot and EAX = 0x21: program the vector, start a job, complete it (3): bare metal delivers vector 0x21 once (the interrupt gate clears IF, nothing stays pending); the mutant delivers it and leaves 0x21 pending. Fewer operations send no MSI.',
  witness: {
    geometry: GEOMETRY,
    guests: [guest({ devices: 1, eflags: 0x200, regs: [0x21, 0, 0, 0] })],
    ops: MSI_0X21.map((op) => ({ guest: 0, op })),
  },
};

// ---------------------------------------------------------------------------------------------

const sriovTimerVectorDesign: Design = composeDesign({
  ...sriov,
  name: 'sriov-timer-vector-off-by-one',
  description: 'sriov: the timer tick is injected with vector 0x21 instead of 0x20',
  handle: (h, entry) => {
    if (entry.kind !== 'exit' || entry.exit.reason !== 'external-interrupt')
      return standardHandle(() => sriovTimerVectorDesign)(h, entry);
    const from = { ...entry.before, tlb: h.tlb };
    const g = from.current;
    if (guestView(sriovTimerVectorDesign, from, g).cpu.run === 'shutdown') return from;
    // The flaw: the virtual interrupt controller adds the IRQ to a vector base off by one (0x21 for
    // IRQ 0), so the tick arrives on the wrong vector.
    return injectInterrupt(sriovTimerVectorDesign, from, g, TIMER_VECTOR + 1);
  },
});

export const sriovTimerVectorOffByOne: UnseenMachineMutant = {
  name: 'sriov-timer-vector-off-by-one',
  base: 'sriov',
  area: 'interrupts',
  level: 'machine',
  bugClass: 'event injection with the wrong vector',
  reference: 'Intel 8259A ICW2 (vector base) as an OS programs it: IRQ 0 is the base vector, 0x20 here',
  flaw: 'The hypervisor forwards the guest’s timer tick with vector 0x21 instead of 0x20.',
  design: sriovTimerVectorDesign,
  property: 'equivalence',
  minimal: 1,
  minimalWhy:
    'One tick while IF = 0 (the boot state): bare metal holds 0x20 pending, the mutant 0x21. With IF = 1 the tick would be delivered at once and only the handler run (not modelled: every gate but 0x80..0x82 is alike) would differ, so the masked tick is the one-operation witness.',
  witness: {
    geometry: GEOMETRY,
    guests: [guest()],
    ops: [{ guest: 0, op: { kind: 'timer' } }],
  },
};

// ---------------------------------------------------------------------------------------------

const vmdqHltDesign: Design = composeDesign({
  ...vmdq,
  name: 'vmdq-hlt-wakes-with-if-clear',
  description: 'vmdq: a halted guest is woken by a pending interrupt even though its IF is 0',
  handle: (h, entry) => {
    const out = standardHandle(() => vmdqHltDesign)(h, entry);
    if (entry.kind !== 'exit') return out;
    const g = out.current;
    const v = guestView(vmdqHltDesign, out, g);
    // The flaw: the wake-up test asks "is an interrupt pending?" and not "can it be delivered?":
    // HLT resumes only on an enabled interrupt (SDM HLT), so with IF = 0 the guest must stay halted.
    if (v.cpu.run !== 'halted' || v.cpu.pending.length === 0) return out;
    return commitGuest(vmdqHltDesign, out, g, { ...v, cpu: { ...v.cpu, run: 'running' } });
  },
});

export const vmdqHltWakesWithIfClear: UnseenMachineMutant = {
  name: 'vmdq-hlt-wakes-with-if-clear',
  base: 'vmdq',
  area: 'interrupts',
  level: 'machine',
  bugClass: 'interrupt masking: a masked interrupt wakes HLT',
  reference:
    'Intel SDM Vol. 2A HLT ("an enabled interrupt ... will resume execution"); KVM’s runnable test pairs "interrupt pending" with "interrupt allowed"',
  flaw: 'The HLT emulation resumes the guest whenever an interrupt is pending, even with IF = 0, so `cli; hlt` does not stop the guest.',
  design: vmdqHltDesign,
  property: 'equivalence',
  minimal: 2,
  minimalWhy:
    'A timer tick while IF = 0 (pending, 1), then HLT (2): bare metal halts; the mutant’s HLT exit finds an interrupt pending and resumes the guest. No pending interrupt can exist without an event, so two operations.',
  witness: {
    geometry: GEOMETRY,
    guests: [guest()],
    ops: [
      { guest: 0, op: { kind: 'timer' } },
      { guest: 0, op: { kind: 'hlt' } },
    ],
  },
};

/** The interrupt mutants. */
export const INTERRUPT_MUTANTS: readonly UnseenMachineMutant[] = [
  passthroughIrteToBootGuest,
  passthroughMsiDroppedWhenMasked,
  sriovMsiInjectedTwice,
  sriovTimerVectorOffByOne,
  vmdqHltWakesWithIfClear,
];
