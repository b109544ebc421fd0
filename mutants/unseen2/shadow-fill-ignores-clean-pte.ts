/**
 * FROZEN: nothing under mutants/unseen2/ changes after its first commit.
 *
 * shadow, whose hidden-fault fill maps a page writable although the guest's PTE is still clean.
 */
import {
  composeDesign,
  type Design,
  guestView,
  linear,
  PAGE_SIZE,
  PTE,
  pageTableFrames,
  readWord,
  shadow,
  standardHandle,
  walk,
  writeWord,
  X86_32,
} from '../../index.ts';
import { GEOMETRY, guest, type UnseenMutant, USED_RW_USER } from '../unseen/types.ts';
import { pdes, ptes } from './common.ts';

const design: Design = composeDesign({
  ...shadow,
  name: 'shadow-fill-ignores-clean-pte',
  description: 'shadow, but a shadow entry is made writable whenever the guest allows writes, dirty or not',
  handle: (h, e) => {
    const out = standardHandle(() => design)(h, e);
    if (e.kind !== 'exit' || e.exit.reason !== 'exception' || e.exit.vector !== 14 || e.exit.address === undefined)
      return out;
    const va = e.exit.address;
    const g = out.current;
    const slot = out.guests[g]!.shadow.tables.find(([dir]) => dir === va >>> 22);
    if (!slot) return out;
    const at = slot[1] * PAGE_SIZE + ((va >>> 12) & 0x3ff) * 4;
    const spte = readWord(out.memory, at);
    const v = guestView(design, out, g);
    const r = walk(
      X86_32,
      (v.cpu.cr3 & PTE.FRAME) >>> 0,
      va,
      (pa) => readWord(v.memory, pa),
      () => true,
    );
    // The flaw: D is not consulted (a page-table frame stays read-only, as the table sync needs).
    if (!(spte & PTE.P) || spte & PTE.RW || !r.ok || !(r.rights & PTE.RW)) return out;
    if (pageTableFrames(v).has(r.frame >>> 12)) return out;
    return { ...out, memory: writeWord(out.memory, at, (spte | PTE.RW) >>> 0) };
  },
});

export const shadowFillIgnoresCleanPte: UnseenMutant = {
  name: 'shadow-fill-ignores-clean-pte',
  base: 'shadow',
  level: 'machine',
  area: 'TLB',
  bugClass: 'dirty-bit emulation skipped: a clean page shadowed writable',
  reference:
    'SDM Vol. 3A §4.8 (the processor sets D on the first write through a PTE); KVM’s shadow MMU maps a clean guest PTE read-only so that the first write faults and sets D (FNAME(update_accessed_dirty_bits), “KVM: MMU: fix dirty bit setting” history)',
  flaw: 'A read fault on a page whose guest PTE allows writes but is not dirty fills the shadow entry writable, so the guest’s next write goes through natively and its PTE never gets D.',
  property: 'equivalence',
  minimal: 2,
  minimalWhy:
    'A read first (its hidden #PF fills the shadow, writable here), then a write through that entry: bare metal sets D in the PTE, the mutant does not: 2. A write first faults and is emulated with D set; one read changes no D.',
  design,
  witness: {
    geometry: GEOMETRY,
    guests: [guest({ pteFlags: ptes(USED_RW_USER, { 2: 0x27 }), pdeFlags: pdes(USED_RW_USER) })],
    ops: [
      { guest: 0, op: { kind: 'load', dst: 0, va: linear(0, 2) } },
      { guest: 0, op: { kind: 'store', va: linear(0, 2), src: 0 } },
    ],
  },
};
