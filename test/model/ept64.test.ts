/**
 * 4-level EPT through the one walker, against walks derived by hand from the Intel SDM Vol. 3C
 * §29.3.2 (EPT translation: Figure 29-1 for 4 KiB pages, 29-2 for 2 MiB, 29-3 for 1 GiB; entry
 * formats of Tables 29-1 to 29-6), §29.3.3.1 (EPT misconfigurations) and §29.3.3.2 (EPT
 * violations); §28.2 in editions before 2023. MAXPHYADDR 40, execute-only supported (the
 * choices model/host/ept64.ts states). Index, entry and host addresses are computed by hand below.
 */
import { accessedDirtyUpdates, ept4Level, eptFailure, eptPermits, translatedPageSize, walk } from 'hyperprop';
import { describe, expect, it } from 'vitest';

const EPT = ept4Level();
const R = 1n;
const W = 2n;
const X = 4n;
const RWX = R | W | X;
const WB = 6n << 3n; // memory type 6 (write-back) in bits 5:3 of an entry that maps a page
const PAGE_BIT = 1n << 7n;

const EPT_PML4 = 0x5000;
const EPT_PDPT = 0x6000;
const EPT_PD = 0x7000;
const EPT_PT = 0x8000;

// gpa = 0x134_5678_99ab: bits 47:39 = 0x002, 38:30 = 0x0d1, 29:21 = 0x0b3, 20:12 = 0x189, 11:0 = 0x9ab
// (2 << 39 = 0x100_0000_0000, 0xd1 << 30 = 0x34_4000_0000, 0xb3 << 21 = 0x1660_0000, 0x189 << 12 = 0x18_9000).
const GPA = 0x134_5678_99ab;
const PML4E_AT = 0x5010; // 0x5000 + 0x002 * 8
const PDPTE_AT = 0x6688; // 0x6000 + 0x0d1 * 8 (0x688)
const PDE_AT = 0x7598; //   0x7000 + 0x0b3 * 8 (0x598)
const PTE_AT = 0x8c48; //   0x8000 + 0x189 * 8 (0xc48)

// 2 MiB: PD index 0x0b4, gpa + 1 << 21 = 0x134_5698_99ab; EPT PDE at 0x7000 + 0xb4 * 8 = 0x75a0; offset bits 20:0 = 0x18_99ab.
const GPA_2M = 0x134_5698_99ab;
const PDE_2M_AT = 0x75a0;
// 1 GiB: PDPT index 0x0d2, gpa = 0x134_8abc_def0 (0x134_8000_0000 + 0x0abc_def0); EPT PDPTE at 0x6000 + 0xd2 * 8 = 0x6690.
const GPA_1G = 0x134_8abc_def0;
const PDPTE_1G_AT = 0x6690;

type Tables = Map<number, bigint>;
const tables = (): Tables =>
  new Map<number, bigint>([
    [PML4E_AT, BigInt(EPT_PDPT) | RWX],
    [PDPTE_AT, BigInt(EPT_PD) | RWX],
    [PDE_AT, BigInt(EPT_PT) | RWX],
    [PTE_AT, 0x3_0000_0000n | WB | RWX],
    [PDE_2M_AT, 0x4000_0000n | PAGE_BIT | WB | RWX],
    [PDPTE_1G_AT, 0x2_4000_0000n | PAGE_BIT | WB | RWX],
  ]);
const set = (t: Tables, at: number, f: (e: bigint) => bigint): Tables => new Map(t).set(at, f(t.get(at)!));

const run = (t: Tables, gpa: number, access: { write: boolean; fetch?: boolean }, format = EPT) => {
  const reads: number[] = [];
  const r = walk(
    format,
    EPT_PML4,
    gpa,
    (pa) => {
      reads.push(pa);
      return t.get(pa) ?? 0n;
    },
    (rights) => eptPermits(rights, access),
  );
  return { r, reads, exit: eptFailure(r), hpa: r.ok ? r.frame + (gpa % translatedPageSize(format, r)) : undefined };
};
const READ = { write: false };
const WRITE = { write: true };
const FETCH = { write: false, fetch: true };

describe('4-level EPT translations (SDM Vol. 3C §29.3.2)', () => {
  it('a 4 KiB page: the four entry addresses computed by hand, host address 0x3_0000_09ab', () => {
    const { r, reads, hpa } = run(tables(), GPA, READ);
    expect(reads).toEqual([PML4E_AT, PDPTE_AT, PDE_AT, PTE_AT]);
    expect(r.ok).toBe(true);
    expect(hpa).toBe(0x3_0000_09ab);
  });

  it('a 2 MiB page (bit 7 of the EPT PDE): host address 0x4000_0000 + 0x18_99ab', () => {
    const { reads, hpa } = run(tables(), GPA_2M, WRITE);
    expect(reads).toEqual([PML4E_AT, PDPTE_AT, PDE_2M_AT]);
    expect(hpa).toBe(0x4018_99ab);
  });

  it('a 1 GiB page (bit 7 of the EPT PDPTE): host address 0x2_4000_0000 + 0x0abc_def0', () => {
    const { reads, hpa } = run(tables(), GPA_1G, FETCH);
    expect(reads).toEqual([PML4E_AT, PDPTE_1G_AT]);
    expect(hpa).toBe(0x2_4abc_def0);
  });
});

