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
