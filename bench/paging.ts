/**
 * Micro-benchmark of the one page-table walker on the 32-bit formats (x86 32-bit paging and
 * EPT_32): walks per CPU-second over a fixed set of mapped addresses, reading entries from the
 * model's physical memory. Used to show that generalising the walker (IA-32e 4-level paging,
 * 64-bit entries) did not slow down the 32-bit walks: run it on the old and the new sources.
 *
 *   npx tsx bench/paging.ts [--walks 2000000] [--repeats 5]
 */
import * as model from '../model/index.ts';
import { EPT_32, memoryFrom, PTE, readWord, walk, X86_32, x86Permits } from '../model/index.ts';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const WALKS = arg('walks', 2_000_000);
const REPEATS = arg('repeats', 5);

// 16 page tables under one directory at 0x1000, each mapping 1,024 pages: 16,384 linear pages.
const DIR = 0x1000;
const words: [number, number][] = [];
for (let d = 0; d < 16; d++) {
  const pt = 0x10_0000 + d * 0x1000;
  words.push([DIR + (d + 0x100) * 4, pt | PTE.P | PTE.RW | PTE.US]);
  for (let i = 0; i < 1024; i++) words.push([pt + i * 4, (0x4000_0000 + (d * 1024 + i) * 0x1000) | 7]);
}
const memory = memoryFrom(words);
const addresses = Array.from({ length: 4096 }, (_, i) => (0x4000_0000 + ((i * 2654435761) % 16384) * 0x1000 + i) >>> 0);
const read = (pa: number) => readWord(memory, pa);
const access = { write: true, user: true };

const time = (name: string, one: (va: number) => number) => {
  const rates: number[] = [];
  let sink = 0;
  for (let r = 0; r < REPEATS; r++) {
    const t0 = process.cpuUsage();
    for (let n = 0; n < WALKS; n++) sink ^= one(addresses[n & 4095]!);
    const t = process.cpuUsage(t0);
    rates.push(WALKS / ((t.user + t.system) / 1e6));
  }
  rates.sort((a, b) => a - b);
  const f = (x: number) => Math.round(x).toLocaleString('en-US');
  console.log(
    `${name}: best ${f(rates[rates.length - 1]!)}, median ${f(rates[rates.length >> 1]!)} walks per CPU-second (sink ${sink & 1})`,
  );
};

time('x86-32 walk', (va) => {
  const r = walk(X86_32, DIR, va, read, (rights) => x86Permits(rights, access, true));
  return r.ok ? r.frame : 0;
});
time('ept-32 walk', (va) => {
  const r = walk(EPT_32, DIR, va, read, (rights) => (rights & 2) !== 0);
  return r.ok ? r.frame : 0;
});

// IA-32e 4-level walks over the same memory (when the sources have them): the 64-bit entries'
// cost, for reference. PML4 at 0x1000 (entry 0), PDPT 0x2000, PD 0x3000 (entry 0x1ff), PTs above.
const m = model as unknown as Record<string, unknown>;
if (typeof m.ia32ePaging === 'function') {
  const format = (model as typeof model & { ia32ePaging: (o: { nxe: boolean }) => never }).ia32ePaging({ nxe: true });
  const w: [number, number][] = [
    [0x20_0000, 0x20_1000 | 7],
    [0x20_1000, 0x20_2000 | 7],
  ];
  for (let d = 0; d < 16; d++) {
    const pt = 0x30_0000 + d * 0x1000;
    w.push([0x20_2000 + d * 8, pt | 7]);
    for (let i = 0; i < 512; i++) w.push([pt + i * 8, (0x4000_0000 + (d * 512 + i) * 0x1000) | 7]);
  }
  const mem64 = memoryFrom(w);
  const read64 = (pa: number) => BigInt(readWord(mem64, pa)) | (BigInt(readWord(mem64, pa + 4)) << 32n);
  const la = addresses.map((_, i) => ((i * 2654435761) % 8192) * 0x1000 + (i & 0xfff));
  let k = 0;
  time('ia32e-4level walk', () => {
    const r = walk(format, 0x20_0000, la[k++ & 4095]!, read64, (rights) => x86Permits(rights, access, true, true)) as {
      ok: boolean;
      frame: number;
    };
    return r.ok ? r.frame : 0;
  });
}
