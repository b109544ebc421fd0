/**
 * IA-32e 4-level paging through the one walker, against walks derived by hand from the Intel SDM
 * Vol. 3A: §4.5 (4-level paging: Figure 4-8 for 4 KiB pages, 4-9 for 2 MiB, 4-10 for 1 GiB; the
 * entry formats of Tables 4-15 to 4-20, numbered as in the editions with 5-level paging: PML4E,
 * PDPTE mapping a 1 GiB page, PDPTE referencing a PD, PDE mapping a 2 MiB page, PDE referencing
 * a PT, PTE), §4.6 (access rights), §4.7 (#PF error code, Figure 4-12), §4.8 (A/D flags) and
 * §3.3.7.1 (canonical addresses). Every index, entry address and physical address below is
 * computed in the comments by hand; the model is asked only to walk.
 *
 * MAXPHYADDR is the model's default, 40: an entry's address bits are 39:12, bits 51:40 reserved.
 */
import {
  accessedDirtyUpdates,
  CR0,
  CR4,
  canonicalFault,
  EFER,
  ia32ePaging,
  isCanonical,
  PF_ERR,
  PTE64,
  pagingMode,
  pfErrorCode,
  translatedPageSize,
  VEC,
  walk,
  walkLinear,
  x86Permits,
} from 'hyperprop';
import { describe, expect, it } from 'vitest';

const { P, RW, US, A, D, PS, XD } = PTE64;
const NXE = ia32ePaging({ nxe: true });
const NO_NXE = ia32ePaging({ nxe: false });

// Tables of the 4 KiB walk. The PT lies above 4 GiB, to show entry addresses are not cut to 32 bits.
const PML4 = 0x1000;
const PDPT = 0x2000;
const PD = 0x3000;
const PT = 0x1_0000_4000;

// la = 0x7f12_3466_7abc. In binary, by field (SDM Figure 4-8):
//   bits 47:39 = 0x0fe (0x7f12_3466_7abc >> 39 = 0xfe), bits 38:30 = 0x048,
//   bits 29:21 = 0x1a3, bits 20:12 = 0x067, bits 11:0 = 0xabc.
// Check: 0xfe<<39 + 0x48<<30 + 0x1a3<<21 + 0x67<<12 + 0xabc
//      = 0x7f00_0000_0000 + 0x12_0000_0000 + 0x3460_0000 + 0x6_7000 + 0xabc = 0x7f12_3466_7abc.
const LA_4K = 0x7f12_3466_7abcn;
// Entry addresses: table + index * 8 (§4.5.4).
const PML4E_AT = 0x17f0; //   0x1000 + 0x0fe * 8 = 0x1000 + 0x7f0
const PDPTE_AT = 0x2240; //   0x2000 + 0x048 * 8 = 0x2000 + 0x240
const PDE_AT = 0x3d18; //     0x3000 + 0x1a3 * 8 = 0x3000 + 0xd18
const PTE_AT = 0x1_0000_4338; // 0x1_0000_4000 + 0x067 * 8 = ... + 0x338
const PAGE = 0xab_cdef_5000n; // a frame just below 2^40 = 0x100_0000_0000

// 2 MiB page: PD index 0x1a4, so la = LA_4K + 1 << 21 = 0x7f12_3486_7abc; PDE at 0x3000 + 0x1a4 * 8 = 0x3d20.
// Offset in the page is bits 20:0 of la = 0x06_7abc (0x86_7abc & 0x1f_ffff).
const LA_2M = 0x7f12_3486_7abcn;
const PDE_2M_AT = 0x3d20;
const PAGE_2M = 0x55_4020_0000n; // 2 MiB-aligned (bits 20:0 zero)

// 1 GiB page: PDPT index 0x049: la = 0x7f00_0000_0000 + 0x49 << 30 + 0x1234_5678 = 0x7f12_5234_5678
// (0x49 << 30 = 0x12_4000_0000); PDPTE at 0x2000 + 0x49 * 8 = 0x2248; offset bits 29:0 = 0x1234_5678.
const LA_1G = 0x7f12_5234_5678n;
const PDPTE_1G_AT = 0x2248;
const PAGE_1G = 0x80_4000_0000n; // 1 GiB-aligned (bits 29:0 zero)

type Tables = Map<number, bigint>;

/** The paging structures, every entry present, writable and user unless a test changes one. */
const tables = (): Tables =>
  new Map<number, bigint>([
    [PML4E_AT, BigInt(PDPT) | P | RW | US],
    [PDPTE_AT, BigInt(PD) | P | RW | US],
    [PDE_AT, BigInt(PT) | P | RW | US],
    [PTE_AT, PAGE | P | RW | US],
    [PDE_2M_AT, PAGE_2M | PS | P | RW | US],
    [PDPTE_1G_AT, PAGE_1G | PS | P | RW | US],
  ]);

