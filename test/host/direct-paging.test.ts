/**
 * Direct paging (xen-pv): Xen's type rules and hypercalls (model/host/direct-paging.ts) and the PV
 * kernel on top of them (model/host/pv-kernel.ts). Expected values are derived by hand from the
 * boot layout (model/boot.ts: frame 0 the directory, 1..4 the page tables, 5 the system page,
 * data(d, t) = 6 + 4d + t, 22 the kernel stack and 23 the user stack (both mapped writable in the
 * last directory slot's table, boot.ts stackPages), 24..31 spare; window page (0,0) maps page table 0, (0,1) the directory)
 * and from Xen's rules as xen/arch/x86/mm.c states them (cited per test). A guest's machine frame
 * is 0x400 + its frame (guest 0's region starts at host frame 1024, model/host/layout.ts).
 */
import {
  arbScenario,
  bootMachine,
  CR0,
  check,
  checkScenario,
  createHost,
  directState,
  guestView,
  type HostMachine,
  HV_FRAME,
  hostStep,
  hypercall,
  hypercallsOf,
  linear,
  type Op,
  POOL,
  PTE,
  poolBase,
  readWord,
  sameArchitecturalState,
  step,
  tlbView,
  xenPv,
} from 'hyperprop';
import { describe, expect, it } from 'vitest';
import { bootGuest, plainGuestSpec } from '../../generators/reference.ts';
import {
  xenPvForeignFrame,
  xenPvL2EntryAsL1,
  xenPvL2FastPathDropsType,
  xenPvUnpinKeepsType,
  xenPvWritablePagetable,
} from '../../mutants/direct.ts';
import { renderTrace } from '../../properties/render.ts';

const M = 0x400; // guest 0's machine frame 0
const PD = M;
const pt = (d: number) => M + 1 + d;
const data = (d: number, t: number) => M + 6 + 4 * d + t;
const pa = (frame: number, word: number) => frame * 4096 + word * 4;
const boot = () => createHost(xenPv, [bootMachine()]);
const pages = (h: HostMachine) => directState(h, 0).xen.pages;
const mmu = (h: HostMachine, ptr: number, val: number) =>
  hypercall(xenPv, h, 0, { kind: 'mmu_update', requests: [{ ptr, val }] });
const run = (h: HostMachine, ops: readonly Op[]) => ops.reduce((x, op) => hostStep(xenPv, x, op), h);
const bare = (m: ReturnType<typeof bootMachine>, ops: readonly Op[]) => ops.reduce((x, op) => step(x, op).machine, m);

describe('booting a guest on direct paging (the domain builder and the first base pointer)', () => {
  const h = boot();

  it('the guest sees exactly its bare-metal boot machine (the abstraction undoes the P2M)', () => {
    expect(sameArchitecturalState(guestView(xenPv, h, 0), bootMachine())).toBe(true);
  });

  it('its page tables hold machine frames; entries that map page tables are read-only', () => {
    // PDE d links page table d: frame (1 + d) + 0x400, P | R/W | U/S kept.
    for (let d = 0; d < 4; d++) expect(readWord(h.memory, pa(PD, d))).toBe(((pt(d) << 12) | 7) >>> 0);
    // Slot 1023 is Xen's (init_xen_l2_slots): the table that maps its own page, P | R/W | A.
    expect(readWord(h.memory, pa(PD, 1023))).toBe((HV_FRAME.PAGE_TABLE << 12) | 0x23);
    // (0,0) maps page table 0 and (0,1) the directory, P | R/W at boot: installed P only.
    expect(readWord(h.memory, pa(pt(0), 0))).toBe((pt(0) << 12) | PTE.P);
    expect(readWord(h.memory, pa(pt(0), 1))).toBe((PD << 12) | PTE.P);
    // (0,2) maps data frame 8, P | R/W | U/S.
    expect(readWord(h.memory, pa(pt(0), 2))).toBe((data(0, 2) << 12) | 7);
    expect(h.cpu.cr3).toBe(PD << 12);
  });

  it('Xen holds the directory as a pinned L2 (pin + base pointer), the tables as L1s, mapped data as writable', () => {
    const p = pages(h);
    expect(p[PD]).toMatchObject({ type: 'l2', count: 2, pinned: true, validated: true });
    for (let d = 0; d < 4; d++) expect(p[pt(d)]).toMatchObject({ type: 'l1', count: 1, validated: true });
    // Writable mappings: the system page (3,3), data pages (0,2)..(3,2), frames 8..20, and the two stack pages, 22 and 23.
    const writable = Object.entries(p)
      .filter(([, x]) => x.type === 'writable' && x.count > 0)
      .map(([k]) => Number(k) - M);
    expect(writable.sort((a, b) => a - b)).toEqual([5, ...Array.from({ length: 13 }, (_, i) => 8 + i), 22, 23]);
  });
});

