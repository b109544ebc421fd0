/**
 * Shrinking out of local minima. Each scenario below is a counterexample the checker once
 * returned (`hyperprop mutants --seeds 20`, the seed named): 1-minimal (dropping any single
 * operation makes the failure go away) yet longer than the minimum derived by hand in the
 * mutant's `minimalWhy` (mutants/). The shorter one needs another value (the system page, CR3 =
 * a page table, a guest booted at ring 3, an odd MSI vector, a frame from the world, a larger
 * allocation), which the reshape pass (properties/level.ts, properties/variants.ts) supplies. The
 * expected lengths are the hand-derived minima, not the shrinker's output.
 */
import { checkScenario, DEFAULT_GEOMETRY, linear, type Op, PRESETS, type PropertyName, type Scenario } from 'hyperprop';
import { describe, expect, it } from 'vitest';
import { type GuestSpec, plainGuestSpec } from '../../generators/reference.ts';
import type { SyscallScenario } from '../../generators/syscall.ts';
import { MUTANTS } from '../../mutants/catalog.ts';
import type { Mutant } from '../../mutants/mutant.ts';
import { containerNoMemoryQuota } from '../../mutants/syscall.ts';
import { minimizeScenario } from '../../properties/check.ts';
import { checkSyscallScenario, syscallLevel } from '../../properties/syscall/check.ts';

const g = DEFAULT_GEOMETRY;
const plain = (patch: Partial<GuestSpec> = {}): GuestSpec => ({ ...plainGuestSpec(g), ...patch });
const regs = (eax: number, ecx = 0): GuestSpec['regs'] => [eax, ecx, 0, 0];
const scenario = (guests: GuestSpec[], ...ops: [number, Op][]): Scenario => ({
  geometry: g,
  guests,
  ops: ops.map(([guest, op]) => ({ guest, op })),
});
const mutant = (name: string): Mutant => MUTANTS.find((m) => m.name === name)!;
const SYSTEM_PAGE_VA = linear(3, 3); // 0x00c03000 in the default geometry (model/boot.ts)
const PORT = { VECTOR: 0x43, COMMAND: 0x42, NIC_MAC: 0x50, NIC_TX: 0x52 } as const;
const dma: Op = { kind: 'dmaComplete', device: 0 };