const with_ = (t: Tables, at: number, f: (e: bigint) => bigint): Tables => new Map(t).set(at, f(t.get(at)!));

interface Acc {
  readonly write: boolean;
  readonly user: boolean;
  readonly fetch?: boolean;
}
const READ: Acc = { write: false, user: false };
const WRITE: Acc = { write: true, user: false };
const USER_READ: Acc = { write: false, user: true };
const USER_WRITE: Acc = { write: true, user: true };
const FETCH: Acc = { write: false, user: false, fetch: true };

/** Walk `la` for `access` with CR0.WP = `wp`, returning the result and the addresses read. */
const run = (t: Tables, la: bigint, access: Acc, opts: { wp?: boolean; nxe?: boolean; stack?: boolean } = {}) => {
  const nxe = opts.nxe ?? true;
  const reads: number[] = [];
  const r = walkLinear(
    nxe ? NXE : NO_NXE,
    PML4,
    la,
    (pa) => {
      reads.push(pa);
      return t.get(pa) ?? 0n;
    },
    (rights) => x86Permits(rights, access, opts.wp ?? true, nxe),
    { stack: opts.stack ?? false },
  );
  const errorCode =
    r.ok || r.reason === 'non-canonical' || r.reason === 'read' ? undefined : pfErrorCode(r.reason, access, { nxe });
  return { r, reads, errorCode };
};

const physical = (r: ReturnType<typeof run>['r'], la: bigint): bigint => {
  if (!r.ok) throw new Error(`expected a translation, got ${r.reason}`);
  return BigInt(r.frame) + (la & BigInt(translatedPageSize(NXE, r) - 1));
};

describe('IA-32e 4-level paging: translations (SDM Vol. 3A §4.5)', () => {
  it('a 4 KiB page: the four entry addresses computed by hand, the offset kept (Figure 4-8)', () => {
    const { r, reads } = run(tables(), LA_4K, READ);
    expect(reads).toEqual([PML4E_AT, PDPTE_AT, PDE_AT, PTE_AT]);
    expect(r.ok && r.path.map((s) => s.entryAddress)).toEqual([PML4E_AT, PDPTE_AT, PDE_AT, PTE_AT]);
    expect(physical(r, LA_4K)).toBe(0xab_cdef_5abcn);
    expect(r.ok && translatedPageSize(NXE, r)).toBe(4096);
  });

  it('a 2 MiB page (PDE.PS = 1, Table 4-18): three reads, bits 20:0 of the address kept; PAT (bit 12) is not an address bit', () => {
    const { r, reads } = run(tables(), LA_2M, READ);
    expect(reads).toEqual([PML4E_AT, PDPTE_AT, PDE_2M_AT]);
    expect(physical(r, LA_2M)).toBe(0x55_4026_7abcn); // 0x55_4020_0000 + 0x06_7abc
    expect(r.ok && translatedPageSize(NXE, r)).toBe(2 * 1024 * 1024);
    const pat = run(
      with_(tables(), PDE_2M_AT, (e) => e | PTE64.PAT_LARGE),
      LA_2M,
      READ,
    );
    expect(physical(pat.r, LA_2M)).toBe(0x55_4026_7abcn);
  });

  it('a 1 GiB page (PDPTE.PS = 1, Table 4-16): two reads, bits 29:0 of the address kept', () => {
    const { r, reads } = run(tables(), LA_1G, READ);
    expect(reads).toEqual([PML4E_AT, PDPTE_1G_AT]);
    expect(physical(r, LA_1G)).toBe(0x80_5234_5678n); // 0x80_4000_0000 + 0x1234_5678
    expect(r.ok && translatedPageSize(NXE, r)).toBe(1024 * 1024 * 1024);
  });

  it('a PTE with bit 7 set maps a 4 KiB page (bit 7 of a PTE is PAT, Table 4-20), not a fault', () => {
    const { r } = run(
      with_(tables(), PTE_AT, (e) => e | PS),
      LA_4K,
      READ,
    );
    expect(physical(r, LA_4K)).toBe(0xab_cdef_5abcn);
  });
});