describe("Xen's rules (mm.c), by hypercall", () => {
  it('get_page_from_l1e: a writable mapping of a page table is refused (could_not_pin: -EBUSY), a read-only one accepted', () => {
    const h = boot();
    expect(mmu(h, pa(pt(0), 2), (pt(0) << 12) | 3).rc).toBe('EBUSY');
    expect(mmu(h, pa(pt(0), 2), (PD << 12) | 3).rc).toBe('EBUSY');
    const ro = mmu(h, pa(pt(0), 2), (pt(0) << 12) | 1);
    expect(ro.rc).toBe('ok');
    // The old entry's writable reference on frame 8 is dropped; page table 0 takes none.
    expect(pages(ro.host)[data(0, 2)]!.count).toBe(0);
    expect(pages(ro.host)[pt(0)]!.count).toBe(1);
  });

  it("get_page_from_l1e: another guest's frame -EBUSY, memory no domain owns -EPERM, PWT/PCD/PAT -EINVAL", () => {
    const h = createHost(xenPv, [bootMachine(), bootMachine()]);
    expect(mmu(h, pa(pt(0), 2), (0x420 << 12) | 5).rc).toBe('EBUSY'); // guest 1's frame 0
    expect(mmu(h, pa(pt(0), 2), (HV_FRAME.SYSTEM << 12) | 5).rc).toBe('EBUSY'); // Xen's own page
    expect(mmu(h, pa(pt(0), 2), (0x440 << 12) | 5).rc).toBe('EPERM'); // past both guests
    expect(mmu(h, pa(pt(0), 2), (data(0, 3) << 12) | 0x15).rc).toBe('EINVAL'); // PCD
  });

  it('get_page_from_l2e: a frame mapped writable cannot become an L1 until its writable mappings are gone', () => {
    let h = boot();
    // PDE 1 -> frame 8, which (0,2) maps writable: _get_page_type(PGT_l1_page_table) sees type writable, count 1.
    expect(mmu(h, pa(PD, 1), (data(0, 2) << 12) | 7).rc).toBe('EINVAL');
    h = mmu(h, pa(pt(0), 2), 0).host;
    const r = mmu(h, pa(PD, 1), (data(0, 2) << 12) | 7);
    expect(r.rc).toBe('ok');
    const p = pages(r.host);
    expect(p[data(0, 2)]).toMatchObject({ type: 'l1', count: 1, validated: true });
    // Page table 1 lost its only reference: devalidated (type kept, count 0), and the writable
    // references of what it mapped, data(1, 0..3) = frames 10..13, are dropped.
    expect(p[pt(1)]).toMatchObject({ type: 'l1', count: 0, validated: false });
    for (let t = 0; t < 4; t++) expect(p[data(1, t)]!.count).toBe(0);
  });

  it('get_l2_linear_pagetable: a directory may map itself read-only only, and that takes no reference', () => {
    const h = boot();
    expect(mmu(h, pa(PD, 2), (PD << 12) | 7).rc).toBe('EINVAL');
    const r = mmu(h, pa(PD, 2), (PD << 12) | 5);
    expect(r.rc).toBe('ok');
    expect(pages(r.host)[PD]!.count).toBe(2);
    expect(pages(r.host)[pt(2)]!.count).toBe(0);
  });

  it("mod_l2_entry: Xen's own slot is refused (-EPERM); mmu_update on a frame with no page-table type is a plain write", () => {
    const h = boot();
    expect(mmu(h, pa(PD, 1023), 0).rc).toBe('EPERM');
    const r = mmu(h, pa(data(0, 2), 5), 0x1234_5678);
    expect(r.rc).toBe('ok');
    expect(readWord(r.host.memory, pa(data(0, 2), 5))).toBe(0x1234_5678);
  });

  it('pin and unpin: a second pin and an unpin of what is not pinned are refused (-EINVAL)', () => {
    let h = boot();
    const pin = (mfn: number) => hypercall(xenPv, h, 0, { kind: 'mmuext_op', cmd: 'PIN_L1_TABLE', mfn });
    const unpin = (mfn: number) => hypercall(xenPv, h, 0, { kind: 'mmuext_op', cmd: 'UNPIN_TABLE', mfn });
    expect(unpin(pt(0)).rc).toBe('EINVAL');
    h = pin(pt(0)).host;
    expect(pages(h)[pt(0)]).toMatchObject({ count: 2, pinned: true });
    expect(pin(pt(0)).rc).toBe('EINVAL');
    h = unpin(pt(0)).host;
    expect(pages(h)[pt(0)]).toMatchObject({ count: 1, pinned: false });
    // An L1 in use cannot be pinned as an L2, nor become the base pointer.
    expect(hypercall(xenPv, h, 0, { kind: 'mmuext_op', cmd: 'PIN_L2_TABLE', mfn: pt(0) }).rc).toBe('EINVAL');
    expect(hypercall(xenPv, h, 0, { kind: 'mmuext_op', cmd: 'NEW_BASEPTR', mfn: pt(0) }).rc).toBe('EINVAL');
  });

  it('a frame that changes type from writable to a page table takes its stale TLB entries with it', () => {
    // A native store through (0,2) caches frame 8 writable in the real TLB.
    let h = run(boot(), [{ kind: 'store', va: linear(0, 2), src: 0 }]);
    const cached = () => tlbView(h.tlb, 0).translations.some((t) => t.frame >>> 12 === data(0, 2));
    expect(cached()).toBe(true);
    // Unmapping (0,2) leaves the entry (the guest's own INVLPG is due), as on bare metal...
    h = mmu(h, pa(pt(0), 2), 0).host;
    expect(cached()).toBe(true);
    // ...but frame 8 becoming an L1 flushes it (_get_page_type's type-change flush).
    h = mmu(h, pa(PD, 1), (data(0, 2) << 12) | 7).host;
    expect(cached()).toBe(false);
  });
});

