/** The persistent memory trie and the choice enumerator, against plain models written here. */
import fc from 'fast-check';
import { EMPTY_MEMORY, enumerateChoices, nonZeroWords, readWord, sameMemory, writeWord } from 'hyperprop';
import { describe, expect, it } from 'vitest';

describe('physical memory (persistent trie)', () => {
  it('behaves like a map from word address to value, zero by default', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.nat({ max: 0x3fff_ffff }).map((w) => w * 4),
            fc.nat({ max: 0xffff_ffff }),
          ),
          { maxLength: 50 },
        ),
        fc.nat({ max: 0x3fff_ffff }).map((w) => w * 4),
        (writes, probe) => {
          const model = new Map<number, number>();
          let mem = EMPTY_MEMORY;
          for (const [pa, v] of writes) {
            model.set(pa, v);
            mem = writeWord(mem, pa, v);
          }
          expect(readWord(mem, probe)).toBe(model.get(probe) ?? 0);
          for (const [pa, v] of model) expect(readWord(mem, pa)).toBe(v);
          const expected = [...model].filter(([, v]) => v !== 0).sort((a, b) => a[0] - b[0]);
          expect([...nonZeroWords(mem)]).toEqual(expected);
        },
      ),
      { numRuns: 500, seed: 1 },
    );
  });

  it('never changes an older version (a store shares structure instead)', () => {
    const a = writeWord(EMPTY_MEMORY, 0x1000, 1);
    const b = writeWord(a, 0x1004, 2);
    expect(readWord(a, 0x1004)).toBe(0);
    expect(readWord(b, 0x1004)).toBe(2);
    expect(writeWord(b, 0x1004, 2)).toBe(b); // storing the same value returns the same memory
    expect(sameMemory(writeWord(b, 0x1004, 0), a)).toBe(true);
  });
});

describe('enumerateChoices', () => {
  it('runs every sequence of choices once, canonical (all zeros) first', () => {
    const seen = enumerateChoices((c) => {
      const a = c.choose(3);
      const b = a === 1 ? c.choose(2) : 0;
      return `${a}${b}`;
    });
    expect(seen).toEqual(['00', '10', '20', '11']);
  });
});
