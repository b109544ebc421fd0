/**
 * Small pieces the machine-level mutants share, written with the public design API only (what a
 * user's own design file could import).
 */
import {
  type Design,
  guestView,
  type HostMachine,
  type Machine,
  PAGE_SIZE,
  PTE,
  pageTableFrames,
  peekWalk,
  readWord,
  writeWord,
} from '../model/index.ts';

/** The guest's own leaf PTE for linear `va` (its tables walked without side effects), if present. */
export const guestLeaf = (view: Machine, va: number): { readonly pte: number; readonly frame: number } | undefined => {
  const r = peekWalk(view, va);
  if (!r.ok) return undefined;
  return { pte: r.path[r.path.length - 1]!.entry, frame: r.frame >>> 12 };
};

/** Rewrite guest `g`'s present shadow entry for linear `va` (absent: the host unchanged). */
export const patchShadowEntry = (
  h: HostMachine,
  g: number,
  va: number,
  patch: (pte: number) => number,
): HostMachine => {
  const table = h.guests[g]!.shadow.tables.find(([dir]) => dir === va >>> 22)?.[1];
  if (table === undefined) return h;
  const pa = table * PAGE_SIZE + ((va >>> 12) & 0x3ff) * 4;
  const pte = readWord(h.memory, pa);
  if (!(pte & PTE.P)) return h;
  return { ...h, memory: writeWord(h.memory, pa, patch(pte) >>> 0) };
};

/** Is guest-physical frame `frame` one of the live paging structures of guest `g`? */
export const isGuestPageTable = (d: Design, h: HostMachine, g: number, frame: number): boolean =>
  pageTableFrames(guestView(d, h, g)).has(frame);
