/**
 * IA-32e 4-level paging (SDM Vol. 3A §4.5) as a format of the one walker (paging.ts): 48-bit
 * linear addresses (PML4 bits 47:39, PDPT 38:30, PD 29:21, PT 20:12), 8-byte entries held as
 * `bigint`, 1 GiB pages (PDPTE.PS = 1) and 2 MiB pages (PDE.PS = 1), XD (bit 63) with
 * IA32_EFER.NXE, and reserved bits (a #PF with RSVD = 1). MAXPHYADDR is 40 by default (QEMU's
 * TCG value, so the same tables can be run there): bits 51:40 of every entry are reserved.
 * Not modelled (stated): SMEP, SMAP, protection keys (bits 62:59 are ignored, as with
 * CR4.PKE = 0), PCID, the PAT/PWT/PCD memory types (read, never checked), 5-level paging.
 */
import { type CanonicalFault, canonicalFault, linearIndexBits } from './canonical.ts';
import {
  type CheckedPagingFormat,
  type CheckedWalkResult,
  type EntryReader,
  type PagingFormat,
  PTE,
  RIGHT_EXECUTE,
  RIGHT_USER,
  RIGHT_WRITE,
  walk,
} from './paging.ts';

/** IA-32e paging-structure entry bits (SDM Vol. 3A Tables 4-15 to 4-20, 5-level numbering). */
export const PTE64 = {
  P: 1n << 0n,
  RW: 1n << 1n,
  US: 1n << 2n,
  PWT: 1n << 3n,
  PCD: 1n << 4n,
  A: 1n << 5n,
  /** Dirty: in entries that map a page (PTE, PDE with PS = 1, PDPTE with PS = 1). */
  D: 1n << 6n,
  /** Page size: in a PDPTE (1 GiB) or PDE (2 MiB); reserved in a PML4E; PAT in a PTE. */
  PS: 1n << 7n,
  /** Global, in entries that map a page. */
  G: 1n << 8n,
  /** PAT of a 1 GiB or 2 MiB page (bit 12; the 4 KiB PTE has it in bit 7). */
  PAT_LARGE: 1n << 12n,
  /** Execute-disable (reserved unless IA32_EFER.NXE = 1). */
  XD: 1n << 63n,
} as const;

/** The MAXPHYADDR this model uses unless told otherwise (QEMU TCG's phys-bits). */
export const DEFAULT_MAXPHYADDR = 40;

/** Options of the IA-32e format: IA32_EFER.NXE, and MAXPHYADDR (physical-address width, 36 to 52). */
export interface Ia32eOptions {
  readonly nxe: boolean;
  readonly maxPhysAddr?: number;
}

/**
 * The four levels of a 48-bit walk, 9 index bits each (PML4 47:39, PDPT 38:30, PD 29:21, PT 20:12:
 * SDM Vol. 3A §4.5); 4-level EPT indexes a guest-physical address the same way (Vol. 3C §29.3.2).
 */
export const FOUR_LEVELS: PagingFormat['levels'] = Object.freeze([
  Object.freeze({ shift: 39, bits: 9 }),
  Object.freeze({ shift: 30, bits: 9 }),
  Object.freeze({ shift: 21, bits: 9 }),
  Object.freeze({ shift: 12, bits: 9 }),
]);

const mask = (hi: number, lo: number): bigint => ((1n << BigInt(hi - lo + 1)) - 1n) << BigInt(lo);
const LOW32 = 0xffff_ffffn;

