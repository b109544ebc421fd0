/**
 * The words two physical memories differ in, found by walking both tries together and skipping
 * shared subtrees (a step changes one path, so this costs a few node visits, not a memory scan).
 */
import type { PhysicalMemory } from '../model/memory.ts';

type Node = readonly (Node | number | undefined)[] | number | undefined;
const LEVELS = 6;
const WIDTH = 32;

/** Every word whose value differs between `a` and `b`, as [physical address, value in b]. */
export const memoryDiff = (a: PhysicalMemory, b: PhysicalMemory): [number, number][] => {
  const out: [number, number][] = [];
  const walk = (x: Node, y: Node, level: number, prefix: number) => {
    if (x === y) return;
    if (level === LEVELS) {
      const vx = (x as number | undefined) ?? 0;
      const vy = (y as number | undefined) ?? 0;
      if (vx !== vy) out.push([(prefix * 4) >>> 0, vy >>> 0]);
      return;
    }
    const nx = x as readonly Node[] | undefined;
    const ny = y as readonly Node[] | undefined;
    for (let i = 0; i < WIDTH; i++) walk(nx?.[i], ny?.[i], level + 1, prefix * WIDTH + i);
  };
  walk(a.root as Node, b.root as Node, 0, 0);
  return out;
};
