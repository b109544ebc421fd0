/**
 * The guest's own paging structures, read from its view: what shadow paging write-protects and
 * what a PV kernel under direct paging keeps in machine form. Its own file so that the toolkit
 * and the PV kernel (pv-kernel.ts) share it without importing each other.
 */
import { CR0 } from '../bits.ts';
import { frameWords } from '../memory.ts';
import { PTE } from '../paging.ts';
import type { Machine } from '../state.ts';

/** Guest-physical frames holding the guest's live paging structures (directory and tables). */
export const pageTableFrames = (view: Machine): ReadonlySet<number> => {
  const out = new Set<number>();
  if (!(view.cpu.cr0 & CR0.PG)) return out;
  const pd = view.cpu.cr3 >>> 12;
  out.add(pd);
  if (pd >= view.geometry.frames) return out;
  for (const [, pde] of frameWords(view.memory, pd)) if (pde & PTE.P) out.add(pde >>> 12);
  return out;
};