const LOCAL_MINIMA: readonly (readonly [string, string, Scenario])[] = [
  [
    'shadow-ignores-us',
    // Seed 14 returned it with a first load of unmapped 0x01000000 in front; since shadow sync drops only
    // the entries a table write made stale (model/host/toolkit.ts shadowSyncTables), that load can go.
    'seed 14: a load at ring 3 of a page an earlier ring-0 load filled, instead of the system page IRET fills',
    scenario(
      // Window page (0,0) supervisor-only: P | R/W (the generator varies these flags).
      [plain({ pteFlags: plainGuestSpec(g).pteFlags.map((f, i) => (i === 0 ? 0x3 : f)) })],
      [0, { kind: 'load', dst: 0, va: 0 }],
      [0, { kind: 'iret', cs: 0x1b, eflags: 0 }],
      [0, { kind: 'load', dst: 0, va: 0 }],
    ),
  ],
  [
    'shadow-ignores-rw',
    'seed 4: an IRET to ring 3 where the guest could boot there',
    scenario(
      [plain()],
      [0, { kind: 'iret', cs: 0x1b, eflags: 0 }],
      [0, { kind: 'store', va: SYSTEM_PAGE_VA, src: 0 }],
      [0, { kind: 'store', va: SYSTEM_PAGE_VA, src: 0 }],
    ),
  ],
  [
    'shadow-no-cr3-sync',
    'seed 10: a rewritten directory entry and a reload of the same CR3, where CR3 = page table 0 needs no write',
    scenario(
      [plain()],
      [0, { kind: 'load', dst: 1, va: 0x2000 }],
      [0, { kind: 'load', dst: 0, va: 0x2000 }],
      [0, { kind: 'store', va: 0x8, src: 0 }],
      [0, { kind: 'movToCr3', value: 0 }],
      [0, { kind: 'load', dst: 1, va: 0x2000 }],
    ),
  ],
  [
    'shadow-sticky-write-protection',
    'seed 1: a store clearing directory slot 1, where the guest could boot with the slot not present',
    scenario(
      [plain({ regs: [0, 0, 0x2007, 0] })],
      [0, { kind: 'store', va: 0x8, src: 2 }],
      [0, { kind: 'store', va: 0x1004, src: 3 }],
      [0, { kind: 'store', va: 0x2000, src: 1 }],
      [0, { kind: 'store', va: 0x2000, src: 3 }],
    ),
  ],
  [
    'shadow-fills-read-only',
    'seed 3: paging turned off to reach frame 0 twice, where two stores to one data page need no MOV to CR0',
    scenario(
      [plain()],
      [0, { kind: 'movToCr0', value: 0x11 }],
      [0, { kind: 'store', va: 0x0, src: 0 }],
      [0, { kind: 'store', va: 0x8, src: 0 }],
    ),
  ],
  [
    'shadow-ignores-us',
    'seed 13: a ring-0 store fills a read-only user page under CR0.WP = 0, where IRET fills the system page',
    scenario(
      // Page (3,1) user and read-only: P | U/S.
      [plain({ wp: false, pteFlags: plainGuestSpec(g).pteFlags.map((f, i) => (i === 13 ? 0x5 : f)) })],
      [0, { kind: 'store', va: 0x00c0_1000, src: 0 }],
      [0, { kind: 'iret', cs: 0x1b, eflags: 0 }],
      [0, { kind: 'store', va: 0x00c0_1000, src: 0 }],
    ),
  ],
  [
    'sriov-shared-vf-domain',
    'seed 12: guest 1 boots at ring 3 and first faults to ring 0',
    scenario(
      [plain({ devices: 1 }), plain({ devices: 1, cpl: 3, regs: regs(3) })],
      [1, { kind: 'out', port: PORT.VECTOR }],
      [1, { kind: 'out', port: PORT.COMMAND }],
      [1, dma],
    ),
  ],
  [
    'passthrough-no-interrupt-remapping',
    "seed 7: the even vector 0x30 (guest 0's) needs a MOV for START",
    scenario(
      [plain({ devices: 1 }), plain({ devices: 1, regs: regs(0x30) })],
      [1, { kind: 'out', port: PORT.VECTOR }],
      [1, { kind: 'movImm', dst: 0, imm: 3 }],
      [1, { kind: 'out', port: PORT.COMMAND }],
      [1, dma],
    ),
  ],
  [
    'ept-mac-changes-accept',
    'seed 4: the guest writes a frame to its old MAC and transmits it, where a frame from the world does',
    scenario(
      [plain({ nic: 0x10, regs: regs(0x11, 0x1011_0000) })],
      [0, { kind: 'out', port: PORT.NIC_MAC }],
      [0, { kind: 'store', va: 0x0040_3000, src: 1 }],
      [0, { kind: 'movImm', dst: 0, imm: 0xd000 }],
      [0, { kind: 'out', port: PORT.NIC_TX }],
    ),
  ],
];

describe('shrinking leaves 1-minimal local minima for the hand-derived minimum', () => {
  it.each(LOCAL_MINIMA)('%s (%s)', (name, _why, s) => {
    const m = mutant(name);
    expect(m.target.level).toBe('machine');
    const design = (m.target as { design: Parameters<typeof checkScenario>[0] }).design;
    const base = PRESETS[m.base]!;
    const property = m.property as PropertyName;
    // The input is a counterexample, and no single drop shortens it.
    expect(checkScenario(design, property, s)).toBeDefined();
    expect(checkScenario(base, property, s)).toBeUndefined();
    for (let j = 0; j < s.ops.length; j++)
      expect(checkScenario(design, property, { ...s, ops: s.ops.filter((_, k) => k !== j) })).toBeUndefined();
    const shrunk = minimizeScenario(design, property, s, base);
    expect(shrunk.ops).toHaveLength(m.minimalLength);
    expect(checkScenario(design, property, shrunk)).toBeDefined();
    expect(checkScenario(base, property, shrunk)).toBeUndefined();
  });

  it('container-no-memory-quota (seed 6: mmap + alloc(13) where one larger allocation starves the neighbour)', () => {
    const m = mutant('container-no-memory-quota');
    const design = containerNoMemoryQuota;
    const s: SyscallScenario = {
      guests: [0, 1, 2].map(() => ({ quota: 3, abi: 'host' as const })),
      ops: [
        { guest: 0, call: { kind: 'mmap', page: 0 } },
        { guest: 0, call: { kind: 'alloc', pages: 13 } },
        { guest: 1, call: { kind: 'mmap', page: 0 } },
      ],
    };
    expect(checkSyscallScenario(design, 'isolation', s)).toBeDefined();
    for (let j = 0; j < s.ops.length; j++)
      expect(checkSyscallScenario(design, 'isolation', { ...s, ops: s.ops.filter((_, k) => k !== j) })).toBeUndefined();
    const shrunk = syscallLevel(design).minimize('isolation', s);
    expect(shrunk.ops).toHaveLength(m.minimalLength);
    expect(checkSyscallScenario(design, 'isolation', shrunk)).toBeDefined();
  });
});