const build = (nxe: boolean, m: number): CheckedPagingFormat<bigint> => {
  if (!Number.isInteger(m) || m < 36 || m > 52)
    throw new RangeError(`MAXPHYADDR ${m}: must be an integer from 36 to 52`);
  const frame = mask(m - 1, 12);
  // Bits 51:M are reserved in every entry; bit 63 too while NXE = 0 (SDM §4.5.4, Tables 4-15..4-20).
  const alwaysReserved = (m < 52 ? mask(51, m) : 0n) | (nxe ? 0n : PTE64.XD);
  const large1G = mask(29, 13); // PDPTE with PS = 1: bits 29:13 reserved (Table 4-16)
  const large2M = mask(20, 13); // PDE with PS = 1: bits 20:13 reserved (Table 4-18)
  const ps = (e: bigint) => (e & PTE64.PS) !== 0n;
  return Object.freeze({
    name: nxe ? 'ia32e-4level-nxe' : 'ia32e-4level',
    levels: FOUR_LEVELS,
    entryBytes: 8,
    present: (e: bigint) => (e & PTE64.P) !== 0n,
    frameAddress: (e: bigint) => Number(e & frame),
    // XD is OR-combined across levels (SDM §4.6.1): its inverse, RIGHT_EXECUTE, is AND-combined like R/W and U/S.
    rights: (e: bigint) => (Number(e & LOW32) & (PTE.RW | PTE.US)) | (nxe && (e & PTE64.XD) !== 0n ? 0 : RIGHT_EXECUTE),
    allRights: RIGHT_WRITE | RIGHT_USER | RIGHT_EXECUTE,
    accessedBit: PTE.A,
    dirtyBit: PTE.D,
    mapsPage: (e: bigint, level: number) => (level === 1 || level === 2) && ps(e),
    reservedBits: (e: bigint, level: number) => {
      if ((e & alwaysReserved) !== 0n) return true;
      if (level === 0) return ps(e); // PS is reserved (must be 0) in a PML4E (Table 4-15)
      if (level === 1) return ps(e) && (e & large1G) !== 0n;
      if (level === 2) return ps(e) && (e & large2M) !== 0n;
      return false; // a PTE's bit 7 is PAT, not PS
    },
    lowWord: (e: bigint) => Number(e & LOW32),
  });
};

const NO_NXE = build(false, DEFAULT_MAXPHYADDR);
const WITH_NXE = build(true, DEFAULT_MAXPHYADDR);

/**
 * The IA-32e 4-level paging format for the one walker, given IA32_EFER.NXE and MAXPHYADDR
 * (default 40). With NXE = 0, XD = 1 in any present entry is a reserved-bit fault; with NXE = 1,
 * XD removes `RIGHT_EXECUTE` from the walk's rights (pass `nxe` to `x86Permits` too).
 */
export const ia32ePaging = (opts: Ia32eOptions): CheckedPagingFormat<bigint> => {
  const m = opts.maxPhysAddr ?? DEFAULT_MAXPHYADDR;
  if (m === DEFAULT_MAXPHYADDR) return opts.nxe ? WITH_NXE : NO_NXE;
  return build(opts.nxe, m);
};

/**
 * An entry reader for 8-byte entries over a 32-bit word reader (little-endian: the low
 * doubleword at the entry's address, the high one 4 bytes above).
 */
export const entryReader64 =
  (readWord: (pa: number) => number): EntryReader<never, bigint> =>
  (pa) =>
    BigInt(readWord(pa) >>> 0) | (BigInt(readWord(pa + 4) >>> 0) << 32n);

/** A reference to a non-canonical address, refused before any paging-structure entry is read. */
export interface NonCanonical {
  readonly ok: false;
  readonly reason: 'non-canonical';
  readonly fault: CanonicalFault;
}

/**
 * Translate the 64-bit linear address `la` under IA-32e paging: a non-canonical address is
 * refused first (#GP(0), or #SS(0) when `stack`, SDM Vol. 3A §3.3.7.1), without reading any
 * entry; a canonical one is walked with bits 47:0 from the PML4 table at `root`.
 */
export const walkLinear = <F = never>(
  format: CheckedPagingFormat<bigint>,
  root: number,
  la: bigint,
  read: EntryReader<F, bigint>,
  permits: (rights: number) => boolean,
  opts: { readonly stack?: boolean } = {},
): CheckedWalkResult<F, bigint> | NonCanonical => {
  const address = linearIndexBits(la);
  if (address === undefined) return { ok: false, reason: 'non-canonical', fault: canonicalFault(opts.stack ?? false) };
  return walk(format, root, address, read, permits);
};
