/**
 * Segment and gate descriptors as they lie in the GDT/LDT/IDT (SDM Vol. 3A §3.4.5, §3.5, §6.11),
 * read through paging like the processor does (implicit supervisor accesses).
 */
import { type Exec, readBytes, writeBytes } from './exec.ts';

/** A descriptor's two doublewords and where it was read from. */
export interface RawDescriptor {
  readonly address: number;
  readonly lo: number;
  readonly hi: number;
}

/** Descriptor fields (SDM Vol. 3A Figure 3-8). */
export const descriptorType = (hi: number): number => (hi >>> 8) & 0xf;
/** S flag: 1 for code/data, 0 for system descriptors. */
export const isCodeOrData = (hi: number): boolean => (hi & (1 << 12)) !== 0;
export const descriptorDpl = (hi: number): number => (hi >>> 13) & 3;
export const descriptorPresent = (hi: number): boolean => (hi & (1 << 15)) !== 0;
export const descriptorBase = (lo: number, hi: number): number =>
  ((lo >>> 16) | ((hi & 0xff) << 16) | (hi & 0xff00_0000)) >>> 0;
/** Segment limit in bytes, scaled by the G flag (SDM §3.4.5). */
export const descriptorLimit = (lo: number, hi: number): number => {
  const raw = (lo & 0xffff) | (hi & 0xf_0000);
  return (hi & (1 << 23) ? ((raw << 12) | 0xfff) >>> 0 : raw) >>> 0;
};
export const isCode = (hi: number): boolean => isCodeOrData(hi) && (descriptorType(hi) & 8) !== 0;
export const isConformingCode = (hi: number): boolean => isCode(hi) && (descriptorType(hi) & 4) !== 0;
/** Code: readable (R); data: writable (W). Both are type bit 1. */
export const typeBit1 = (hi: number): boolean => (descriptorType(hi) & 2) !== 0;

/** Accessed flag of a code/data descriptor (type bit 0), set by the processor on a segment load. */
export const DESCRIPTOR_ACCESSED = 1 << 8;

/**
 * Read the descriptor a selector names, or undefined when its index is beyond the table limit
 * (or it names the LDT while LDTR is null). Null selectors are the caller's business.
 */
export const readDescriptor = (x: Exec, selector: number): RawDescriptor | undefined => {
  const index = selector & 0xfff8;
  let base: number;
  let limit: number;
  if (selector & 4) {
    if ((x.cpu.ldtr.selector & 0xfffc) === 0) return undefined;
    ({ base, limit } = x.cpu.ldtr);
  } else {
    ({ base, limit } = x.cpu.gdtr);
  }
  if (index + 7 > limit) return undefined;
  const address = (base + index) >>> 0;
  const b = readBytes(x, address, 8, false);
  const lo = (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;
  const hi = (b[4]! | (b[5]! << 8) | (b[6]! << 16) | (b[7]! << 24)) >>> 0;
  return { address, lo, hi };
};

/** Write back the high doubleword's type byte (the accessed flag, a TSS busy flag). */
export const writeDescriptorTypeByte = (x: Exec, d: RawDescriptor, hi: number): void => {
  if (((hi >>> 8) & 0xff) !== ((d.hi >>> 8) & 0xff)) writeBytes(x, d.address + 5, [(hi >>> 8) & 0xff], false);
};
