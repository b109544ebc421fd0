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
 * The frames whose subtrees differ between `a` and `b`, in increasing order: every frame whose
 * words differ is listed (one listed may hold the same words in a copied subtree). Descends only
 * where the two tries differ, so the cost follows what changed, not how much memory there is.
 */
export const differingFrames = (a: PhysicalMemory, b: PhysicalMemory): number[] => {
  const out: number[] = [];
  const walk = (x: Node | number | undefined, y: Node | number | undefined, level: number, prefix: number) => {
    if (x === y) return;
    if (level === LEVELS - 2) {
      out.push(prefix);
      return;
    }
    for (let i = 0; i < WIDTH; i++)
      walk((x as Node | undefined)?.[i], (y as Node | undefined)?.[i], level + 1, prefix * WIDTH + i);
  };
  walk(a.root, b.root, 0, 0);
  return out;
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
 * Where a region of `frames` frames lives in the trie: `count` adjacent nodes at trie `level`
 * (nodes of level 4 hold 1 frame, 3 hold 32, 2 hold 1024, 1 hold 32768). A region of that size,
 * aligned to it, is those whole subtrees, so it can be cut out and put back in O(1).
 */
const regionShape = (frames: number): { readonly level: number; readonly count: number } => {
  switch (frames) {
    case 1:
      return { level: 4, count: 1 };
    case 32:
      return { level: 3, count: 1 };
    case 1024:
      return { level: 2, count: 1 };
    case 32768:
      return { level: 1, count: 1 };
    case 65536:
      return { level: 1, count: 2 };
    default:
      throw new RangeError(`a region holds 1, 32, 1024, 32768 or 65536 frames, not ${frames}`);
  }
};

/** The smallest region size (1, 32, 1024, 32768 or 65536 frames) holding `frames` frames. */
export const regionFramesFor = (frames: number): number => {
  for (const r of [1, 32, 1024, 32768, 65536]) if (frames <= r) return r;
  throw new RangeError(`no region holds ${frames} frames`);
};

/** The node at trie depth `depth` on the path of word `key`, or undefined. */
const nodeAt = (mem: PhysicalMemory, key: number, depth: number): Node | undefined => {
  let node: Node | number | undefined = mem.root;
  for (let l = 0; l < depth && node !== undefined; l++) node = (node as Node)[slot(key, l)];
  return node as Node | undefined;
};

/** `node` as the first child of a chain of `n` new nodes (the region moved to address 0). */
const wrap = (node: Node, n: number): Node => {
  let root = node;
  for (let l = 0; l < n; l++) {
    const w: (Node | number | undefined)[] = new Array(WIDTH);
    w[0] = root;
    root = w;
  }
  return root;
};

/**
 * The memory of `frames` frames starting at frame `base` (aligned to `frames`), seen as a memory
 * of its own starting at address 0. O(1): it shares the subtree.
 */
export const extractRegion = (mem: PhysicalMemory, base: number, frames: number): PhysicalMemory => {
  const { level, count } = regionShape(frames);
  if (base % frames !== 0) throw new RangeError(`region base ${base} is not aligned to ${frames} frames`);
  const key = base * 1024;
  if (count > 1) {
    // Several subtrees: a new node holds them side by side.
    const parent = nodeAt(mem, key, level - 1);
    const s = slot(key, level - 1);
    const children = parent?.slice(s, s + count) ?? [];
    if (children.every((c) => c === undefined)) return EMPTY_MEMORY;
    const node: (Node | number | undefined)[] = new Array(WIDTH);
    children.forEach((c, i) => {
      node[i] = c;
    });
    return { root: wrap(node, level - 1) };
  }
  const node = nodeAt(mem, key, level);
  if (node === undefined) return EMPTY_MEMORY;
  // The same subtree extracted again gives the same memory object: comparing two extractions of
  // an unchanged region (a guest's memory before and after a step) is then one identity test.
  const cached = extracted[level]!.get(node);
  if (cached) return cached;
  const out = { root: wrap(node, level) };
  extracted[level]!.set(node, out);
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
  const { level, count } = regionShape(frames);
  if (base % frames !== 0) throw new RangeError(`region base ${base} is not aligned to ${frames} frames`);
  // The region's subtrees: children 0..count-1 of its node at depth level - 1.
  const from = nodeAt(region, 0, level - 1);
  const key = base * 1024;
  const s0 = slot(key, level - 1);
  const put = (node: Node | undefined, l: number): Node | undefined => {
    const copy: (Node | number | undefined)[] = node ? node.slice() : new Array(WIDTH);
    if (l === level - 1) for (let i = 0; i < count; i++) copy[s0 + i] = from?.[i];
    else {
      const s = slot(key, l);
      copy[s] = put(copy[s] as Node | undefined, l + 1);
    }
    return copy;
  };
  return { root: put(mem.root, 0) };
};

/** True when two memories share the region's subtrees (so it is certainly unchanged). O(1). */
export const sameRegionNode = (a: PhysicalMemory, b: PhysicalMemory, base: number, frames: number): boolean => {
  const { level, count } = regionShape(frames);
  const key = base * 1024;
  let x: Node | number | undefined = a.root;
  let y: Node | number | undefined = b.root;
  for (let l = 0; l < level - 1; l++) {
    if (x === y) return true;
    x = (x as Node | undefined)?.[slot(key, l)];
    y = (y as Node | undefined)?.[slot(key, l)];
  }
  if (x === y) return true;
  const s0 = slot(key, level - 1);
  for (let i = 0; i < count; i++)
    if ((x as Node | undefined)?.[s0 + i] !== (y as Node | undefined)?.[s0 + i]) return false;
  return true;
};
