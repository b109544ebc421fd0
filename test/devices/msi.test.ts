/**
 * MSIs as messages and interrupt remapping, by hand. Expected values follow the Intel SDM Vol. 3A
 * §11.11 (MSI address: 0xFEE in bits 31:20, destination ID 19:12; data: vector 7:0) and the VT-d
 * specification §5.1 (remappable format: address bit 4 = 1, handle[14:0] in bits 19:5, handle[15]
 * in bit 2, SHV bit 3, subhandle in data 15:0 when SHV; the IRTE's P, FPD, SID, SQ and SVT; fault
 * reasons 21h index past the table, 22h not present, 25h compatibility format blocked, 26h
 * source validation), computed here from those bit positions, not from the code.
 */
import {
  bootMachine,
  createHost,
  DMA_STATUS,
  type DmaEngine,
  decodeDmaPort,
  decodeMsi,
  dmaComplete,
  dmaMsiMessage,
  dmaRead,
  dmaWrite,
  guestView,
  type HostVector,
  hostIo,
  IDLE_DMA_ENGINE,
  IOMMU_OFF,
  type IommuState,
  MSI_REG,
  msiVector,
  type Op,
  passthrough,
  type RemapEntry,
  routeMsi,
  routeMsiMessage,
  runHosted,
  step,
} from 'hyperprop';
import { describe, expect, it } from 'vitest';

describe('MSI registers (model/devices.ts)', () => {
  it('the MSI ports are 0x60 + 2d (ADDRESS) and 0x61 + 2d (DATA); the DMA ports keep their numbers', () => {
    expect(decodeDmaPort(0x60, 1)).toEqual({ device: 0, reg: MSI_REG.ADDRESS });
    expect(decodeDmaPort(0x63, 2)).toEqual({ device: 1, reg: MSI_REG.DATA });
    expect(decodeDmaPort(0x62, 1)).toBeUndefined(); // device 1 absent
    expect(decodeDmaPort(0x43, 1)).toEqual({ device: 0, reg: 3 });
    expect(decodeDmaPort(0x44, 1)).toBeUndefined();
  });

  it('an engine programmed through VECTOR only sends the compatibility-format message (0xFEE00000, vector)', () => {
    const e = dmaWrite(IDLE_DMA_ENGINE, 3, 0x31);
    expect(dmaMsiMessage(e)).toEqual({ address: 0xfee0_0000, data: 0x31 });
    expect(dmaRead(e, MSI_REG.ADDRESS)).toBe(0xfee0_0000);
    expect(dmaRead(e, MSI_REG.DATA)).toBe(0x31);
    expect(e).toEqual({ ...IDLE_DMA_ENGINE, vector: 0x31 }); // no new fields until the MSI ports are written
  });

  it('MSI DATA bits 7:0 are the VECTOR register; VECTOR/STATUS reads it in bits 15:8', () => {
    const e = dmaWrite(dmaWrite(IDLE_DMA_ENGINE, MSI_REG.ADDRESS, 0xfee0_1000), MSI_REG.DATA, 0x0000_4041);
    expect(e.vector).toBe(0x41);
    expect(dmaRead(e, 3)).toBe(0x41 << 8);
    expect(dmaMsiMessage(e)).toEqual({ address: 0xfee0_1000, data: 0x4041 });
    expect(dmaMsiMessage(dmaWrite(e, 3, 0x32))).toEqual({ address: 0xfee0_1000, data: 0x4032 });
  });

  it('the reference reads a message as compatibility format: data bits 7:0 if the address is 0xFEEx_xxxx and the vector legal', () => {
    expect(msiVector({ address: 0xfee0_0000, data: 0x31 })).toBe(0x31);
    expect(msiVector({ address: 0xfee0_2630, data: 0x0000_0045 })).toBe(0x45); // bit 4 reserved there (§11.11.1)
    expect(msiVector({ address: 0xfed0_0000, data: 0x31 })).toBeUndefined(); // not the interrupt range
    expect(msiVector({ address: 0xfee0_0000, data: 0x0f })).toBeUndefined(); // vectors 0..15 illegal (§11.5.3)
  });

  it('a DMA write to the interrupt range is a message, not a memory write; the completion MSI follows it', () => {
    const busy: DmaEngine = {
      ...IDLE_DMA_ENGINE,
      vector: 0x31,
      status: DMA_STATUS.BUSY,
      job: { address: 0xfee0_0000, data: 0x45, toMemory: true },
    };
    const memory = bootMachine().memory;
    const r = dmaComplete(busy, 0, memory, () => {
      throw new Error('the interrupt range never reaches the DMA port');
    })!;
    expect(r.request).toEqual({ address: 0xfee0_0000, data: 0x45 });
    expect(r.message).toEqual({ address: 0xfee0_0000, data: 0x31 });
    expect(r.memory).toBe(memory);
    expect(r.wrote).toBeUndefined();
    expect(r.engine.status).toBe(DMA_STATUS.DONE);
  });

  it('on bare metal the forged message and the completion both raise their vectors', () => {
    const ops: Op[] = [
      { kind: 'movImm', dst: 0, imm: 0x45 },
      { kind: 'out', port: 0x41 },
      { kind: 'movImm', dst: 0, imm: 0x31 },
      { kind: 'out', port: 0x43 },
      { kind: 'movImm', dst: 0, imm: 0xfee0_0003 },
      { kind: 'out', port: 0x40 },
      { kind: 'out', port: 0x42 },
      { kind: 'dmaComplete', device: 0 },
    ];
    const m = ops.reduce((x, op) => step(x, op).machine, bootMachine({ devices: 1 }));
    expect(m.cpu.pending).toEqual([0x31, 0x45]);
  });
});