describe('EPT violations (§29.3.3.2): not present, or rights ANDed across levels', () => {
  it('bits 2:0 all clear in the EPT PDE: not present, an EPT violation', () => {
    const { r, exit } = run(
      set(tables(), PDE_AT, (e) => e & ~7n),
      GPA,
      READ,
    );
    expect(r).toMatchObject({ ok: false, reason: 'not-present', level: 2 });
    expect(exit).toBe('ept-violation');
  });

  it('W = 0 in the EPT PDPTE alone: a write is a violation, a read and a fetch translate', () => {
    const t = set(tables(), PDPTE_AT, (e) => e & ~W);
    expect(run(t, GPA, WRITE).exit).toBe('ept-violation');
    expect(run(t, GPA, READ).r.ok).toBe(true);
    expect(run(t, GPA, FETCH).r.ok).toBe(true);
  });

  it('an execute-only leaf (X alone, supported here): fetch translates, read and write are violations', () => {
    const t = set(tables(), PTE_AT, (e) => (e & ~7n) | X);
    expect(run(t, GPA, FETCH).r.ok).toBe(true);
    expect(run(t, GPA, READ).exit).toBe('ept-violation');
    expect(run(t, GPA, WRITE).exit).toBe('ept-violation');
  });
});

describe('EPT misconfigurations (§29.3.3.1), not violations', () => {
  it.each([
    ['W without R in the EPT PTE', PTE_AT, (e: bigint) => (e & ~7n) | W, 3],
    ['W without R in the EPT PML4E', PML4E_AT, (e: bigint) => (e & ~7n) | W | X, 0],
    ['bit 7 in the EPT PML4E', PML4E_AT, (e: bigint) => e | PAGE_BIT, 0],
    ['bits 7:3 (here 5:3) in the EPT PDE referencing a table', PDE_AT, (e: bigint) => e | WB, 2],
    ['bit 40 (above MAXPHYADDR - 1) in the EPT PDPTE', PDPTE_AT, (e: bigint) => e | (1n << 40n), 1],
    ['memory type 2 (reserved) in the EPT PTE', PTE_AT, (e: bigint) => (e & ~(7n << 3n)) | (2n << 3n), 3],
    ['memory type 7 (reserved) in the EPT PTE', PTE_AT, (e: bigint) => e | (7n << 3n), 3],
  ])('%s', (_, at, f, level) => {
    const { r, exit } = run(set(tables(), at, f), GPA, READ);
    expect(r).toMatchObject({ ok: false, reason: 'reserved', level });
    expect(exit).toBe('ept-misconfiguration');
  });

  it('bit 12 of a 2 MiB EPT PDE and bit 29 of a 1 GiB EPT PDPTE are reserved (no PAT bit in EPT)', () => {
    expect(
      run(
        set(tables(), PDE_2M_AT, (e) => e | (1n << 12n)),
        GPA_2M,
        READ,
      ).exit,
    ).toBe('ept-misconfiguration');
    expect(
      run(
        set(tables(), PDPTE_1G_AT, (e) => e | (1n << 29n)),
        GPA_1G,
        READ,
      ).exit,
    ).toBe('ept-misconfiguration');
  });

  it('memory type 0 (UC) and 4 (WT) in a leaf are valid; bits 63:52 are ignored', () => {
    expect(
      run(
        set(tables(), PTE_AT, (e) => e & ~(7n << 3n)),
        GPA,
        READ,
      ).r.ok,
    ).toBe(true);
    expect(
      run(
        set(tables(), PTE_AT, (e) => (e & ~(7n << 3n)) | (4n << 3n)),
        GPA,
        READ,
      ).r.ok,
    ).toBe(true);
    expect(
      run(
        set(tables(), PTE_AT, (e) => e | (0xfffn << 52n)),
        GPA,
        READ,
      ).hpa,
    ).toBe(0x3_0000_09ab);
  });
});

describe('EPT accessed and dirty flags (EPTP bit 6; §29.3.5)', () => {
  it('a write sets A (bit 8) at every level and D (bit 9) only in the leaf; off unless enabled', () => {
    const ad = ept4Level({ accessedDirty: true });
    const { r } = run(tables(), GPA_2M, WRITE, ad);
    if (!r.ok) throw new Error('walk failed');
    expect(accessedDirtyUpdates(ad, r.path, { dirty: true })).toEqual([
      { entryAddress: PML4E_AT, value: 0x6000 | 7 | 0x100 },
      { entryAddress: PDPTE_AT, value: 0x7000 | 7 | 0x100 },
      { entryAddress: PDE_2M_AT, value: 0x4000_0000 | 0x80 | 0x30 | 7 | 0x100 | 0x200 },
    ]);
    expect(accessedDirtyUpdates(EPT, r.path, { dirty: true })).toEqual([]);
  });
});
