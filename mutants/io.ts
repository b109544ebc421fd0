/**
 * I/O mutants: DMA and MSIs that escape their owner (IOMMU, interrupt remapping), injection and
 * timers that ignore the rules, device models that trust what the guest wrote.
 */

import { arbMsiScenario } from '../generators/msi.ts';
import {
  commitGuest,
  composeDesign,
  type Design,
  DMA_REG,
  deliverPending,
  EFLAGS,
  ept,
  guestBase,
  guestDeviceEngines,
  guestView,
  type HostMachine,
  type HypervisorEntry,
  hostFrames,
  hostIo,
  PAGE_SIZE,
  passthrough,
  remappableMsiAddress,
  shadow,
  sriov,
  standardHandle,
  syncMmu,
  writeWord,
} from '../model/index.ts';
import type { Mutant } from './mutant.ts';

/**
 * Passthrough with the IOMMU bypassed: the assigned device's bus addresses are host-physical, so
 * the guest can aim its DMA anywhere (Wojtczuk, "Subverting the Xen hypervisor", Black Hat 2008).
 */
export const passthroughNoIommu: Design = composeDesign({
  name: 'passthrough-no-iommu',
  description: 'passthrough with DMA remapping off: bus addresses are host addresses',
  axes: { ...passthrough.axes, iommu: false },
});

/** SR-IOV with every virtual function put in the first VF's IOMMU domain (one domain for the PF's VFs). */
export const sriovSharedDomain: Design = composeDesign({
  name: 'sriov-shared-vf-domain',
  description: "SR-IOV whose virtual functions all share the first VF's IOMMU domain",
  axes: sriov.axes,
  init: (h0) => {
    const h = sriov.init(h0);
    const io = hostIo(h);
    const first = io.iommu.domains[0];
    if (!first) return h;
    const domains = io.iommu.domains.map((d) => ({ ...d, root: first.root }));
    return { ...h, io: { ...io, iommu: { ...io.iommu, domains } } };
  },
});

/**
 * Passthrough with interrupt remapping off: an MSI's vector is a host vector, so a guest that
 * programs its device with another guest's (or the hypervisor's) vector interrupts it (Wojtczuk
 * & Rutkowska, "Following the White Rabbit: software attacks against Intel VT-d", 2011).
 */
export const passthroughNoInterruptRemapping: Design = composeDesign({
  name: 'passthrough-no-interrupt-remapping',
  description: 'passthrough with interrupt remapping off: MSI vectors are host vectors',
  axes: { ...passthrough.axes, interruptRemapping: false },
});

/**
 * Passthrough whose IRTEs do no source validation (SVT = 00): any requester may send through any
 * entry, so a guest's device that writes a remappable-format message naming another guest's
 * handle interrupts that guest (Wojtczuk & Rutkowska, "Following the White Rabbit", 2011: with
 * interrupt remapping but no source-id check, MSI spoofing still crosses domains; VT-d §9.10 SVT).
 */
export const passthroughIrteNoSourceValidation: Design = composeDesign({
  name: 'passthrough-irte-no-source-validation',
  description: 'passthrough whose interrupt-remapping entries do not validate the requester id (SVT = 00)',
  axes: { ...passthrough.axes, irteSourceValidation: 'none' },
});

/**
 * Passthrough with compatibility-format interrupts left enabled (GSTS.CFIS = 1): a message in
 * compatibility format bypasses the remapping table, so a guest's device can send any host vector
 * (the bypass "Following the White Rabbit" used on systems without x2APIC, where the VMM left
 * compatibility format on; VT-d §5.1.2.1, §10.4.4 GCMD.CFI).
 */
export const passthroughCompatibilityFormat: Design = composeDesign({
  name: 'passthrough-compatibility-format-enabled',
  description: 'passthrough with compatibility-format MSIs passing interrupt remapping unremapped (CFIS = 1)',
  axes: { ...passthrough.axes, compatibilityFormatInterrupts: true },
});

