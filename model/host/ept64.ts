/**
 * EPT with 4-level, 8-byte entries (SDM Vol. 3C §29.3.2, §28.2.2 in older editions), as a format
 * of the one walker (paging.ts): guest-physical bits 47:39, 38:30, 29:21, 20:12 index the EPT
 * PML4, PDPT, PD and PT; bits 2:0 of an entry are R, W, X (an entry with all three clear is not
 * present); bit 7 in an EPT PDPTE or PDE maps a 1 GiB or 2 MiB page. A present entry that is
 * misconfigured (§29.3.3.1) ends the walk with a `reserved` fault: an EPT misconfiguration, a VM
 * exit of its own (exit reason 49), distinct from an EPT violation (not present, or rights; 48).
 * Choices stated: MAXPHYADDR 40 by default; execute-only translations supported
 * (IA32_VMX_EPT_VPID_CAP bit 0 = 1, as on every processor with EPT since Nehalem's successors and
 * in QEMU), so only W without R is a misconfiguration of bits 2:0; A/D flags (EPTP bit 6) off
 * unless asked for; mode-based execute control and #VE suppression not modelled (bits 10 and 63 ignored).
 */

import type { CheckedPagingFormat, CheckedWalkResult } from '../paging.ts';
import { FOUR_LEVELS } from '../paging-ia32e.ts';

/** EPT entry bits (SDM Vol. 3C Tables 29-1 to 29-6). */
export const EPT64_BITS = {
  R: 1n << 0n,
  W: 1n << 1n,
  X: 1n << 2n,
  /** EPT memory type of an entry that maps a page (bits 5:3): 0 UC, 1 WC, 4 WT, 5 WP, 6 WB; 2, 3, 7 reserved. */
  MEMORY_TYPE_SHIFT: 3n,
  /** Maps a page: in an EPT PDPTE (1 GiB) or PDE (2 MiB); reserved in an EPT PML4E. */
  PAGE: 1n << 7n,
  /** Accessed (with EPTP bit 6, A/D enabled). */
  A: 1n << 8n,
  /** Dirty, in entries that map a page (with A/D enabled). */
  D: 1n << 9n,
} as const;

/** Rights of the EPT formats, bits 2:0 of an entry: read, write, execute (AND-combined across levels). */
export const EPT_RIGHT = { R: 1, W: 2, X: 4 } as const;

/** Options of the 4-level EPT format. */
export interface Ept4LevelOptions {
  /** Physical-address width, 36 to 52 (default 40). */
  readonly maxPhysAddr?: number;
  /** EPTP bit 6: accessed and dirty flags in bits 8 and 9 (default off). */
  readonly accessedDirty?: boolean;
}

const mask = (hi: number, lo: number): bigint => ((1n << BigInt(hi - lo + 1)) - 1n) << BigInt(lo);
const LOW32 = 0xffff_ffffn;
/** Memory types 2, 3 and 7 are reserved (§29.3.7 / Table 29-x; misconfiguration in an entry that maps a page). */
const reservedMemoryType = (e: bigint): boolean => {
  const t = Number((e >> EPT64_BITS.MEMORY_TYPE_SHIFT) & 7n);
  return t === 2 || t === 3 || t === 7;
};

/**
 * The 4-level EPT format for the one walker. `reserved` faults are EPT misconfigurations:
 * W = 1 with R = 0 in bits 2:0; bits 51:MAXPHYADDR set;
 * bits 7:3 set in an entry that references a table (bit 7 in an EPT PML4E included); bits 29:12
 * of a 1 GiB page or 20:12 of a 2 MiB page; a reserved memory type (2, 3, 7) in an entry that maps a page.
 */
export const ept4Level = (opts: Ept4LevelOptions = {}): CheckedPagingFormat<bigint> => {
  const m = opts.maxPhysAddr ?? 40;
  if (!Number.isInteger(m) || m < 36 || m > 52)
    throw new RangeError(`MAXPHYADDR ${m}: must be an integer from 36 to 52`);
  const frame = mask(m - 1, 12);
  const aboveMax = m < 52 ? mask(51, m) : 0n;
  const tableReserved = mask(7, 3);
  const maps = (e: bigint, level: number) =>
    level === 3 || ((level === 1 || level === 2) && (e & EPT64_BITS.PAGE) !== 0n);
  return Object.freeze({
    name: 'ept-4level',
    levels: FOUR_LEVELS,
    entryBytes: 8,
    present: (e: bigint) => (e & 7n) !== 0n,
    frameAddress: (e: bigint) => Number(e & frame),
    rights: (e: bigint) => Number(e & 7n),
    allRights: EPT_RIGHT.R | EPT_RIGHT.W | EPT_RIGHT.X,
    accessedBit: opts.accessedDirty ? 1 << 8 : 0,
    dirtyBit: opts.accessedDirty ? 1 << 9 : 0,
    mapsPage: (e: bigint, level: number) => level < 3 && maps(e, level),
    reservedBits: (e: bigint, level: number) => {
      if ((e & EPT64_BITS.W) !== 0n && (e & EPT64_BITS.R) === 0n) return true;
      if ((e & aboveMax) !== 0n) return true;
      if (!maps(e, level)) return (e & tableReserved) !== 0n;
      if (reservedMemoryType(e)) return true;
      if (level === 1) return (e & mask(29, 12)) !== 0n;
      if (level === 2) return (e & mask(20, 12)) !== 0n;
      return false;
    },
    lowWord: (e: bigint) => Number(e & LOW32),
  });
};

/** EPT's permission rule (§29.3.3.2): a read needs R, a write W, an instruction fetch X, at every level. */
export const eptPermits = (rights: number, access: { readonly write: boolean; readonly fetch?: boolean }): boolean =>
  (rights & (access.fetch ? EPT_RIGHT.X : access.write ? EPT_RIGHT.W : EPT_RIGHT.R)) !== 0;

/** What an EPT walk that did not translate means to the processor: the VM exit it causes. */
export type EptFailure = 'ept-violation' | 'ept-misconfiguration';

/**
 * The VM exit a failed 4-level EPT walk causes (§29.3.3): a misconfigured entry is an EPT
 * misconfiguration; a not-present entry or missing rights an EPT violation. Undefined for a translation.
 */
export const eptFailure = <F>(r: CheckedWalkResult<F, bigint>): EptFailure | undefined => {
  if (r.ok || r.reason === 'read') return undefined;
  return r.reason === 'reserved' ? 'ept-misconfiguration' : 'ept-violation';
};