describe('faults and their #PF error codes (SDM Vol. 3A §4.6, §4.7)', () => {
  it.each([
    ['PML4E', PML4E_AT, 0],
    ['PDPTE', PDPTE_AT, 1],
    ['PDE', PDE_AT, 2],
    ['PTE', PTE_AT, 3],
  ])('a not-present %s: fault at that level, error code P = 0 (user read: U/S = 1 only, 0x4)', (_, at, level) => {
    const { r, errorCode } = run(
      with_(tables(), at, (e) => e & ~P),
      LA_4K,
      USER_READ,
    );
    expect(r).toMatchObject({ ok: false, reason: 'not-present', level });
    expect(errorCode).toBe(0x4);
  });

  it.each([
    ['PML4E', PML4E_AT],
    ['PDPTE', PDPTE_AT],
    ['PDE', PDE_AT],
    ['PTE', PTE_AT],
  ])(
    'U/S = 0 in the %s alone denies a user read (U/S is ANDed across levels): P = 1, U/S = 1 (0x5); a supervisor read passes',
    (_, at) => {
      const t = with_(tables(), at, (e) => e & ~US);
      const user = run(t, LA_4K, USER_READ);
      expect(user.r).toMatchObject({ ok: false, reason: 'rights' });
      expect(user.errorCode).toBe(0x5);
      expect(run(t, LA_4K, READ).r.ok).toBe(true);
    },
  );

  it.each([
    ['PML4E', PML4E_AT],
    ['PDPTE', PDPTE_AT],
    ['PDE', PDE_AT],
    ['PTE', PTE_AT],
  ])(
    'R/W = 0 in the %s alone: user write faults (0x7) whatever CR0.WP; supervisor write faults (0x3) only with CR0.WP = 1',
    (_, at) => {
      const t = with_(tables(), at, (e) => e & ~RW);
      for (const wp of [false, true]) {
        const user = run(t, LA_4K, USER_WRITE, { wp });
        expect(user.r).toMatchObject({ ok: false, reason: 'rights' });
        expect(user.errorCode).toBe(PF_ERR.P | PF_ERR.WR | PF_ERR.US);
      }
      expect(run(t, LA_4K, WRITE, { wp: false }).r.ok).toBe(true);
      const sup = run(t, LA_4K, WRITE, { wp: true });
      expect(sup.r).toMatchObject({ ok: false, reason: 'rights' });
      expect(sup.errorCode).toBe(0x3);
    },
  );

  it('R/W on a large page: R/W = 0 in the 2 MiB PDE denies a user write (0x7) and, with CR0.WP = 1, a supervisor write (0x3)', () => {
    const t = with_(tables(), PDE_2M_AT, (e) => e & ~RW);
    expect(run(t, LA_2M, USER_WRITE, { wp: false }).errorCode).toBe(0x7);
    expect(run(t, LA_2M, WRITE, { wp: false }).r.ok).toBe(true);
    expect(run(t, LA_2M, WRITE, { wp: true }).errorCode).toBe(0x3);
  });

  it('XD = 1 in the PDE with NXE = 1: a fetch faults with P = 1, I/D = 1 (0x11); a read of the same page passes (§4.6.1)', () => {
    const t = with_(tables(), PDE_AT, (e) => e | XD);
    const fetch = run(t, LA_4K, FETCH);
    expect(fetch.r).toMatchObject({ ok: false, reason: 'rights' });
    expect(fetch.errorCode).toBe(0x11);
    expect(run(t, LA_4K, READ).r.ok).toBe(true);
    // XD is ORed across levels: XD = 1 in the PML4E alone is enough.
    expect(
      run(
        with_(tables(), PML4E_AT, (e) => e | XD),
        LA_4K,
        FETCH,
      ).errorCode,
    ).toBe(0x11);
    // and no XD anywhere: the fetch passes.
    expect(run(tables(), LA_4K, FETCH).r.ok).toBe(true);
  });

  it('XD = 1 with NXE = 0 is a reserved bit (Tables 4-15..4-20): P = 1, RSVD = 1 (0x9), no I/D without NXE or SMEP', () => {
    const t = with_(tables(), PTE_AT, (e) => e | XD);
    const read = run(t, LA_4K, READ, { nxe: false });
    expect(read.r).toMatchObject({ ok: false, reason: 'reserved', level: 3 });
    expect(read.errorCode).toBe(PF_ERR.P | PF_ERR.RSVD);
    expect(run(t, LA_4K, FETCH, { nxe: false }).errorCode).toBe(0x9);
  });

  it.each([
    ['PML4E', 40, PML4E_AT, 0],
    ['PDPTE', 45, PDPTE_AT, 1],
    ['PDE', 51, PDE_AT, 2],
    ['PTE', 40, PTE_AT, 3],
  ])(
    'a %s with bit %i set (bits 51:40 are above MAXPHYADDR - 1): RSVD, P = 1 (supervisor write: 0xb)',
    (_, bit, at, level) => {
      const { r, errorCode } = run(
        with_(tables(), at, (e) => e | (1n << BigInt(bit))),
        LA_4K,
        WRITE,
      );
      expect(r).toMatchObject({ ok: false, reason: 'reserved', level });
      expect(errorCode).toBe(PF_ERR.P | PF_ERR.WR | PF_ERR.RSVD);
    },
  );

  it('bit 39 is an address bit with MAXPHYADDR = 40 and bits 62:52 are ignored: no fault', () => {
    const t = with_(tables(), PTE_AT, (e) => e | (1n << 39n) | (0x7ffn << 52n));
    expect(physical(run(t, LA_4K, READ).r, LA_4K)).toBe(0x80_0000_0000n | 0xab_cdef_5abcn);
  });

  it('PS = 1 in a PML4E is reserved (Table 4-15): RSVD at level 0', () => {
    const { r, errorCode } = run(
      with_(tables(), PML4E_AT, (e) => e | PS),
      LA_4K,
      USER_READ,
    );
    expect(r).toMatchObject({ ok: false, reason: 'reserved', level: 0 });
    expect(errorCode).toBe(PF_ERR.P | PF_ERR.US | PF_ERR.RSVD); // 0xd
  });

  it('reserved bits of large pages: bits 29:13 of a 1 GiB PDPTE, 20:13 of a 2 MiB PDE (Tables 4-16, 4-18)', () => {
    expect(
      run(
        with_(tables(), PDPTE_1G_AT, (e) => e | (1n << 13n)),
        LA_1G,
        READ,
      ).r,
    ).toMatchObject({
      reason: 'reserved',
      level: 1,
    });
    expect(
      run(
        with_(tables(), PDPTE_1G_AT, (e) => e | (1n << 29n)),
        LA_1G,
        READ,
      ).r,
    ).toMatchObject({
      reason: 'reserved',
      level: 1,
    });
    expect(
      run(
        with_(tables(), PDE_2M_AT, (e) => e | (1n << 20n)),
        LA_2M,
        READ,
      ).r,
    ).toMatchObject({
      reason: 'reserved',
      level: 2,
    });
    // The same bit in a PDE that references a PT is an address bit, not reserved: the walk goes on to
    // the PT at 0x1_0000_4000 + 1 << 20 = 0x1_0010_4000 (empty here: the PTE at + 0x338 is not present).
    const moved = run(
      with_(tables(), PDE_AT, (e) => e | (1n << 20n)),
      LA_4K,
      READ,
    );
    expect(moved.reads.at(-1)).toBe(0x1_0010_4338);
    expect(moved.r).toMatchObject({ reason: 'not-present', level: 3 });
  });

  it('a not-present entry is not checked for reserved bits (P = 0: the other bits are ignored, §4.5.4)', () => {
    const { r, errorCode } = run(
      with_(tables(), PDE_AT, () => (1n << 51n) | XD),
      LA_4K,
      READ,
      { nxe: false },
    );
    expect(r).toMatchObject({ reason: 'not-present', level: 2 });
    expect(errorCode).toBe(0);
  });

  it('a reserved bit wins over a rights violation further down (the walk stops at the reserved entry)', () => {
    let t = with_(tables(), PDE_AT, (e) => e | (1n << 48n));
    t = with_(t, PTE_AT, (e) => e & ~US);
    expect(run(t, LA_4K, USER_READ).errorCode).toBe(0xd);
  });
});

