/**
 * Canonical linear addresses in 64-bit mode (SDM Vol. 1 §3.3.7.1; Vol. 3A §3.3.7.1): with 48-bit
 * linear addresses, bits 63:47 must all equal bit 47. A memory reference to a non-canonical
 * address faults before any paging-structure is read: #SS(0) when it is a stack reference
 * (SS-relative: PUSH, POP, RSP/RBP-based), #GP(0) otherwise (SDM Vol. 3A §6.15, Interrupts 12 and 13).
 * 64-bit linear addresses are held as `bigint` here (a JS number cannot hold bits 63:53 exactly).
 */
import { VEC } from './bits.ts';

/** Width of a linear address under 4-level paging (CPUID.80000008H:EAX[15:8] = 48). */
export const LINEAR_ADDRESS_WIDTH = 48;

/** Is the 64-bit linear address `la` (taken modulo 2^64) canonical for `width`-bit linear addresses? */
export const isCanonical = (la: bigint, width: number = LINEAR_ADDRESS_WIDTH): boolean => {
  const top = BigInt.asUintN(64, la) >> BigInt(width - 1);
  return top === 0n || top === (1n << BigInt(65 - width)) - 1n;
};

/** The canonical form of the low `width` bits of `la`: bit width-1 copied into bits 63:width. */
export const canonicalize = (la: bigint, width: number = LINEAR_ADDRESS_WIDTH): bigint =>
  BigInt.asUintN(64, BigInt.asIntN(width, la));

/** The fault a non-canonical reference raises: #SS(0) for a stack reference, #GP(0) otherwise. */
export interface CanonicalFault {
  readonly vector: typeof VEC.SS | typeof VEC.GP;
  readonly errorCode: 0;
}

/** The fault for a non-canonical reference; `stack` for references through SS (SDM Vol. 3A §6.15). */
export const canonicalFault = (stack: boolean): CanonicalFault => ({ vector: stack ? VEC.SS : VEC.GP, errorCode: 0 });

/**
 * Bits 47:0 of a canonical address as an exact JS number (below 2^48), what the paging walker
 * indexes with; undefined when `la` is not canonical.
 */
export const linearIndexBits = (la: bigint, width: number = LINEAR_ADDRESS_WIDTH): number | undefined =>
  isCanonical(la, width) ? Number(BigInt.asUintN(width, la)) : undefined;
