/**
 * Devices on the hosted machine, by hand. Expected host addresses come from the host layout
 * (model/host/layout.ts): with 32-frame guests, guest g's guest-physical frame f is host frame
 * 1024 + 32 g + f; host frames 0..63 are the hypervisor's own and 64 (g+1) .. 64 (g+2) - 1 are
 * guest g's hypervisor pool. Device registers and events are model/devices.ts's (checked against
 * the SDM in test/devices/reference.test.ts); requester ids are model/host/io.ts's (passthrough
 * device n is bus 0 device n+1, rid (n+1) << 3; SR-IOV's PF is 0x1000 and VF n is 0x1001 + n).
 */
import {
  bootFrames,
  bootMachine,
  checkRefinement,
  composeDesign,
  createHost,
  type Design,
  ept,
  type GuestOp,
  guestView,
  type HostMachine,
  hostIo,
  type Machine,
  type Op,
  passthrough,
  readWord,
  runHosted,
  sameArchitecturalState,
  sameMemory,
  shadow,
  sriov,
  step,
} from 'hyperprop';
import { describe, expect, it } from 'vitest';

const IF = 1 << 9;
const PAGE = 4096;
const TIMER = 0x20;
const frames = bootFrames(bootMachine().geometry);
const GPA = frames.data(1, 1) * PAGE + 2 * 4; // word 2 of a data frame (frame 11)
const hostAddress = (g: number, gpa: number) => (1024 + 32 * g) * PAGE + gpa;
const STATUS = { DONE: 2, ERROR: 4 } as const;

const guest = (eflags = IF): Machine => bootMachine({ devices: 1, eflags });
const program = (g: number, address: number, data: number, vector: number, command = 0b11): GuestOp[] =>
  (
    [
      { kind: 'movImm', dst: 0, imm: address },
      { kind: 'out', port: 0x40 },
      { kind: 'movImm', dst: 0, imm: data },
      { kind: 'out', port: 0x41 },
      { kind: 'movImm', dst: 0, imm: vector },
      { kind: 'out', port: 0x43 },
      { kind: 'movImm', dst: 0, imm: command },
      { kind: 'out', port: 0x42 },
    ] as Op[]
  ).map((op) => ({ guest: g, op }));
const complete = (g: number): GuestOp => ({ guest: g, op: { kind: 'dmaComplete', device: 0 } });
const readStatus = (g: number): GuestOp => ({ guest: g, op: { kind: 'in', port: 0x43 } });

/** The same guest operations on bare metal. */
const bare = (m: Machine, ops: readonly GuestOp[], g: number) =>
  ops.filter((o) => o.guest === g).reduce((x, { op }) => step(x, op).machine, m);

const noRemap: Design = composeDesign({
  name: 'passthrough-without-interrupt-remapping (test only)',
  description: 'passthrough with MSIs delivered as raw host vectors',
  axes: { cpu: 'hardware-assisted', mmu: 'nested', tlb: 'vpid', io: 'passthrough', interruptRemapping: false },
});
const noIommu: Design = composeDesign({
  name: 'passthrough-without-iommu (test only)',
  description: 'passthrough with DMA remapping off: bus addresses are host addresses',
  axes: { cpu: 'hardware-assisted', mmu: 'nested', tlb: 'vpid', io: 'passthrough', iommu: false },
});