describe('accessed and dirty flags (SDM Vol. 3A §4.8)', () => {
  it('a write sets A in every entry of the walk and D only in the PTE; each update is the low doubleword', () => {
    const { r } = run(tables(), LA_4K, WRITE);
    if (!r.ok) throw new Error('walk failed');
    // Low doublewords of the entries: PDPT 0x2000|7, PD 0x3000|7, PT 0x0000_4000|7 (bit 32 is in the high half), page 0xcdef_5000|7.
    expect(accessedDirtyUpdates(NXE, r.path, { dirty: true })).toEqual([
      { entryAddress: PML4E_AT, value: 0x2000 | 0x7 | 0x20 },
      { entryAddress: PDPTE_AT, value: 0x3000 | 0x7 | 0x20 },
      { entryAddress: PDE_AT, value: 0x4000 | 0x7 | 0x20 },
      { entryAddress: PTE_AT, value: (0xcdef_5000 | 0x7 | 0x20 | 0x40) >>> 0 },
    ]);
  });

  it('a read sets A only; entries that already have A are not rewritten', () => {
    const t = with_(tables(), PDPTE_AT, (e) => e | A);
    const { r } = run(t, LA_4K, READ);
    if (!r.ok) throw new Error('walk failed');
    expect(accessedDirtyUpdates(NXE, r.path, { dirty: false }).map((u) => u.entryAddress)).toEqual([
      PML4E_AT,
      PDE_AT,
      PTE_AT,
    ]);
  });

  it('a write to a 2 MiB page sets D in the PDE (the leaf), A in the PML4E and PDPTE', () => {
    const { r } = run(tables(), LA_2M, WRITE);
    if (!r.ok) throw new Error('walk failed');
    expect(accessedDirtyUpdates(NXE, r.path, { dirty: true })).toEqual([
      { entryAddress: PML4E_AT, value: 0x2000 | 0x7 | 0x20 },
      { entryAddress: PDPTE_AT, value: 0x3000 | 0x7 | 0x20 },
      // low doubleword of 0x55_4020_0000 | PS | 7: 0x4020_0087, with A and D
      { entryAddress: PDE_2M_AT, value: 0x4020_0087 | 0x20 | 0x40 },
    ]);
    expect(D).toBe(0x40n);
  });
});

