/**
 * FROZEN: nothing under mutants/unseen2/ changes after its first commit.
 *
 * Small helpers the second unseen set shares (scenario building only; no flaw lives here).
 */
import { DMA_PORT_BASE, MSI_PORT_BASE, type Op } from '../../index.ts';
import { GEOMETRY, PRESENT_RW_USER, USED_RW_USER } from '../unseen/types.ts';

/** Window PTE flags, all `flags`, with the page of index `i` (dir-major) set to `at`. */
export const ptes = (flags = PRESENT_RW_USER, patch: Readonly<Record<number, number>> = {}): number[] => {
  const out = new Array(GEOMETRY.dirEntries * GEOMETRY.tableEntries).fill(flags);
  for (const [i, f] of Object.entries(patch)) out[Number(i)] = f;
  return out;
};

/** Window PDE flags, all `flags`. */
export const pdes = (flags = PRESENT_RW_USER): number[] => new Array(GEOMETRY.dirEntries).fill(flags);

/** Entries already accessed and dirty: the shadow MMU can fill them on the first hidden fault. */
export const usedTables = { pteFlags: ptes(USED_RW_USER), pdeFlags: pdes(USED_RW_USER) };

/** OUT EAX to register `reg` of DMA engine 0 (0 ADDRESS, 1 DATA, 2 COMMAND, 3 VECTOR). */
export const dmaOut = (reg: 0 | 1 | 2 | 3): Op => ({ kind: 'out', port: DMA_PORT_BASE + reg });

/** OUT EAX to engine 0's MSI ADDRESS (0) or MSI DATA (1). */
export const msiOut = (reg: 0 | 1): Op => ({ kind: 'out', port: MSI_PORT_BASE + reg });
