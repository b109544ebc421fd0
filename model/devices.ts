/**
 * Devices of the reference machine: a DMA engine the kernel programs by port I/O, which reads or
 * writes one word of (guest-)physical memory and signals completion with a message-signalled
 * interrupt (MSI) carrying a vector. Plain data and pure functions; the ISA (isa.ts) decodes the
 * ports and runs the `dmaComplete` event, reaching memory through the hardware's DMA port (bare
 * metal: the installed frames; a host: the IOMMU, model/host/iommu.ts).
 *
 * Registers of device d (ports DMA_PORT_BASE + 4d + r; each port is a 32-bit register here, a
 * simplification of real byte-addressed I/O space):
 * - r = 0 ADDRESS: the physical address (bus address: a guest-physical one under a hypervisor) of
 *   the word to transfer (bits 1:0 ignored);
 * - r = 1 DATA: the word a write-to-memory transfer stores; a read-from-memory transfer leaves the
 *   word it read here;
 * - r = 2 COMMAND: writing it with START (bit 0) latches ADDRESS, DATA and the direction (bit 1,
 *   TO_MEMORY) into a job and makes the engine busy; a START while busy is ignored. Reads return
 *   the last command written;
 * - r = 3 VECTOR / STATUS: writes set the MSI vector (bits 7:0; vectors 0..15 are not valid MSI
 *   vectors on x86, so they send no interrupt); reads return STATUS (BUSY, DONE, ERROR) in bits
 *   7:0 and the vector in bits 15:8;
 * - r = 4 MSI ADDRESS and r = 5 MSI DATA (the PCI MSI capability's Message Address and Message
 *   Data), an extension at their own ports MSI_PORT_BASE + 2d + (r - 4) (0x60..0x67), so the four
 *   ports above keep their numbers. MSI DATA bits 7:0 are the VECTOR register itself (one
 *   register, two ports). An engine whose MSI ADDRESS was never written sends the compatibility-
 *   format message (0xFEE00000, vector), exactly what the vector register alone sent before.
 *
 * An MSI is a 32-bit memory write of the message data to the message address (Intel SDM Vol. 3A
 * §11.11): address bits 31:20 = 0xFEE, destination ID 19:12, RH bit 3, DM bit 2; data: vector 7:0,
 * delivery mode 10:8, level 14, trigger mode 15. VT-d §5.1.2 adds the remappable format (address
 * bit 4 = 1: the handle, see host/iommu.ts). The device writes the message with its requester id;
 * a DMA write to the interrupt address range (0xFEEx_xxxx) is also a message, not a memory write
 * (VT-d §5.1: the platform treats writes to that range as interrupt requests): a driver, or a
 * guest that owns the device, can send any message that way.
 *
 * Completion is an event (DESIGN.md §1), not an instruction: the job's word moves, the engine
 * becomes DONE (with ERROR when no memory answered: a master abort, or a DMA the IOMMU blocked),
 * and the MSI is sent. Reads of registers have no side effects.
 */
import { type PhysicalMemory, readWord, writeWord } from './memory.ts';

/** First port of device 0's registers. */
export const DMA_PORT_BASE = 0x40;
/** Ports each device decodes. */
export const DMA_PORTS_PER_DEVICE = 4;
/** Devices a machine may have (ports 0x40..0x4f). */
export const MAX_DEVICES = 4;

/** Register offsets within a device's ports. */
export const DMA_REG = { ADDRESS: 0, DATA: 1, COMMAND: 2, VECTOR_STATUS: 3 } as const;
/** COMMAND bits. */
export const DMA_CMD = { START: 1 << 0, TO_MEMORY: 1 << 1 } as const;
/** STATUS bits. */
export const DMA_STATUS = { BUSY: 1 << 0, DONE: 1 << 1, ERROR: 1 << 2 } as const;
/** The lowest vector an MSI may carry (0..15 are reserved for exceptions). */
export const MIN_MSI_VECTOR = 16;
/** First port of device 0's MSI ADDRESS (MSI DATA follows): device d at MSI_PORT_BASE + 2d. */
export const MSI_PORT_BASE = 0x60;
/** Register numbers of the MSI extension (`decodeDmaPort` answers them for the MSI ports). */
export const MSI_REG = { ADDRESS: 4, DATA: 5 } as const;
/** The interrupt address range's base: bits 31:20 = 0xFEE (SDM §11.11.1); destination 0, RH = DM = 0. */
export const MSI_ADDRESS_BASE = 0xfee0_0000;

/** A message-signalled interrupt as it is written: the data word to the address. */
export interface MsiMessage {
  readonly address: number;
  readonly data: number;
}

/** True when a write to `address` is an interrupt request (address bits 31:20 = 0xFEE, SDM §11.11.1). */
export const isMsiAddress = (address: number): boolean => address >>> 20 === 0xfee;

/**
 * The vector a message raises on the reference machine, which has no interrupt-remapping
 * hardware: its local APIC claims the interrupt range and takes the vector from data bits 7:0
 * (SDM §11.11.2); address bit 4 is a reserved bit there (§11.11.1), so a remappable-format
 * message is read the same way. Vectors 0..15 are illegal (§11.5.3: the APIC discards them).
 */
