/**
 * Extended page tables (SDM Vol. 3C §28.3): guest-physical to host-physical translation, walked
 * by the one walker (paging.ts) with an EPT entry format. This model's EPT uses 32-bit entries in
 * the same two-level shape as 32-bit paging (its guest-physical space is 32-bit): R, W, X in bits
 * 0..2, the frame in bits 31:12; no accessed/dirty flags (EPT A/D is an optional feature, off).
 */
import { PAGE_SIZE } from '../geometry.ts';
import { isVmExit, type PhysicalPort, vmexit } from '../isa.ts';
import {
  EMPTY_MEMORY,
  extractRegion,
  frameIdentity,
  type PhysicalMemory,
  readWord,
  replaceRegion,
  writeWord,
} from '../memory.ts';
import { leafEntryAddress, type PagingFormat, walk, X86_32 } from '../paging.ts';

/** EPT entry bits used here: read, write, execute, and the frame. */
export const EPT_BITS = { R: 1, W: 2, X: 4, FRAME: 0xffff_f000 } as const;

/** EPT as a 32-bit, two-level paging format for the one page-table walker (`walk`). */
export const EPT_32: PagingFormat = Object.freeze({
  name: 'ept-32',
  levels: X86_32.levels,
  entryBytes: 4,
  present: (e: number) => (e & 7) !== 0,
  frameAddress: (e: number) => (e & EPT_BITS.FRAME) >>> 0,
  rights: (e: number) => e & 7,
  allRights: 7,
  accessedBit: 0,
  dirtyBit: 0,
});

/**
 * The physical port of a CPU in VMX non-root mode with EPT rooted at host address `root`:
 * every guest-physical access, the guest's own page-table reads included, is walked through EPT.
 * A missing or insufficient entry is an EPT violation (a VM exit); host addresses past
 * `hostBytes` answer with no memory.
 */
export const eptPort =
  (root: number, hostBytes: number): PhysicalPort =>
  (gpa, access, memory) => {
    const r = walk(
      EPT_32,
      root,
      gpa,
      (pa) => readWord(memory, pa),
      (rights) => (access.write ? (rights & EPT_BITS.W) !== 0 : (rights & EPT_BITS.R) !== 0),
    );
    if (!r.ok) throw vmexit({ reason: 'ept-violation', address: gpa >>> 0, write: access.write });
    const hpa = (r.frame | (gpa & 0xfff)) >>> 0;
    return hpa < hostBytes ? hpa : -1;
  };

/** The host address EPT maps a guest-physical address to, or undefined (a pure look-up, no exit). */
export const eptLookup = (memory: PhysicalMemory, root: number, gpa: number): number | undefined => {
  try {
    const hpa = eptPort(root, 0xffff_ffff)(gpa, { write: false, walk: false }, memory);
    return hpa < 0 ? undefined : hpa;
  } catch (e) {
    if (isVmExit(e)) return undefined;
    throw e;
  }
};

/**
 * Write two-level tables at `rootFrame` mapping frames 0..frames-1 to host frames `hostBase` + f,
 * every entry with `bits`, using `tableFrames` for the tables (one per 1024 frames): the shape of
 * both EPT and the IOMMU's second-level tables in this model.
 */
export const buildOffsetTables = (
  memory: PhysicalMemory,
  rootFrame: number,
  tableFrames: readonly number[],
  frames: number,
  hostBase: number,
  bits: number,
): PhysicalMemory => {
  const into = [rootFrame, ...tableFrames];
  // Tables written into empty frames are whole frames of their own: build them once per shape and
  // put them in place (O(1) each), so preparing a host does not cost in proportion to guest memory.
  if (into.every((f) => frameIdentity(memory, f) === undefined)) {
    const key = `${rootFrame}/${tableFrames.join(',')}/${frames}/${hostBase}/${bits}`;
    let built = builtTables.get(key);
    if (!built) {
      built = writeOffsetTables(EMPTY_MEMORY, rootFrame, tableFrames, frames, hostBase, bits);
      builtTables.set(key, built);
    }
    let mem = memory;
    for (const f of into) mem = replaceRegion(mem, f, 1, extractRegion(built, f, 1));
    return mem;
  }
  return writeOffsetTables(memory, rootFrame, tableFrames, frames, hostBase, bits);
};

/** Tables built by `buildOffsetTables` into empty memory, by shape. */
const builtTables = new Map<string, PhysicalMemory>();

const writeOffsetTables = (
  memory: PhysicalMemory,
  rootFrame: number,
  tableFrames: readonly number[],
  frames: number,
  hostBase: number,
  bits: number,
): PhysicalMemory => {
  let mem = memory;
  for (let f = 0; f < frames; f++) {
    const dir = f >>> 10;
    const table = tableFrames[dir];
    if (table === undefined) throw new RangeError('not enough table frames');
    mem = writeWord(mem, rootFrame * PAGE_SIZE + dir * 4, (table * PAGE_SIZE) | bits);
    mem = writeWord(mem, table * PAGE_SIZE + (f & 1023) * 4, ((hostBase + f) * PAGE_SIZE) | bits);
  }
  return mem;
};

/** EPT tables mapping guest frames 0..frames-1 to host frames `hostBase` + f with R/W/X. */
export const buildEpt = (
  memory: PhysicalMemory,
  rootFrame: number,
  tableFrames: readonly number[],
  frames: number,
  hostBase: number,
): PhysicalMemory =>
  buildOffsetTables(memory, rootFrame, tableFrames, frames, hostBase, EPT_BITS.R | EPT_BITS.W | EPT_BITS.X);

/** The EPT leaf entry for guest-physical address `gpa` under the root at host address `root`, or undefined. */
export const eptLeaf = (memory: PhysicalMemory, root: number, gpa: number): number | undefined => {
  const at = leafEntryAddress(EPT_32, root, gpa, (pa) => readWord(memory, pa));
  if (at === undefined) return undefined;
  const e = readWord(memory, at);
  return EPT_32.present(e) ? e : undefined;
};

/**
 * EPT with the leaf for `gpa` given `rights` (a subset of R, W, X; the frame kept). R|X without W
 * keeps a page read-only for the guest: its writes exit as EPT violations (SDM Vol. 3C §28.3.3.2)
 * and reach the hypervisor. Tables must exist; a real TLB that cached the old rights needs INVEPT.
 */
export const setEptRights = (memory: PhysicalMemory, root: number, gpa: number, rights: number): PhysicalMemory => {
  const at = leafEntryAddress(EPT_32, root, gpa, (pa) => readWord(memory, pa));
  if (at === undefined) return memory;
  const e = readWord(memory, at);
  return writeWord(memory, at, ((e & EPT_BITS.FRAME) | (rights & 7)) >>> 0);
};