/**
 * Event injection that does not look at the guest's RFLAGS.IF: after the hypervisor has run, a
 * pending virtual interrupt is injected at VM entry even while the guest has interrupts disabled.
 * VM entry itself does not check IF (SDM Vol. 3C §27.6: the VMM must wait for an interrupt
 * window); the interrupt's gate leaves IF clear as it was.
 */
export const shadowInjectsWithIfClear: Design = composeDesign({
  name: 'shadow-injects-with-if-clear',
  description: "virtual interrupts injected at VM entry whatever the guest's IF",
  axes: shadow.axes,
  handle: (h, entry) => {
    const d = shadowInjectsWithIfClear;
    const out = standardHandle(() => d)(h, entry);
    const g = out.current;
    const v0 = guestView(d, out, g);
    if (v0.cpu.pending.length === 0 || v0.cpu.eflags & EFLAGS.IF) return out;
    const r = deliverPending({ ...v0, cpu: { ...v0.cpu, eflags: v0.cpu.eflags | EFLAGS.IF, stiShadow: false } });
    const v1 = { ...r.machine, cpu: { ...r.machine.cpu, eflags: (r.machine.cpu.eflags & ~EFLAGS.IF) >>> 0 } };
    return syncMmu(d, out, commitGuest(d, out, g, v1), v0, v1, undefined, r.outcome);
  },
});

/**
 * VT-x with external-interrupt exiting off: the real timer is delivered to (or held back by) the
 * guest, never to the hypervisor, so a guest with IF = 0 keeps the CPU (the class of CVE-2015-5307,
 * a guest hanging its host CPU in an exception loop the hypervisor did not intercept).
 */
export const eptTimerNotExiting: Design = composeDesign({
  name: 'ept-timer-not-exiting',
  description: 'VT-x with external-interrupt exiting off',
  axes: ept.axes,
  hardware: (h) => {
    const hw = ept.hardware(h);
    return { ...hw, exits: { ...hw.exits, externalInterrupt: false } };
  },
});

/**
 * A hypervisor device model (or back end) that completes a DMA at host address guest base + the
 * guest-given bus address without checking it against the guest's memory: a guest-controlled
 * offset overruns into whatever follows (the class of VENOM, CVE-2015-3456, QEMU's floppy FIFO
 * indexed by a guest-controlled count; for a virtio back end, CVE-2019-14835, vhost-net).
 */
const trustingDeviceModel =
  (self: () => Design) =>
  (h: HostMachine, entry: HypervisorEntry): HostMachine => {
    if (entry.kind === 'call' && entry.op.kind === 'dmaComplete') {
      const g = h.current;
      const job = guestDeviceEngines(h, g)?.[entry.op.device]?.job;
      const guestBytes = h.config.guestGeometry.frames * PAGE_SIZE;
      if (job?.toMemory && job.address >= guestBytes) {
        const host = guestBase(h.config, g) * PAGE_SIZE + (job.address & ~3);
        if (host < hostFrames(h.config) * PAGE_SIZE)
          return standardHandle(self)({ ...h, memory: writeWord(h.memory, host, job.data) }, entry);
      }
    }
    return standardHandle(self)(h, entry);
  };

/** The emulated device model of `shadow`, trusting the guest's DMA address. */
export const shadowDeviceModelTrustsAddress: Design = composeDesign({
  name: 'shadow-device-model-trusts-address',
  description: "the emulated DMA engine's model writes at guest base + address, unchecked",
  axes: shadow.axes,
  handle: trustingDeviceModel(() => shadowDeviceModelTrustsAddress),
});

/** The paravirtual back end of `ept`, trusting the ring slot's address. */
export const eptBackendTrustsAddress: Design = composeDesign({
  name: 'ept-backend-trusts-address',
  description: "the paravirtual back end completes a ring slot's DMA at guest base + address, unchecked",
  axes: ept.axes,
  handle: trustingDeviceModel(() => eptBackendTrustsAddress),
});