describe("the PV kernel: a scenario's operations as hypercalls", () => {
  it('a kernel store to its page table is set_pte: one call, update_va_mapping; what bare metal shows', () => {
    const op: Op = { kind: 'store', va: linear(0, 0, 2), src: 0 };
    const h = hostStep(xenPv, boot(), op);
    expect(h.counters.calls.store).toBe(1);
    // Emulation sets the accessed bit of PDE 0 (mmu_update, fast path) and the accessed and dirty
    // bits of (0,0)'s PTE, which maps page table 0: refused writable, installed read-only.
    expect(hypercallsOf(h, 0, 0)).toEqual([
      `mmu_update(ptr=0x00400000, val=0x00401027) -> ok`,
      `update_va_mapping(va=0x00000000, val=0x00401063) -> EBUSY`,
      `update_va_mapping(va=0x00000000, val=0x00401061) -> ok`,
      `update_va_mapping(va=0x00002000, val=0x00000000) -> ok`,
    ]);
    expect(sameArchitecturalState(guestView(xenPv, h, 0), bare(bootMachine(), [op]))).toBe(true);
  });

  it("a request to map a page table writable is refused; the kernel maps it read-only and keeps the guest's value", () => {
    const m = { ...bootMachine(), cpu: { ...bootMachine().cpu, regs: [0x1003, 0, 0, 0] as const } };
    const op: Op = { kind: 'store', va: linear(0, 0, 2), src: 0 };
    const h = hostStep(xenPv, createHost(xenPv, [m]), op);
    expect(hypercallsOf(h, 0, 0).slice(-2)).toEqual([
      'update_va_mapping(va=0x00002000, val=0x00401003) -> EBUSY',
      'update_va_mapping(va=0x00002000, val=0x00401001) -> ok',
    ]);
    expect(readWord(guestView(xenPv, h, 0).memory, pa(1, 2))).toBe(0x1003);
    expect(sameArchitecturalState(guestView(xenPv, h, 0), bare(m, [op]))).toBe(true);
  });

  it("a kernel load of a PTE runs natively and reads the guest's frame (pte_val); user code reads the machine frame", () => {
    const load: Op = { kind: 'load', dst: 1, va: linear(0, 0, 2) };
    const k = hostStep(xenPv, boot(), load);
    expect(k.counters.native).toBe(1);
    expect(guestView(xenPv, k, 0).cpu.regs[1]).toBe(0x8007);
    // At CPL 3, with (0,0) user-accessible (flags P | R/W | U/S): the machine entry, P | U/S (R/W withheld).
    const user = bootGuest(plainGuestSpec(undefined, 3));
    const u = hostStep(xenPv, createHost(xenPv, [user]), load);
    expect(step(user, load).machine.cpu.regs[1]).toBe(0x8007);
    expect(guestView(xenPv, u, 0).cpu.regs[1]).toBe(((data(0, 2) << 12) | 7) >>> 0);
  });

  it('MOV CR3 to another directory pins it, switches, unpins the old one and writes the old tables back', () => {
    const op: Op = { kind: 'movToCr3', value: 24 * 4096 };
    const h = hostStep(xenPv, boot(), op);
    expect(hypercallsOf(h, 0, 0).slice(0, 3)).toEqual([
      'mmuext_op(PIN_L2_TABLE, mfn=0x00418) -> ok',
      'mmuext_op(NEW_BASEPTR, mfn=0x00418) -> ok',
      'mmuext_op(UNPIN_TABLE, mfn=0x00400) -> ok',
    ]);
    // The old directory and tables are ordinary memory again, in the guest's frame numbers.
    for (const f of [PD, pt(0), pt(1), pt(2), pt(3)]) expect(pages(h)[f]!.count).toBe(0);
    expect(readWord(h.memory, pa(PD, 0))).toBe(0x1007);
    expect(readWord(h.memory, pa(pt(0), 2))).toBe(0x8007);
    expect(h.cpu.cr3).toBe(0x418 << 12);
    expect(sameArchitecturalState(guestView(xenPv, h, 0), bare(bootMachine(), [op]))).toBe(true);
  });

  it('with paging off the guest runs on the idle tables: every access faults to the hypervisor and is emulated', () => {
    const ops: Op[] = [
      { kind: 'movToCr0', value: CR0.PE | CR0.ET },
      { kind: 'load', dst: 0, va: 0x8000 },
    ];
    const h = run(boot(), ops);
    expect(directState(h, 0).xen.base).toBeUndefined();
    expect(h.cpu.cr3).toBe((poolBase(0) + POOL.SHADOW_ROOT) << 12);
    expect(h.counters.traps.load).toBe(1);
    expect(sameArchitecturalState(guestView(xenPv, h, 0), bare(bootMachine(), ops))).toBe(true);
  });
});