describe('message decoding (VT-d §5.1.2)', () => {
  it('compatibility format: bit 4 = 0, destination ID in 19:12, vector in data 7:0', () => {
    const d = decodeMsi({ address: 0xfee0_3000, data: 0x0000_4031 });
    expect(d.remappable).toBe(false);
    expect(d.destination).toBe(3);
    expect(d.vector).toBe(0x31);
  });

  it('remappable format: handle[14:0] from bits 19:5, handle[15] from bit 2; SHV adds the subhandle', () => {
    // handle 0x8131: 0x131 << 5 = 0x2620, bit 4 = 0x10, handle[15] at bit 2 = 0x4 -> 0xFEE02634.
    const a = decodeMsi({ address: 0xfee0_2634, data: 0 });
    expect([a.remappable, a.handle, a.subhandleValid, a.index]).toEqual([true, 0x8131, false, 0x8131]);
    // Same with SHV (bit 3 = 0x8) and subhandle 5 in data 15:0: interrupt index 0x8136.
    const b = decodeMsi({ address: 0xfee0_263c, data: 0x0005 });
    expect([b.remappable, b.handle, b.subhandleValid, b.index]).toEqual([true, 0x8131, true, 0x8136]);
  });
});

describe('interrupt remapping (VT-d §5.1, §9.10)', () => {
  // Handle 0: requester 0x08 (bus 0 device 1), to guest 0 with vector 0x40; handle 1: not present;
  // handle 2: bus range 1..3 (SVT = 10); handle 3: requester 0x08 with SQ = 1 (function bit 2 ignored).
  const irt: RemapEntry[] = [
    { sid: 0x08, guest: 0, present: true, vector: 0x40, svt: 'requester-id', sq: 0 },
    { sid: 0x10, guest: 1, present: false, vector: 0x41 },
    { sid: 0x0103, guest: 1, present: true, vector: 0x42, svt: 'bus-range' },
    { sid: 0x08, guest: 1, present: true, vector: 0x43, svt: 'requester-id', sq: 1, fpd: true },
  ];
  const on: IommuState = { ...IOMMU_OFF, interruptRemapping: true, irt };
  const handle = (h: number) => (0xfee0_0000 | (h << 5) | 0x10) >>> 0;
  const hv: HostVector[] = [{ vector: 0x30, guest: 1 }];

  it('an IRTE that accepts the requester decides destination and vector (not the data)', () => {
    expect(routeMsiMessage(on, [], 0x08, { address: handle(0), data: 0x99 })).toEqual({
      kind: 'guest',
      guest: 0,
      vector: 0x40,
    });
  });
  it('a handle past the table is blocked (21h), a not-present IRTE too (22h)', () => {
    expect(routeMsiMessage(on, [], 0x08, { address: handle(4), data: 0 })).toMatchObject({
      kind: 'blocked',
      reason: 'index-past-table',
      index: 4,
      recorded: true,
    });
    expect(routeMsiMessage(on, [], 0x10, { address: handle(1), data: 0 })).toMatchObject({
      kind: 'blocked',
      reason: 'not-present',
      index: 1,
    });
  });
  it('SVT = 01: another requester is blocked (26h); the same entry with SVT = 00 delivers it', () => {
    expect(routeMsiMessage(on, [], 0x10, { address: handle(0), data: 0 })).toMatchObject({
      kind: 'blocked',
      reason: 'source-validation',
    });
    const none: IommuState = { ...on, irt: irt.map((e, i) => (i === 0 ? { ...e, svt: 'none' } : e)) };
    expect(routeMsiMessage(none, [], 0x10, { address: handle(0), data: 0 })).toEqual({
      kind: 'guest',
      guest: 0,
      vector: 0x40,
    });
  });
  it('SQ = 1 ignores function bit 2; SVT = 10 checks the bus; FPD blocks without recording', () => {
    expect(routeMsiMessage(on, [], 0x0c, { address: handle(3), data: 0 })).toMatchObject({
      kind: 'guest',
      vector: 0x43,
    });
    expect(routeMsiMessage(on, [], 0x0a, { address: handle(3), data: 0 })).toMatchObject({
      kind: 'blocked',
      reason: 'source-validation',
      recorded: false,
    });
    expect(routeMsiMessage(on, [], 0x0208, { address: handle(2), data: 0 })).toMatchObject({
      kind: 'guest',
      vector: 0x42,
    });
    expect(routeMsiMessage(on, [], 0x0408, { address: handle(2), data: 0 })).toMatchObject({ kind: 'blocked' });
  });
  it('compatibility format is blocked while remapping is on (25h), passes unremapped with CFIS', () => {
    const m = { address: 0xfee0_0000, data: 0x30 };
    expect(routeMsiMessage(on, hv, 0x08, m)).toMatchObject({ kind: 'blocked', reason: 'compatibility-blocked' });
    expect(routeMsiMessage({ ...on, compatibilityFormat: true }, hv, 0x08, m)).toEqual({
      kind: 'guest',
      guest: 1,
      vector: 0x30,
    });
    expect(routeMsiMessage({ ...on, compatibilityFormat: true }, hv, 0x08, { ...m, data: 0x21 })).toEqual({
      kind: 'host',
      vector: 0x21,
    });
    expect(routeMsiMessage(IOMMU_OFF, hv, 0x08, m)).toEqual({ kind: 'guest', guest: 1, vector: 0x30 });
  });
  it('routeMsi keeps its vector form (by source id) and takes a message too', () => {
    expect(routeMsi(on, [], 0x08, 0x55)).toEqual({ kind: 'guest', guest: 0, vector: 0x55 });
    expect(routeMsi(on, [], 0x99, 0x55)).toEqual({ kind: 'blocked' });
    expect(routeMsi(on, [], 0x10, { address: handle(0), data: 0 })).toEqual({ kind: 'blocked' });
  });
});

