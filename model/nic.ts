/**
 * The network card of the reference machine: a station address (MAC), a receive filter, a
 * transmit descriptor queue and a receive queue, programmed by port I/O like the DMA engine
 * (devices.ts). Plain data and pure functions; the ISA (isa.ts) decodes the ports.
 *
 * Why port I/O rather than new operation kinds: a guest's network operations then run through the
 * same I/O path as every device (I/O exits, an open VMX I/O bitmap for a virtual function, #GP at
 * CPL > IOPL under ring compression), so emulated, paravirtual and SR-IOV paths need no new code.
 *
 * A frame is one 32-bit word (a simplification of an Ethernet frame, stated): the source MAC in
 * bits 31:24, the destination MAC in bits 23:16 (0xff: broadcast) and a 16-bit payload. MAC
 * addresses are 8-bit here, so random operations collide (the small-scope hypothesis).
 *
 * Registers (ports NIC_PORT_BASE + r, 32-bit each):
 * - r = 0 MAC: the station address the receive filter matches (bits 7:0);
 * - r = 1 CONTROL: bit 0 PROMISCUOUS (accept every frame the wire brings), bits 15:8 the MSI
 *   vector sent when a frame is queued (below 16: none); reads add the receive queue's length in
 *   bits 31:16;
 * - r = 2 TX: a write queues a transmit descriptor, the physical address of the frame word in
 *   memory (bits 1:0 ignored); the card fetches the frame by DMA when it serves the queue (on
 *   bare metal, at once; a descriptor whose address no memory answers is dropped). Reads return
 *   the number of descriptors queued so far;
 * - r = 3 RX: a read takes the oldest received frame off the queue (all ones when it is empty).
 *
 * What the wire brings is not the card's to decide: the switch (the ideal one of the reference,
 * properties/network/ideal.ts, or a design's, model/host/net/) offers frames and `nicArrive`
 * applies the card's receive filter.
 */

/** First port of the card's registers (the DMA engines use 0x40..0x4f). */
export const NIC_PORT_BASE = 0x50;
/** Register offsets. */
export const NIC_REG = { MAC: 0, CONTROL: 1, TX: 2, RX: 3 } as const;
/** CONTROL bits. */
export const NIC_CONTROL = { PROMISCUOUS: 1 << 0 } as const;
/** The broadcast destination. */
export const BROADCAST_MAC = 0xff;
/** Frames the receive queue holds; a frame arriving at a full queue is dropped (as a full ring drops it). */
export const NIC_RX_LIMIT = 4;
/** What RX reads when nothing was received. */
export const NIC_RX_EMPTY = 0xffff_ffff;

/** The card's state. */
export interface Nic {
  readonly mac: number;
  /** PROMISCUOUS and the vector (bits 15:8). */
  readonly control: number;
  /** Received frames, oldest first. */
  readonly rx: readonly number[];
  /** Transmit descriptors queued so far (what TX reads). */
  readonly txCount: number;
  /**
   * Descriptors (frame addresses) not yet served: the card's own queue, which software cannot
   * read back; the wire (the reference's switch, a design's network) empties it after each step.
   */
  readonly txq: readonly number[];
}

/** A card after reset with station address `mac`: filter on its MAC, no interrupt, queues empty. */
export const idleNic = (mac: number): Nic => ({ mac: mac & 0xff, control: 0, rx: [], txCount: 0, txq: [] });

/** A frame word from its fields. */
export const frame = (src: number, dst: number, payload = 0): number =>
  (((src & 0xff) << 24) | ((dst & 0xff) << 16) | (payload & 0xffff)) >>> 0;
/** The source MAC of a frame. */
export const frameSrc = (f: number): number => f >>> 24;
/** The destination MAC of a frame. */
export const frameDst = (f: number): number => (f >>> 16) & 0xff;

/** Is the card in promiscuous mode? */
export const isPromiscuous = (n: Nic): boolean => (n.control & NIC_CONTROL.PROMISCUOUS) !== 0;
/** The MSI vector the card sends on receive, or undefined (vectors 0..15 send none). */
export const nicVector = (n: Nic): number | undefined => {
  const v = (n.control >>> 8) & 0xff;
  return v >= 16 ? v : undefined;
};

/** The register a port decodes to, or undefined. */
export const decodeNicPort = (port: number): number | undefined => {
  const r = port - NIC_PORT_BASE;
  return r >= 0 && r <= NIC_REG.RX ? r : undefined;
};

/** IN from a register: the value and the card after (reading RX takes a frame off the queue). */
export const nicRead = (n: Nic, reg: number): { readonly value: number; readonly nic: Nic } => {
  switch (reg) {
    case NIC_REG.MAC:
      return { value: n.mac, nic: n };
    case NIC_REG.CONTROL:
      return { value: ((n.control & 0xffff) | (n.rx.length << 16)) >>> 0, nic: n };
    case NIC_REG.TX:
      return { value: n.txCount >>> 0, nic: n };
    default:
      return n.rx.length === 0
        ? { value: NIC_RX_EMPTY, nic: n }
        : { value: n.rx[0]!, nic: { ...n, rx: n.rx.slice(1) } };
  }
};

/** OUT to a register: the card after. */
export const nicWrite = (n: Nic, reg: number, value: number): Nic => {
  const v = value >>> 0;
  switch (reg) {
    case NIC_REG.MAC:
      return { ...n, mac: v & 0xff };
    case NIC_REG.CONTROL:
      return { ...n, control: v & 0xff01 };
    case NIC_REG.TX:
      return { ...n, txCount: (n.txCount + 1) >>> 0, txq: [...n.txq, (v & ~3) >>> 0] };
    default:
      return n;
  }
};

/** Does the card's receive filter take this frame: its own MAC, broadcast, or anything in promiscuous mode. */
export const nicAccepts = (n: Nic, f: number): boolean =>
  frameDst(f) === n.mac || frameDst(f) === BROADCAST_MAC || isPromiscuous(n);

/**
 * The wire offers frame `f`: the card queues it if its filter takes it and the queue has room,
 * and then sends its MSI (if it has a vector). `queued` says whether the frame was taken.
 */
export const nicArrive = (
  n: Nic,
  f: number,
): { readonly nic: Nic; readonly queued: boolean; readonly msi?: number } => {
  if (!nicAccepts(n, f) || n.rx.length >= NIC_RX_LIMIT) return { nic: n, queued: false };
  const msi = nicVector(n);
  return { nic: { ...n, rx: [...n.rx, f >>> 0] }, queued: true, ...(msi === undefined ? {} : { msi }) };
};

/** The card with its transmit queue served (emptied). */
export const nicServed = (n: Nic): Nic => (n.txq.length === 0 ? n : { ...n, txq: [] });

/** True when two cards agree on what software can read (everything but the descriptor queue). */
export const sameNicState = (a: Nic | undefined, b: Nic | undefined): boolean =>
  a === b ||
  (a !== undefined &&
    b !== undefined &&
    a.mac === b.mac &&
    a.control === b.control &&
    a.txCount === b.txCount &&
    a.rx.length === b.rx.length &&
    a.rx.every((f, i) => f === b.rx[i]));