describe('passthrough: DMA through the IOMMU', () => {
  it('a DMA to a guest-physical address the guest owns lands in its host frame (through its own domain)', () => {
    const h0 = createHost(passthrough, [guest(), guest()]);
    const ops = [...program(0, GPA, 0xaaaa_0000, 0), complete(0), ...program(1, GPA, 0xbbbb_1111, 0), complete(1)];
    const h = runHosted(passthrough, h0, ops);
    expect(readWord(h.memory, hostAddress(0, GPA))).toBe(0xaaaa_0000);
    expect(readWord(h.memory, hostAddress(1, GPA))).toBe(0xbbbb_1111);
    expect(readWord(guestView(passthrough, h, 0).memory, GPA)).toBe(0xaaaa_0000);
    expect(hostIo(h).iommu.faults).toEqual([]);
    // The guest programmed the real device: no port access left the guest.
    expect(h.counters.traps.out ?? 0).toBe(0);
    expect(h.counters.traps.in ?? 0).toBe(0);
  });

  for (const [what, gpa] of [
    ['a hypervisor frame (host frame 64: guest 0’s pool)', 64 * PAGE],
    ['another guest’s frame (host frame 1056: guest 1’s frame 0)', 1056 * PAGE],
    ['just past the guest’s memory (frame 32)', 32 * PAGE],
  ] as const) {
    it(`a DMA to a guest-physical address the guest does not own, equal to the host address of ${what}: IOMMU fault, no memory reached`, () => {
      const h0 = createHost(passthrough, [guest(), guest()]);
      const before = runHosted(passthrough, h0, program(0, gpa, 0xdead_beef, 0));
      const after = runHosted(passthrough, before, [complete(0), readStatus(0)]);
      expect(sameMemory(before.memory, after.memory)).toBe(true);
      expect(hostIo(after).iommu.faults).toEqual([{ kind: 'dma', rid: 1 << 3, address: gpa, write: true }]);
      // The guest sees what bare metal shows: nothing answered (DONE | ERROR), as for any address past its memory.
      expect(guestView(passthrough, after, 0).cpu.regs[0]).toBe(STATUS.DONE | STATUS.ERROR);
      const ops = [...program(0, gpa, 0xdead_beef, 0), complete(0), readStatus(0)];
      expect(checkRefinement(passthrough, h0, ops).divergence).toBeUndefined();
    });
  }

  it('without an IOMMU (test-only design) the same DMA writes the hypervisor’s frame', () => {
    const h0 = createHost(noIommu, [guest(), guest()]);
    const h = runHosted(noIommu, h0, [...program(0, 64 * PAGE, 0xdead_beef, 0), complete(0)]);
    expect(readWord(h.memory, 64 * PAGE)).toBe(0xdead_beef);
  });

  it('a read DMA from memory the guest does not own reads all ones, not the other guest’s word', () => {
    const h0 = createHost(passthrough, [guest(), guest()]);
    const seeded: HostMachine = runHosted(passthrough, h0, [...program(1, GPA, 0x1234_5678, 0), complete(1)]);
    const h = runHosted(passthrough, seeded, [
      ...program(0, 1056 * PAGE + GPA, 0, 0, 0b01),
      complete(0),
      { guest: 0, op: { kind: 'in', port: 0x41 } },
    ]);
    expect(guestView(passthrough, h, 0).cpu.regs[0]).toBe(0xffff_ffff);
  });
});