describe('canonical addresses (SDM Vol. 1 §3.3.7.1, Vol. 3A §3.3.7.1)', () => {
  it('bits 63:47 all equal: canonical; otherwise not', () => {
    expect(isCanonical(0x0000_7fff_ffff_ffffn)).toBe(true);
    expect(isCanonical(0xffff_8000_0000_0000n)).toBe(true);
    expect(isCanonical(-1n)).toBe(true);
    expect(isCanonical(0x0000_8000_0000_0000n)).toBe(false);
    expect(isCanonical(0xffff_7fff_ffff_ffffn)).toBe(false);
    expect(isCanonical(0x0001_0000_0000_0000n)).toBe(false);
  });

  it('a non-canonical address faults (#GP(0), #SS(0) for a stack reference) before any entry is read', () => {
    const la = 0x0000_8000_0000_0000n;
    const data = run(tables(), la, READ);
    expect(data.reads).toEqual([]);
    expect(data.r).toEqual({ ok: false, reason: 'non-canonical', fault: { vector: VEC.GP, errorCode: 0 } });
    const stack = run(tables(), la, WRITE, { stack: true });
    expect(stack.reads).toEqual([]);
    expect(stack.r).toMatchObject({ fault: { vector: 12, errorCode: 0 } });
    expect(canonicalFault(false).vector).toBe(13);
  });

  it('a canonical upper-half address walks with bits 47:0: 0xffff_8000_0000_1000 reads PML4 entry 0x100 (at 0x1000 + 0x800)', () => {
    const { reads, r } = run(tables(), 0xffff_8000_0000_1000n, READ);
    expect(reads).toEqual([0x1800]);
    expect(r).toMatchObject({ ok: false, reason: 'not-present', level: 0 });
  });
});

describe('the paging mode from CR0, CR4, IA32_EFER (SDM Vol. 3A §4.1.1, Table 4-1)', () => {
  it('PG = 0: none; PAE = 0: 32-bit; PAE without LME: PAE; PAE with LME: 4-level', () => {
    expect(pagingMode({ cr0: 0, cr4: CR4.PAE, efer: EFER.LME })).toBe('none');
    expect(pagingMode({ cr0: CR0.PG, cr4: 0, efer: EFER.LME })).toBe('32-bit');
    expect(pagingMode({ cr0: CR0.PG, cr4: CR4.PAE, efer: 0 })).toBe('pae');
    expect(pagingMode({ cr0: CR0.PG, cr4: CR4.PAE, efer: EFER.LME | EFER.NXE })).toBe('4-level');
    // Bit positions from SDM Vol. 3A §2.2.1 (IA32_EFER) and §2.5 (CR4).
    expect([EFER.SCE, EFER.LME, EFER.LMA, EFER.NXE]).toEqual([0x1, 0x100, 0x400, 0x800]);
    expect([CR4.PSE, CR4.PAE, CR4.PGE]).toEqual([0x10, 0x20, 0x80]);
  });
});

describe('the walker is one: the same `walk` on the 4-level format', () => {
  it('walk() with bits 47:0 gives the same translation as walkLinear()', () => {
    const t = tables();
    const r = walk(
      NXE,
      PML4,
      0x7f12_3466_7abc,
      (pa) => t.get(pa) ?? 0n,
      () => true,
    );
    expect(r.ok && r.frame).toBe(0xab_cdef_5000);
  });
});