describe('passthrough: forged messages reach the IOMMU with the device’s requester id', () => {
  const dev = (eax = 0) => {
    const m = bootMachine({ devices: 1 });
    return { ...m, cpu: { ...m.cpu, regs: [eax, 0, 0, 0] as [number, number, number, number] } };
  };
  const forge = (g: number): { guest: number; op: Op }[] =>
    (
      [
        { kind: 'out', port: 0x40 },
        { kind: 'out', port: 0x42 },
        { kind: 'dmaComplete', device: 0 },
      ] as Op[]
    ).map((op) => ({ guest: g, op }));

  it('guest 0 naming guest 1’s IRTE (handle 256 + 0x31) is blocked: SID 0x10 is not requester 0x08 (26h)', () => {
    const eax = (0xfee0_0000 | ((256 + 0x31) << 5) | 0x10 | 3) >>> 0;
    const h0 = createHost(passthrough, [dev(eax), dev()]);
    const h = runHosted(passthrough, h0, forge(0));
    expect(hostIo(h).iommu.faults).toEqual([
      { kind: 'interrupt', rid: 0x08, vector: 0, reason: 'source-validation', index: 256 + 0x31 },
    ]);
    expect(guestView(passthrough, h, 1).cpu.pending).toEqual([]);
  });

  it('a compatibility-format message is blocked (25h) and reaches no one', () => {
    const h0 = createHost(passthrough, [dev(0xfee0_0023)]);
    const h = runHosted(passthrough, h0, [{ guest: 0, op: { kind: 'out', port: 0x41 } }, ...forge(0)]);
    expect(hostIo(h).iommu.faults).toEqual([
      { kind: 'interrupt', rid: 0x08, vector: 0x23, reason: 'compatibility-blocked' },
    ]);
    expect(hostIo(h).hostInterrupts).toEqual([]);
    expect(guestView(passthrough, h, 0).cpu.pending).toEqual([]);
  });

  it('the guest’s writes to its MSI ports stay in its view; the function keeps the hypervisor’s remappable address', () => {
    const h0 = createHost(passthrough, [dev(0xfee0_1000)]);
    const h = runHosted(passthrough, h0, [{ guest: 0, op: { kind: 'out', port: 0x60 } }]);
    expect(h.counters.reasons).toMatchObject({ 'instruction out': 1 });
    expect(guestView(passthrough, h, 0).devices?.[0]?.msiAddress).toBe(0xfee0_1000);
    // Handle 0 with SHV (VT-d §5.1.2.2): 0xFEE00000 | 1 << 4 | 1 << 3.
    expect(hostIo(h).devices[0]?.msiAddress).toBe(0xfee0_0018);
  });
});