export const msiVector = (m: MsiMessage): number | undefined => {
  const v = m.data & 0xff;
  return isMsiAddress(m.address) && v >= MIN_MSI_VECTOR ? v : undefined;
};

/** A transfer latched by START. */
export interface DmaJob {
  readonly address: number;
  readonly data: number;
  /** True: the device writes `data` to memory; false: it reads memory into DATA. */
  readonly toMemory: boolean;
}

/** One DMA engine's registers. */
export interface DmaEngine {
  readonly address: number;
  readonly data: number;
  readonly command: number;
  readonly vector: number;
  readonly status: number;
  /** The transfer in flight (status BUSY), if any. */
  readonly job?: DmaJob;
  /** MSI ADDRESS; absent until written (the message then goes to MSI_ADDRESS_BASE). */
  readonly msiAddress?: number;
  /** MSI DATA bits 31:8 (bits 7:0 are `vector`); absent until MSI DATA is written. */
  readonly msiData?: number;
}

/** The message the engine's MSI registers hold (an engine programmed only through VECTOR: compatibility format). */
export const dmaMsiMessage = (e: DmaEngine): MsiMessage => ({
  address: (e.msiAddress ?? MSI_ADDRESS_BASE) >>> 0,
  data: (((e.msiData ?? 0) & ~0xff) | (e.vector & 0xff)) >>> 0,
});

/** True when two engines hold the same registers and transfer in flight. */
export const sameDmaEngine = (a: DmaEngine, b: DmaEngine): boolean =>
  a === b ||
  (a.address === b.address &&
    a.data === b.data &&
    a.command === b.command &&
    a.vector === b.vector &&
    a.status === b.status &&
    a.msiAddress === b.msiAddress &&
    a.msiData === b.msiData &&
    (a.job === b.job ||
      (a.job !== undefined &&
        b.job !== undefined &&
        a.job.address === b.job.address &&
        a.job.data === b.job.data &&
        a.job.toMemory === b.job.toMemory)));

/** True when two machines' device lists hold the same engines (absent and empty differ, as in a machine's JSON). */
export const sameDmaEngines = (a: readonly DmaEngine[] | undefined, b: readonly DmaEngine[] | undefined): boolean =>
  a === b ||
  (a !== undefined && b !== undefined && a.length === b.length && a.every((e, i) => sameDmaEngine(e, b[i]!)));

/** A freshly reset engine: every register zero, idle, MSI off. */
export const IDLE_DMA_ENGINE: DmaEngine = Object.freeze({ address: 0, data: 0, command: 0, vector: 0, status: 0 });

/** The device and register a port decodes to, or undefined when no device of `count` decodes it. */
export const decodeDmaPort = (port: number, count: number): { device: number; reg: number } | undefined => {
  const msi = port - MSI_PORT_BASE;
  if (msi >= 0 && msi < 2 * MAX_DEVICES) {
    const device = msi >> 1;
    return device < count ? { device, reg: MSI_REG.ADDRESS + (msi & 1) } : undefined;
  }
  const off = port - DMA_PORT_BASE;
  if (off < 0) return undefined;
  const device = Math.floor(off / DMA_PORTS_PER_DEVICE);
  if (device >= count || device >= MAX_DEVICES) return undefined;
  return { device, reg: off % DMA_PORTS_PER_DEVICE };
};

/** The value IN reads from a register. */
export const dmaRead = (e: DmaEngine, reg: number): number => {
  switch (reg) {
    case DMA_REG.ADDRESS:
      return e.address >>> 0;
    case DMA_REG.DATA:
      return e.data >>> 0;
    case DMA_REG.COMMAND:
      return e.command >>> 0;
    case MSI_REG.ADDRESS:
    case MSI_REG.DATA: {
      const m = dmaMsiMessage(e);
      return reg === MSI_REG.ADDRESS ? m.address : m.data;
    }
    default:
      return ((e.status & 0xff) | ((e.vector & 0xff) << 8)) >>> 0;
  }
};

/** The engine after OUT writes `value` to a register. */
export const dmaWrite = (e: DmaEngine, reg: number, value: number): DmaEngine => {
  const v = value >>> 0;
  switch (reg) {
    case DMA_REG.ADDRESS:
      return { ...e, address: v };
    case DMA_REG.DATA:
      return { ...e, data: v };
    case DMA_REG.COMMAND: {
      const command = v & (DMA_CMD.START | DMA_CMD.TO_MEMORY);
      if (!(command & DMA_CMD.START) || e.job) return { ...e, command };
      const job: DmaJob = {
        address: (e.address & ~3) >>> 0,
        data: e.data,
        toMemory: (command & DMA_CMD.TO_MEMORY) !== 0,
      };
      return { ...e, command, status: DMA_STATUS.BUSY, job };
    }
    case MSI_REG.ADDRESS:
      return { ...e, msiAddress: v };
    case MSI_REG.DATA:
      return { ...e, msiData: (v & ~0xff) >>> 0, vector: v & 0xff };
    default:
      return { ...e, vector: v & 0xff };
  }
};