describe('passthrough: MSIs through interrupt remapping', () => {
  it('an MSI is delivered to the owner guest only (IF = 1: at once; the other guest’s vCPU is untouched)', () => {
    const h0 = createHost(passthrough, [guest(), guest()]);
    const ops = [...program(0, GPA, 1, 0x31), complete(0)];
    const h = runHosted(passthrough, h0, ops);
    const v0 = guestView(passthrough, h, 0);
    // Delivered through the boot IDT's interrupt gate: IF cleared, nothing pending; as on bare metal.
    expect(v0.cpu.eflags & IF).toBe(0);
    expect(v0.cpu.pending).toEqual([]);
    expect(sameArchitecturalState(v0, bare(guest(), ops, 0))).toBe(true);
    expect(guestView(passthrough, h, 1).cpu).toEqual(guestView(passthrough, h0, 1).cpu);
    expect(h.counters.reasons['device-interrupt']).toBe(1);
  });

  it('IF = 0: the MSI stays pending in the owner’s vCPU, and is injected when IF allows (highest vector first)', () => {
    const h0 = createHost(passthrough, [guest(0), guest(0)]);
    const ops = [...program(0, GPA, 1, 0x31), complete(0), { guest: 0, op: { kind: 'timer' } } as GuestOp];
    const h = runHosted(passthrough, h0, ops);
    expect(guestView(passthrough, h, 0).cpu.pending).toEqual([TIMER, 0x31]);
    expect(guestView(passthrough, h, 1).cpu.pending).toEqual([]);
    const opened = [
      ...ops,
      { guest: 0, op: { kind: 'sti' } },
      { guest: 0, op: { kind: 'movImm', dst: 1, imm: 0 } },
    ] as GuestOp[];
    const h2 = runHosted(passthrough, h0, opened);
    expect(guestView(passthrough, h2, 0).cpu.pending).toEqual([TIMER]); // 0x31 delivered, its gate cleared IF
    expect(checkRefinement(passthrough, h0, opened).divergence).toBeUndefined();
  });

  it('without interrupt remapping (test-only design), the guest’s MSI reaches another guest', () => {
    // The hypervisor gave host vector 0x30 to guest 0's device and 0x31 to guest 1's; guest 0 names 0x31.
    const h0 = createHost(noRemap, [guest(0), guest(0)]);
    const ops = [...program(0, GPA, 1, 0x31), complete(0)];
    const h = runHosted(noRemap, h0, ops);
    expect(guestView(noRemap, h, 1).cpu.pending).toEqual([0x31]);
    expect(guestView(noRemap, h, 0).cpu.pending).toEqual([]);
    expect(checkRefinement(noRemap, h0, ops).divergence?.step).toBe(ops.length - 1);
    // The correct design sends the same MSI to guest 0.
    const ok = runHosted(passthrough, createHost(passthrough, [guest(0), guest(0)]), ops);
    expect(guestView(passthrough, ok, 0).cpu.pending).toEqual([0x31]);
    expect(guestView(passthrough, ok, 1).cpu.pending).toEqual([]);
  });

  it('without interrupt remapping, an MSI naming the timer’s vector reaches the host, and no guest', () => {
    const h0 = createHost(noRemap, [guest(0), guest(0)]);
    const h = runHosted(noRemap, h0, [...program(0, GPA, 1, TIMER), complete(0)]);
    expect(hostIo(h).hostInterrupts).toEqual([{ rid: 1 << 3, vector: TIMER }]);
    expect(guestView(noRemap, h, 0).cpu.pending).toEqual([]);
    expect(guestView(noRemap, h, 1).cpu.pending).toEqual([]);
    // With remapping the same MSI is guest 0's own timer-vector interrupt.
    const ok = runHosted(passthrough, createHost(passthrough, [guest(0), guest(0)]), [
      ...program(0, GPA, 1, TIMER),
      complete(0),
    ]);
    expect(guestView(passthrough, ok, 0).cpu.pending).toEqual([TIMER]);
    expect(hostIo(ok).hostInterrupts).toEqual([]);
  });

  it('a guest cannot keep the timer from the hypervisor: with IF = 0 the tick still exits', () => {
    const h0 = createHost(passthrough, [guest(0)]);
    const h = runHosted(passthrough, h0, [{ guest: 0, op: { kind: 'timer' } }]);
    expect(h.counters.reasons['external-interrupt']).toBe(1);
    expect(guestView(passthrough, h, 0).cpu.pending).toEqual([TIMER]);
  });
});

