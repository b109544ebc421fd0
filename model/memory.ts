/**
 * Physical memory of 32-bit words as a persistent radix trie keyed by word number (pa >>> 2).
 * A store copies one path of six 32-way nodes, never the whole memory, so the cost of a step
 * does not grow with the amount of memory; untouched words read as zero.
 */

type Node = readonly (Node | number | undefined)[];

/** Physical memory: an immutable value. */
export interface PhysicalMemory {
  readonly root: Node | undefined;
}

const BITS = 5;
const WIDTH = 1 << BITS;
const LEVELS = 6; // 6 * 5 = 30 bits = every word of a 4 GiB physical space

/** Memory with every word zero. */
export const EMPTY_MEMORY: PhysicalMemory = Object.freeze({ root: undefined });

const slot = (key: number, level: number): number => (key >>> ((LEVELS - 1 - level) * BITS)) & (WIDTH - 1);

/** Read the 32-bit word at physical address `pa` (the low two bits are ignored). */
export const readWord = (mem: PhysicalMemory, pa: number): number => {
  const key = pa >>> 2;
  let node: Node | number | undefined = mem.root;
  for (let level = 0; level < LEVELS; level++) {
    if (node === undefined) return 0;
    node = (node as Node)[slot(key, level)];
  }
  return (node as number | undefined) ?? 0;
};

const put = (node: Node | undefined, key: number, level: number, value: number): Node => {
  const copy: (Node | number | undefined)[] = node ? node.slice() : new Array(WIDTH);
  const s = slot(key, level);
  copy[s] = level === LEVELS - 1 ? value : put(copy[s] as Node | undefined, key, level + 1, value);
  return copy;
};

/** Memory with the word at physical address `pa` replaced by `value`. */
export const writeWord = (mem: PhysicalMemory, pa: number, value: number): PhysicalMemory => {
  const v = value >>> 0;
  if (readWord(mem, pa) === v) return mem;
  return { root: put(mem.root, pa >>> 2, 0, v) };
};

/** Memory holding the given (physical address, word) pairs, all else zero. */
export const memoryFrom = (words: Iterable<readonly [number, number]>): PhysicalMemory => {
  let mem = EMPTY_MEMORY;
  for (const [pa, v] of words) mem = writeWord(mem, pa, v);
  return mem;
};

/** Every non-zero word, in increasing physical address order. */
export function* nonZeroWords(mem: PhysicalMemory): Generator<readonly [number, number]> {
  function* walk(node: Node | number | undefined, level: number, prefix: number): Generator<readonly [number, number]> {
    if (node === undefined) return;
    if (level === LEVELS) {
      if (node !== 0) yield [(prefix * 4) >>> 0, node as number];
      return;
    }
    const n = node as Node;
    for (let i = 0; i < WIDTH; i++) yield* walk(n[i], level + 1, prefix * WIDTH + i);
  }
  yield* walk(mem.root, 0, 0);
}

/** The trie node holding frame `frame`'s words (32 leaves of 32 words), or undefined when all are zero. */
const frameNode = (mem: PhysicalMemory, frame: number): Node | undefined => {
  const key = frame * 1024;
  let node: Node | number | undefined = mem.root;
  for (let l = 0; l < LEVELS - 2 && node !== undefined; l++) node = (node as Node)[slot(key, l)];
  return node as Node | undefined;
};

/**
 * An object that stays the same while frame `frame`'s words do (undefined while they are all
 * zero): a key for memoizing what is derived from one frame's contents.
 */
export const frameIdentity = (mem: PhysicalMemory, frame: number): object | undefined => frameNode(mem, frame);

/**
 * The non-zero words of frame `frame`, as [word index in the frame, value], in increasing order.
 * A loop over the frame's node (a page-table scan's unit), without `nonZeroWords`' walk from the root.
 */
export const frameWords = (mem: PhysicalMemory, frame: number): [number, number][] => {
  const out: [number, number][] = [];
  const node = frameNode(mem, frame);
  if (node === undefined) return out;
  for (let i = 0; i < WIDTH; i++) {
    const leaf = node[i] as Node | undefined;
    if (leaf === undefined) continue;
    for (let j = 0; j < WIDTH; j++) {
      const v = leaf[j] as number | undefined;
      if (v) out.push([i * WIDTH + j, v]);
    }
  }
  return out;
};

/** `mem` with every word of frame `frame` zero. O(1). */
export const clearFrame = (mem: PhysicalMemory, frame: number): PhysicalMemory =>
  frameNode(mem, frame) === undefined ? mem : replaceRegion(mem, frame, 1, EMPTY_MEMORY);