/**
 * Where a DMA reaches memory: the memory address of a bus address, or DMA_NO_MEMORY when nothing
 * answers (a master abort), or DMA_BLOCKED when an IOMMU refused it (it records a fault).
 * `device` is the index of the device in the machine's device list.
 */
export type DmaPort = (device: number, address: number, write: boolean, memory: PhysicalMemory) => number;
/** A `DmaPort` result: the address is no memory (nothing read or written). */
export const DMA_NO_MEMORY = -1;
/** A `DmaPort` result: the access was blocked (by an IOMMU). */
export const DMA_BLOCKED = -2;

/** What completing a job did. */
export interface DmaCompletion {
  readonly engine: DmaEngine;
  readonly memory: PhysicalMemory;
  /** The vector the reference machine takes from the completion MSI (`msiVector`), else from `request`'s. */
  readonly msi?: number;
  /** The completion MSI the engine's MSI registers hold, when it sent one. */
  readonly message?: MsiMessage;
  /** The transfer itself when it was a write to the interrupt range: a message, sent before the completion's. */
  readonly request?: MsiMessage;
  /** True when the IOMMU blocked the access. */
  readonly blocked: boolean;
  /** The memory address written, when the transfer wrote memory. */
  readonly wrote?: number;
}

/**
 * Complete the job of engine `device` (if it has one): move the word through `port`, set DONE
 * (and ERROR when nothing answered), and send the completion MSI. A write to the interrupt range
 * is a message, not a memory access (it never reaches `port`). The completion MSI is sent when
 * the message is an interrupt the reference takes (`msiVector`): for an engine programmed only
 * through VECTOR, when the vector is valid, as before the MSI registers existed. Returns
 * undefined for an idle engine (the event changes nothing).
 */
export const dmaComplete = (
  e: DmaEngine,
  device: number,
  memory: PhysicalMemory,
  port: DmaPort,
): DmaCompletion | undefined => {
  const job = e.job;
  if (!job) return undefined;
  const request =
    job.toMemory && isMsiAddress(job.address) ? { address: job.address, data: job.data >>> 0 } : undefined;
  const at = request ? 0 : port(device, job.address, job.toMemory, memory);
  const ok = at >= 0;
  let mem = memory;
  let data = e.data;
  if (job.toMemory) {
    if (ok && !request) mem = writeWord(memory, at, job.data);
  } else data = ok ? readWord(memory, at) : 0xffff_ffff;
  const { job: _done, ...rest } = e;
  const engine: DmaEngine = { ...rest, data, status: DMA_STATUS.DONE | (ok ? 0 : DMA_STATUS.ERROR) };
  const completion = dmaMsiMessage(e);
  const msi = msiVector(completion) ?? (request && msiVector(request));
  return {
    engine,
    memory: mem,
    blocked: at === DMA_BLOCKED,
    ...(msi === undefined ? {} : { msi }),
    ...(msiVector(completion) === undefined ? {} : { message: completion }),
    ...(request ? { request } : {}),
    ...(job.toMemory && ok && !request ? { wrote: at } : {}),
  };
};

/** Words of an engine's image (the paravirtual ring's descriptor slot, model/host/io.ts). */
export const DMA_IMAGE_WORDS = 12;

/**
 * An engine as words: registers, then the job (valid flag, address, data, direction), then the
 * MSI registers (written flags in word 9: bit 0 ADDRESS, bit 1 DATA; address; data bits 31:8).
 */
export const encodeDmaEngine = (e: DmaEngine): readonly number[] => [
  e.address >>> 0,
  e.data >>> 0,
  e.command >>> 0,
  e.vector >>> 0,
  e.status >>> 0,
  e.job ? 1 : 0,
  e.job ? e.job.address >>> 0 : 0,
  e.job ? e.job.data >>> 0 : 0,
  e.job?.toMemory ? 1 : 0,
  (e.msiAddress === undefined ? 0 : 1) | (e.msiData === undefined ? 0 : 2),
  (e.msiAddress ?? 0) >>> 0,
  (e.msiData ?? 0) >>> 0,
];

/** The engine an image holds (inverse of `encodeDmaEngine`). */
export const decodeDmaEngine = (w: readonly number[]): DmaEngine => {
  const base = {
    address: w[0]! >>> 0,
    data: w[1]! >>> 0,
    command: w[2]! >>> 0,
    vector: w[3]! >>> 0,
    status: w[4]! >>> 0,
    ...((w[9]! & 1) === 0 ? {} : { msiAddress: w[10]! >>> 0 }),
    ...((w[9]! & 2) === 0 ? {} : { msiData: w[11]! >>> 0 }),
  };
  return w[5] ? { ...base, job: { address: w[6]! >>> 0, data: w[7]! >>> 0, toMemory: w[8] === 1 } } : base;
};