export const IO_MUTANTS: readonly Mutant[] = [
  {
    name: passthroughNoIommu.name,
    base: 'passthrough',
    area: 'iommu',
    bugClass: 'passthrough without the IOMMU: device DMA reaches any host address',
    reference: 'Wojtczuk, "Subverting the Xen hypervisor", Black Hat USA 2008 (DMA attacks without VT-d)',
    property: 'resource-control',
    minimalLength: 3,
    minimalWhy: `With EAX = (host address of a non-zero word outside the guest) | 3 at boot: (1) OUT EAX to ADDRESS (port 0x${(0x40 + DMA_REG.ADDRESS).toString(16)}, bits 1:0 ignored); (2) OUT EAX to COMMAND (port 0x${(0x40 + DMA_REG.COMMAND).toString(16)}, bits 1:0 = START | TO_MEMORY); (3) the transfer completes and writes DATA's reset value 0 over that word. The completion, the address and the start are each needed.`,
    target: { level: 'machine', design: passthroughNoIommu },
  },
  {
    name: sriovSharedDomain.name,
    base: 'sriov',
    area: 'iommu',
    bugClass: 'one IOMMU domain shared by the virtual functions of several guests',
    reference:
      'A. Williamson, "IOMMU Groups, inside and out" (KVM Forum 2014): devices that share a DMA context are not isolated',
    property: 'resource-control',
    minimalLength: 2,
    minimalWhy:
      "Guest 1's VF shares guest 0's domain, and its ADDRESS resets to 0: (1) OUT EAX = 3 to COMMAND starts a write of DATA = 0 to bus address 0; (2) the transfer completes through guest 0's domain and zeroes guest 0's first page-directory entry. Both guests must exist; only guest 1 acts.",
    target: { level: 'machine', design: sriovSharedDomain },
  },
  {
    name: passthroughNoInterruptRemapping.name,
    base: 'passthrough',
    area: 'interrupts',
    bugClass: "no interrupt remapping: a device's MSI carries any host vector",
    reference: 'Wojtczuk & Rutkowska, "Following the White Rabbit: software attacks against Intel VT-d" (2011)',
    property: 'resource-control',
    minimalLength: 3,
    minimalWhy:
      "With EAX = a vector that is not this device's host vector, odd (so bit 0 is START): (1) OUT to VECTOR sets the MSI vector; (2) OUT to COMMAND starts a transfer; (3) it completes and the MSI goes to whoever owns that host vector (another guest, or the hypervisor itself). Without the vector write the device sends no MSI (vector 0), without START nothing completes.",
    target: { level: 'machine', design: passthroughNoInterruptRemapping },
  },
  {
    name: passthroughIrteNoSourceValidation.name,
    base: 'passthrough',
    area: 'interrupts',
    bugClass: "interrupt-remapping entries without source validation: a device sends through another guest's handle",
    reference:
      'Wojtczuk & Rutkowska, "Following the White Rabbit: software attacks against Intel VT-d" (2011); VT-d specification §9.10 (IRTE SVT/SQ/SID)',
    property: 'isolation',
    minimalLength: 4,
    minimalWhy: `Guest 1's block of IRTEs starts at handle 256 (one block of 256 per assigned device, model/host/io.ts), entry 256 + 0x31 delivers vector 0x31. With guest 0's EAX = 0x${(remappableMsiAddress(256 + 0x31, false) | 3).toString(16)} at boot (the remappable-format address of handle 0x131, VT-d §5.1.2.2: 0xFEE00000 | 0x131 << 5 | 1 << 4, plus bits 1:0 = 3): (1) OUT to ADDRESS; (2) OUT to COMMAND (START | TO_MEMORY); (3) the completion writes DATA = 0 to the interrupt range: a message from guest 0's device through guest 1's entry, which (SVT = 00) makes 0x31 pending in guest 1; (4) any operation of guest 1 observes it (isolation compares a guest's view after its own operations, with and without the others'). The correct preset blocks the message (SID 0x10 is not requester 0x08: fault 26h). The address, the start, the completion and the observation are each needed.`,
    target: { level: 'machine', design: passthroughIrteNoSourceValidation, scenarios: () => arbMsiScenario() },
  },
  {
    name: passthroughCompatibilityFormat.name,
    base: 'passthrough',
    area: 'interrupts',
    bugClass: 'compatibility-format interrupts left enabled: a device bypasses interrupt remapping',
    reference:
      'Wojtczuk & Rutkowska, "Following the White Rabbit: software attacks against Intel VT-d" (2011), the compatibility-format bypass; VT-d specification §5.1.2.1 and GCMD.CFI',
    property: 'resource-control',
    minimalLength: 4,
    minimalWhy:
      "With EAX = 0xfee00023 at boot: (1) OUT to DATA (vector 0x23 in bits 7:0); (2) OUT to ADDRESS (0xFEE00020: the interrupt range, bit 4 = 0: compatibility format); (3) OUT to COMMAND (bits 1:0 = START | TO_MEMORY); (4) the completion writes the message, which passes remapping unremapped as host vector 0x23: the hypervisor takes a guest device's interrupt (the correct preset blocks it: fault 25h). DATA's reset value 0 is no valid vector, and the address, start and completion are each needed, so four.",
    target: { level: 'machine', design: passthroughCompatibilityFormat, scenarios: () => arbMsiScenario() },
  },
  {
    name: shadowInjectsWithIfClear.name,
    base: 'shadow',
    area: 'interrupts',
    bugClass: "a virtual interrupt injected while the guest's IF is clear",
    reference:
      'SDM Vol. 3C §27.6 (VM-entry event injection ignores RFLAGS.IF: the VMM must wait for an interrupt window)',
    property: 'equivalence',
    minimalLength: 1,
    minimalWhy:
      "Booted with IF = 0 (the plain boot): one timer tick exits to the hypervisor, which makes the guest's virtual timer vector pending and, after handling the exit, injects it with IF = 0, where bare metal keeps it pending. (A device's MSI does the same in three operations: OUT VECTOR, OUT COMMAND, the completion.)",
    target: { level: 'machine', design: shadowInjectsWithIfClear },
  },
  {
    name: eptTimerNotExiting.name,
    base: 'ept',
    area: 'interrupts',
    bugClass: 'a timer the guest can mask from the hypervisor (external-interrupt exiting off)',
    reference:
      'CVE-2015-5307 (a guest kept its host CPU in an un-intercepted exception loop); Popek & Goldberg 1974, resource control',
    property: 'resource-control',
    minimalLength: 1,
    minimalWhy:
      'The exit controls hold from VM entry; resource control checks after each step that external interrupts exit, so one operation (any) shows it. A timer tick with IF = 0 then stays with the guest.',
    target: { level: 'machine', design: eptTimerNotExiting },
  },
  {
    name: shadowDeviceModelTrustsAddress.name,
    base: 'shadow',
    area: 'devices',
    bugClass: 'an emulated device model that trusts a guest-given address (VENOM-style overrun)',
    reference: 'VENOM, CVE-2015-3456 (QEMU floppy controller FIFO overrun by a guest-controlled index)',
    property: 'resource-control',
    minimalLength: 3,
    minimalWhy: `With EAX = (the guest's memory size, so the overrun lands on the next guest's page directory) | 3: (1) OUT to ADDRESS; (2) OUT to COMMAND (START | TO_MEMORY; both traps emulated by the device model); (3) the completion writes DATA = 0 over the next guest's first PDE. Two guests must exist, since past the last guest there is no memory.`,
    target: { level: 'machine', design: shadowDeviceModelTrustsAddress },
  },
  {
    name: eptBackendTrustsAddress.name,
    base: 'ept',
    area: 'devices',
    bugClass: "a paravirtual back end that trusts the ring slot's address",
    reference: 'CVE-2019-14835 (vhost-net: guest-controlled descriptors overflow a host buffer)',
    property: 'resource-control',
    minimalLength: 3,
    minimalWhy:
      "As for the device model: (1) OUT to ADDRESS (the front end's ring store, no exit); (2) OUT to COMMAND (the notify, which exits to the back end); (3) the back end's completion writes past the guest's memory into the next guest's page directory.",
    target: { level: 'machine', design: eptBackendTrustsAddress },
  },
];