describe('xen-pv on the properties (short runs; the long ones are in bench/RESULTS.md)', () => {
  it.each(['resource-control', 'isolation', 'efficiency'] as const)(
    'passes %s over 150 generated scenarios (seed 2026)',
    (property) => {
      const [r] = check(xenPv, { properties: [property], runs: 150, seed: 2026 });
      expect(r!.counterexample?.rendering ?? '').toBe('');
      expect(r!.status).toBe('passed');
    },
  );

  it('is equivalent in guest kernel mode: 150 scenarios of 1-4 guests booted at CPL 0, without IRET (seed 2026)', () => {
    const kernelMode = arbScenario()
      .map((sc) => ({
        ...sc,
        guests: sc.guests.map((g) => ({ ...g, cpl: 0 as const })),
        ops: sc.ops.filter((o) => o.op.kind !== 'iret'),
      }))
      .filter((sc) => sc.ops.length > 0);
    const [r] = check(xenPv, { properties: ['equivalence'], runs: 150, seed: 2026, scenarios: kernelMode });
    expect(r!.counterexample?.rendering ?? '').toBe('');
    expect(r!.status).toBe('passed');
  });

  it('a resource-control failure names the hypercall Xen accepted, and the trace lists every hypercall of the step', () => {
    const witness = {
      geometry: bootMachine().geometry,
      guests: [plainGuestSpec()],
      ops: [{ guest: 0, op: { kind: 'store', va: linear(0, 0, 2), src: 0 } as Op }],
    };
    const f = checkScenario(xenPvWritablePagetable, 'resource-control', witness);
    // The store's emulation sets A and D in (0,0)'s PTE (page table 0, P | R/W | U/S at boot):
    // 0x00401000 | 0x67, the request the correct Xen refuses (the first test of this file's rules).
    expect(f?.message).toContain('Xen accepted update_va_mapping(va=0x00000000, val=0x00401067)');
    const trace = renderTrace(xenPvWritablePagetable, witness, f!);
    expect(trace).toContain(
      'hypercalls: mmu_update(ptr=0x00400000, val=0x00401027) -> ok; update_va_mapping(va=0x00000000, val=0x00401067) -> ok',
    );
  });
});

