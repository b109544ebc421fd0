/**
 * The control bits that select IA-32e mode and its paging (SDM Vol. 3A §2.2.1, §2.5, §4.1), as
 * named constants and a small pure record. Not yet wired into the processor (isa.ts still runs
 * the 32-bit machine with CR4 = 0); this is what a long-mode processor will carry.
 */
import { CR0 } from './bits.ts';

/** CR4 bits of paging (SDM Vol. 3A §2.5, Figure 2-7). */
export const CR4 = {
  /** Page Size Extensions: 4 MiB pages in 32-bit paging. */
  PSE: 1 << 4,
  /** Physical Address Extension: PAE paging, and required for IA-32e paging. */
  PAE: 1 << 5,
  /** Page Global Enable: global translations survive CR3 loads (SDM §4.10.2.4). */
  PGE: 1 << 7,
  /** Process-context identifiers (not modelled yet). */
  PCIDE: 1 << 17,
  /** Supervisor-mode execution prevention (not modelled yet: `x86Permits` allows it). */
  SMEP: 1 << 20,
  /** Supervisor-mode access prevention (not modelled yet). */
  SMAP: 1 << 21,
} as const;

/** Index of the IA32_EFER MSR (SDM Vol. 4, Table 2-2). */
export const MSR_IA32_EFER = 0xc000_0080;

/** IA32_EFER bits (SDM Vol. 3A §2.2.1, Figure 2-8; Vol. 4 Table 2-2). */
export const EFER = {
  /** SYSCALL/SYSRET enable. */
  SCE: 1 << 0,
  /** IA-32e mode enable (software sets it; the mode becomes active with CR0.PG = 1). */
  LME: 1 << 8,
  /** IA-32e mode active (set by the processor, read-only to software). */
  LMA: 1 << 10,
  /** Execute-disable enable: the XD bit (63) of PAE and IA-32e entries is honoured, not reserved. */
  NXE: 1 << 11,
} as const;

/** The paging-relevant control state of a processor: CR0, CR4 and IA32_EFER as 32-bit values. */
export interface PagingControls {
  readonly cr0: number;
  readonly cr4: number;
  readonly efer: number;
}

/** The paging mode the controls select (SDM Vol. 3A §4.1.1, Table 4-1; 5-level paging not modelled). */
export type PagingMode = 'none' | '32-bit' | 'pae' | '4-level';

/**
 * The paging mode of `c` (SDM §4.1.1): none with CR0.PG = 0; 32-bit paging with CR4.PAE = 0;
 * PAE paging with CR4.PAE = 1 and IA32_EFER.LME = 0; 4-level paging with both (then EFER.LMA = 1).
 */
export const pagingMode = (c: PagingControls): PagingMode => {
  if (!(c.cr0 & CR0.PG)) return 'none';
  if (!(c.cr4 & CR4.PAE)) return '32-bit';
  return c.efer & EFER.LME ? '4-level' : 'pae';
};

/**
 * IA32_EFER after the processor's own update of LMA (SDM Vol. 3A §10.8.5, §9.8.5 in older editions, "Initializing IA-32e
 * Mode": LMA = 1 when paging is enabled with LME = 1, and 0 when paging is disabled).
 */
export const withLongModeActive = (c: PagingControls): PagingControls => {
  const lma = c.cr0 & CR0.PG && c.efer & EFER.LME ? EFER.LMA : 0;
  const efer = ((c.efer & ~EFER.LMA) | lma) >>> 0;
  return efer === c.efer ? c : { ...c, efer };
};