describe('SR-IOV: a virtual function per guest', () => {
  it('each VF has its own requester id, domain and remapping entry; the PF stays the hypervisor’s', () => {
    const h0 = createHost(sriov, [guest(), guest(), guest()]);
    const io = hostIo(h0);
    expect(io.devices.map((d) => [d.rid, d.function, d.owner])).toEqual([
      [0x1000, 'pf', undefined],
      [0x1001, 'vf', 0],
      [0x1002, 'vf', 1],
      [0x1003, 'vf', 2],
    ]);
    expect(io.iommu.domains.map((d) => [d.rid, d.root])).toEqual([
      [0x1001, 64 + 6],
      [0x1002, 128 + 6],
      [0x1003, 192 + 6],
    ]);
    // One block of 256 IRTEs per VF (handle 256 n), entry v delivering vector v; vectors 0..15 are
    // not valid MSI vectors, so those entries are not present. The VF's real MSI ADDRESS names its
    // block in remappable format with SHV (VT-d §5.1.2.2): 0xFEE00000 | handle[14:0] << 5 | 1 << 4 | 1 << 3.
    expect(io.iommu.irt.length).toBe(3 * 256);
    expect(io.iommu.irt[256 + 0x31]).toEqual({
      sid: 0x1002,
      guest: 1,
      present: true,
      vector: 0x31,
      svt: 'requester-id',
      sq: 0,
    });
    expect(io.iommu.irt[512 + 15]?.present).toBe(false);
    expect(io.iommu.irt.filter((e) => e.present).map((e) => e.sid)).toEqual([
      ...Array(240).fill(0x1001),
      ...Array(240).fill(0x1002),
      ...Array(240).fill(0x1003),
    ]);
    expect(io.devices.map((d) => d.msiAddress)).toEqual([undefined, 0xfee0_0018, 0xfee0_2018, 0xfee0_4018]);
    const h = runHosted(sriov, h0, [
      ...program(2, GPA, 7, 0x31),
      complete(2),
      ...program(1, 1024 * PAGE, 8, 0),
      complete(1),
    ]);
    expect(readWord(h.memory, hostAddress(2, GPA))).toBe(7);
    expect(hostIo(h).iommu.faults).toEqual([{ kind: 'dma', rid: 0x1002, address: 1024 * PAGE, write: true }]);
    expect(readWord(h.memory, hostAddress(0, 0))).toBe(readWord(h0.memory, hostAddress(0, 0)));
  });
});

describe('emulated and paravirtual devices: the guest sees what bare metal shows', () => {
  const ops = (g: number) => [...program(g, GPA, 0x5555_aaaa, 0x31), complete(g), readStatus(g)];
  for (const [design, io] of [
    [shadow, 'emulated'],
    [ept, 'paravirtual'],
    [passthrough, 'passthrough'],
  ] as const) {
    it(`${design.name} (${io}): the word lands, the status reads DONE with vector 0x31, the MSI is delivered`, () => {
      const h0 = createHost(design, [guest(), guest()]);
      const h = runHosted(design, h0, [...ops(1), ...ops(0)]);
      for (const g of [0, 1]) {
        const v = guestView(design, h, g);
        expect(readWord(v.memory, GPA)).toBe(0x5555_aaaa);
        expect(v.cpu.regs[0]).toBe(STATUS.DONE | (0x31 << 8));
        expect(v.cpu.eflags & IF).toBe(0); // delivered through an interrupt gate
        expect(sameArchitecturalState(v, bare(guest(), ops(g), g))).toBe(true);
        expect(readWord(h.memory, hostAddress(g, GPA))).toBe(0x5555_aaaa);
      }
      expect(checkRefinement(design, h0, [...ops(1), ...ops(0)]).divergence).toBeUndefined();
    });
  }

  it('exits per transfer (4 OUTs, 1 completion, 1 IN): emulated traps all 5 port accesses, paravirtual only the notify, passthrough none', () => {
    const count = (d: Design) => {
      const h = runHosted(d, createHost(d, [guest()]), ops(0));
      return { out: h.counters.traps.out ?? 0, in: h.counters.traps.in ?? 0, calls: h.counters.calls.dmaComplete ?? 0 };
    };
    expect(count(shadow)).toEqual({ out: 4, in: 1, calls: 1 });
    expect(count(ept)).toEqual({ out: 1, in: 0, calls: 1 });
    expect(count(passthrough)).toEqual({ out: 0, in: 0, calls: 0 });
  });
});