describe('each direct-paging mutant on its hand witness: the failure or its trace names the hypercall at fault', () => {
  // The witnesses of test/mutants/catalog.test.ts. Expected hypercalls derived from the boot layout
  // (this file's header): PTE (0,0) is word 0 of page table 0 (machine 0x00401000) and maps page
  // table 0; PTE (0,1), word 1 (0x00401004), maps the directory; flags P | R/W | U/S (7) at boot,
  // and the emulated store adds A and D (0x60) to the PTE of the page it goes through.
  const scenario = (regs: readonly number[], guests: number, op: Op) => ({
    geometry: bootMachine().geometry,
    guests: Array.from({ length: guests }, (_, k) => ({
      ...plainGuestSpec(),
      ...(k === 0 ? { regs: regs as [number, number, number, number] } : {}),
    })),
    ops: [{ guest: 0, op }],
  });
  const storeThrough = (page: number) => ({ kind: 'store', va: linear(0, page, 2), src: 0 }) as Op;

  it.each([
    // The mutant accepts the A|D update of (0,0)'s PTE: page table 0 mapped writable (XSA-148/182).
    [xenPvWritablePagetable.name, xenPvWritablePagetable, 'update_va_mapping(va=0x00000000, val=0x00401067)'],
    // PDE 0's accessed bit (fast path) drops page table 0's type; update_va_mapping then finds no L1
    // and the kernel's mmu_update fallback is a plain write of the same entry.
    [xenPvL2FastPathDropsType.name, xenPvL2FastPathDropsType, 'mmu_update(ptr=0x00401000, val=0x00401067)'],
  ] as const)('%s: Xen accepted the entry that maps page table 0 writable', (_name, design, call) => {
    const f = checkScenario(design, 'resource-control', scenario([0, 0, 0, 0], 1, storeThrough(0)));
    expect(f?.message).toContain(`host frame 0x00401, which the MMU walks for it, writable; Xen accepted ${call}`);
  });

  it('xen-pv-l2-entry-as-l1: the directory (machine frame 0x400) mapped writable through (0,1) by a plain write', () => {
    const f = checkScenario(xenPvL2EntryAsL1, 'resource-control', scenario([0, 0, 0, 0], 1, storeThrough(1)));
    expect(f?.message).toContain('Xen accepted mmu_update(ptr=0x00401004, val=0x00400067)');
  });

  it("xen-pv-foreign-frame: PTE (0,2) = frame 32 | P | U/S asks for machine 0x400 + 32, guest 1's frame 0", () => {
    const f = checkScenario(
      xenPvForeignFrame,
      'resource-control',
      scenario([0x0002_0005, 0, 0, 0], 2, storeThrough(0)),
    );
    expect(f?.message).toContain(
      "maps 0x00002000 to host frame 0x00420 (guest 1's frame); Xen accepted update_va_mapping(va=0x00002000, val=0x00420005)",
    );
  });

  it('xen-pv-unpin-keeps-type: an equivalence failure; the trace shows UNPIN_TABLE accepted, then the write-back refused', () => {
    const w = scenario([0, 0, 0, 0], 1, { kind: 'movToCr3', value: 24 * 4096 });
    const f = checkScenario(xenPvUnpinKeepsType, 'equivalence', w);
    // Bare metal's old directory holds PDE 0 = page table 0 (frame 1) | 7; the guest sees the machine frame.
    expect(f?.message).toContain('memory GPA 0x00000000: bare metal 0x00001007, design 0x00401007');
    const trace = renderTrace(xenPvUnpinKeepsType, w, f!);
    expect(trace).toContain('mmuext_op(UNPIN_TABLE, mfn=0x00400) -> ok; mmu_update(ptr=0x00400000, val=0x00001007');
  });
});
