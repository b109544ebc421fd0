/**
 * A machine's geometry: how much of real x86 32-bit paging is in use. Values stay real x86
 * values (linear address = dir << 22 | table << 12 | offset, 4 KiB frames), so a model state
 * embeds directly into a real machine; the geometry only says how many indices generators and
 * embeddings use. Small windows make random operations collide (the small-scope hypothesis).
 */
export interface Geometry {
  /** Page-directory entries in use (indices 0 .. dirEntries-1 of a page directory). */
  readonly dirEntries: number;
  /** Page-table entries in use per page table. */
  readonly tableEntries: number;
  /** Physical frames installed (frame numbers 0 .. frames-1). */
  readonly frames: number;
  /** 32-bit words in use at the start of each page (offsets 0 .. 4*wordsPerPage-4). */
  readonly wordsPerPage: number;
}

/** The default geometry: 4 x 4 linear pages, 32 frames, 16 words per page. */
export const DEFAULT_GEOMETRY: Geometry = Object.freeze({
  dirEntries: 4,
  tableEntries: 4,
  frames: 32,
  wordsPerPage: 16,
});

/** Bytes in a page (x86 32-bit paging, 4-KByte pages: SDM Vol. 3A §4.3). */
export const PAGE_SIZE = 4096;
/** log2 of `PAGE_SIZE`: the bits of a page offset. */
export const PAGE_SHIFT = 12;

/** Linear address of word `word` of the page at directory index `dir`, table index `table`. */
export const linear = (dir: number, table: number, word = 0): number =>
  ((dir << 22) | (table << 12) | (word << 2)) >>> 0;

/** Physical address of word `word` of frame `frame`. */
export const physical = (frame: number, word = 0): number => (frame * PAGE_SIZE + word * 4) >>> 0;

/** Page-directory index of a linear address (bits 31:22). */
export const dirIndex = (va: number): number => va >>> 22;
/** Page-table index of a linear address (bits 21:12). */
export const tableIndex = (va: number): number => (va >>> 12) & 0x3ff;
/** Virtual page number (bits 31:12). */
export const pageNumber = (a: number): number => a >>> 12;
/** Offset within the page (bits 11:0). */
export const pageOffset = (a: number): number => a & 0xfff;

/** True when the geometry is usable: indices fit real x86 and tables fit their pages. */
export const geometryProblem = (g: Geometry): string | undefined => {
  const ok = (n: number, lo: number, hi: number) => Number.isInteger(n) && n >= lo && n <= hi;
  if (!ok(g.dirEntries, 1, 1024)) return 'dirEntries must be an integer in 1..1024';
  if (!ok(g.tableEntries, 1, 1024)) return 'tableEntries must be an integer in 1..1024';
  if (!ok(g.frames, 1, 1 << 20)) return 'frames must be an integer in 1..1048576';
  if (!ok(g.wordsPerPage, 1, 1024)) return 'wordsPerPage must be an integer in 1..1024';
  return undefined;
};
