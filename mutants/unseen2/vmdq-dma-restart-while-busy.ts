/**
 * FROZEN: nothing under mutants/unseen2/ changes after its first commit.
 *
 * vmdq, whose emulated DMA engine accepts a new START while a transfer is in flight.
 */
import {
  commitGuest,
  composeDesign,
  type Design,
  DMA_PORT_BASE,
  guestView,
  standardHandle,
  vmdq,
} from '../../index.ts';
import { GEOMETRY, guest, type UnseenMutant } from '../unseen/types.ts';
import { dmaOut } from './common.ts';

const design: Design = composeDesign({
  ...vmdq,
  name: 'vmdq-dma-restart-while-busy',
  description: 'vmdq, but its device model relatches the job when COMMAND is written with START while busy',
  handle: (h, e) => {
    const out = standardHandle(() => design)(h, e);
    if (e.kind !== 'exit' || e.op.kind !== 'out' || e.op.port !== DMA_PORT_BASE + 2) return out;
    const v = guestView(design, out, out.current);
    const engines = v.devices;
    const e0 = engines?.[0];
    const value = v.cpu.regs[0];
    if (!e0?.job || !(value & 1)) return out;
    // The flaw: the device model starts the new command although a transfer is in flight.
    const job = { address: (e0.address & ~3) >>> 0, data: e0.data, toMemory: (value & 2) !== 0 };
    return commitGuest(design, out, out.current, { ...v, devices: [{ ...e0, job }, ...engines!.slice(1)] });
  },
});

export const vmdqDmaRestartWhileBusy: UnseenMutant = {
  name: 'vmdq-dma-restart-while-busy',
  base: 'vmdq',
  level: 'machine',
  area: 'devices',
  bugClass: 'device model state machine: a command accepted in a state the device must refuse it in',
  reference:
    'the model’s device contract (model/devices.ts: “a START while busy is ignored”); QEMU device-model bugs of the same shape, e.g. CVE-2015-3456 (VENOM: the FDC accepting commands in the wrong phase) and CVE-2016-1568 (IDE AHCI restart of an in-flight request)',
  flaw: 'The emulated engine ignores BUSY: a second START relatches ADDRESS, DATA and the direction into the in-flight job, so the transfer the guest started lands somewhere else.',
  property: 'equivalence',
  minimal: 3,
  minimalWhy:
    'A transfer must be started (OUT COMMAND with START), a register changed (OUT ADDRESS) and START written again while busy (OUT COMMAND): 3, with EAX = 0x2003 serving all three (START | TO_MEMORY; address 0x2000). Equivalence compares the engine’s job as soon as the second START latches it.',
  design,
  witness: {
    geometry: GEOMETRY,
    guests: [guest({ devices: 1, regs: [0x2003, 0, 0, 0] })],
    ops: [
      { guest: 0, op: dmaOut(2) },
      { guest: 0, op: dmaOut(0) },
      { guest: 0, op: dmaOut(2) },
    ],
  },
};