/** True when both memories hold the same words (shared subtrees are compared by identity). */
export const sameMemory = (a: PhysicalMemory, b: PhysicalMemory): boolean => {
  const eq = (x: Node | number | undefined, y: Node | number | undefined, level: number): boolean => {
    if (x === y) return true;
    if (level === LEVELS) return ((x as number | undefined) ?? 0) === ((y as number | undefined) ?? 0);
    for (let i = 0; i < WIDTH; i++) {
      if (!eq((x as Node | undefined)?.[i], (y as Node | undefined)?.[i], level + 1)) return false;
    }
    return true;
  };
  return eq(a.root, b.root, 0);
};

/**
 * Trie level whose nodes each hold exactly `frames` frames (frames = 32^k, k = 0..3): regions
 * of that size, aligned to it, are whole subtrees, so they can be cut out and put back in O(1).
 */
const regionLevel = (frames: number): number => {
  switch (frames) {
    case 1:
      return 4;
    case 32:
      return 3;
    case 1024:
      return 2;
    case 32768:
      return 1;
    default:
      throw new RangeError(`a region holds 1, 32, 1024 or 32768 frames, not ${frames}`);
  }
};

/** The smallest region size (1, 32, 1024 or 32768 frames) holding `frames` frames. */
export const regionFramesFor = (frames: number): number => {
  for (const r of [1, 32, 1024, 32768]) if (frames <= r) return r;
  throw new RangeError(`no region holds ${frames} frames`);
};

/**
 * The memory of `frames` frames starting at frame `base` (aligned to `frames`), seen as a memory
 * of its own starting at address 0. O(1): it shares the subtree.
 */
export const extractRegion = (mem: PhysicalMemory, base: number, frames: number): PhysicalMemory => {
  const level = regionLevel(frames);
  if (base % frames !== 0) throw new RangeError(`region base ${base} is not aligned to ${frames} frames`);
  const key = base * 1024;
  let node: Node | number | undefined = mem.root;
  for (let l = 0; l < level && node !== undefined; l++) node = (node as Node)[slot(key, l)];
  if (node === undefined) return EMPTY_MEMORY;
  // The same subtree extracted again gives the same memory object: comparing two extractions of
  // an unchanged region (a guest's memory before and after a step) is then one identity test.
  const cached = extracted[level]!.get(node as Node);
  if (cached) return cached;
  let root = node as Node;
  for (let l = level - 1; l >= 0; l--) {
    const wrap: (Node | number | undefined)[] = new Array(WIDTH);
    wrap[0] = root;
    root = wrap;
  }
  const out = { root };
  extracted[level]!.set(node as Node, out);
  return out;
};

/** Memories made by `extractRegion`, by region level and subtree. */
const extracted: readonly WeakMap<Node, PhysicalMemory>[] = Array.from({ length: LEVELS }, () => new WeakMap());

/** `mem` with the region of `frames` frames at frame `base` replaced by `region`'s first `frames` frames. O(1). */
export const replaceRegion = (
  mem: PhysicalMemory,
  base: number,
  frames: number,
  region: PhysicalMemory,
): PhysicalMemory => {
  const level = regionLevel(frames);
  if (base % frames !== 0) throw new RangeError(`region base ${base} is not aligned to ${frames} frames`);
  let sub: Node | number | undefined = region.root;
  for (let l = 0; l < level && sub !== undefined; l++) sub = (sub as Node)[0];
  const key = base * 1024;
  const put = (node: Node | undefined, l: number): Node | undefined => {
    const copy: (Node | number | undefined)[] = node ? node.slice() : new Array(WIDTH);
    const s = slot(key, l);
    copy[s] = l === level - 1 ? (sub as Node | undefined) : put(copy[s] as Node | undefined, l + 1);
    return copy;
  };
  if (level === 0) return { root: sub as Node | undefined };
  return { root: put(mem.root, 0) };
};

/** True when two memories share the region's subtree (so it is certainly unchanged). O(1). */
export const sameRegionNode = (a: PhysicalMemory, b: PhysicalMemory, base: number, frames: number): boolean => {
  const level = regionLevel(frames);
  const key = base * 1024;
  let x: Node | number | undefined = a.root;
  let y: Node | number | undefined = b.root;
  for (let l = 0; l < level; l++) {
    if (x === y) return true;
    x = (x as Node | undefined)?.[slot(key, l)];
    y = (y as Node | undefined)?.[slot(key, l)];
  }
  return x === y;
};
