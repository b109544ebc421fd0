/**
 * Hand-written scenarios of the hosted machine, one per mechanism, each run through the public API
 * (`createHost`, `hostStep`, `hostSwitch`, `guestView`) exactly as a checker runs a design.
 *
 * Every expected value is derived by hand, below, from the boot layout (model/boot.ts, its header
 * comment), the host layout (model/host/layout.ts: guest g's guest-physical frame f is host frame
 * 1024 + 32g + f for 32-frame guests; the hypervisor's pages at linear 0xFFC00000) and the Intel SDM;
 * none is read back from the model.
 *
 * Boot facts (default geometry 4 x 4 pages, 32 frames): frame 0 is the page directory, frames 1..4
 * the page tables of directory slots 0..3, frame 5 the system page (GDT at +0, IDT at +0x800), frame
 * 6 + 4d + t the data page (d,t). Window page (0,0) maps frame 1, the page table of slot 0, so
 * linear(0,0,i) is its PTE i (which maps page (0,i)); both (0,0) and (0,1) are supervisor pages, the
 * other data pages user and writable. The system page is linear (3,3) = 0x00C03000, so the guest's
 * GDTR is {base 0x00C03000, limit 14*8-1 = 0x6F} and its IDTR {base 0x00C03800, limit 0x7FF}.
 * CR0 at boot is PE|ET|WP|PG = 0x80010011; EFLAGS is 0x2 (IF = 0) unless a scenario says otherwise.
 *
 * Host facts: with one or two 32-frame guests, guest 0's memory is host frames 1024..1055 and guest
 * 1's 1056..1087. Ring compression (classic, bt, xen-pv) runs the guest kernel at real ring 1 with the
 * hypervisor's GDT at 0xFFC00000 (limit 0x6F) and IDT at 0xFFC00800 (limit 0x7FF), real IF = 1,
 * IOPL = 0 and CR0 = PE|ET|NE|WP|PG = 0x80010031. VMX designs tag the TLB with VPID g + 1; the
 * ring-compression presets flush it on every switch (entries untagged, tag 0).
 */
import {
  bootMachine,
  bt,
  CR0,
  checkRefinement,
  classic,
  createHost,
  type Design,
  EFLAGS,
  ept,
  eptLookup,
  guestView,
  type HostMachine,
  hostStep,
  hostSwitch,
  linear,
  type Machine,
  type Op,
  readWord,
  shadow,
  step,
  writeWord,
  xenPv,
} from 'hyperprop';
import { describe, expect, it } from 'vitest';

const PAGE = 4096;
/** Host frame of guest g's guest-physical frame f (32-frame guests, layout.ts). */
const hostFrame = (g: number, f: number) => 1024 + 32 * g + f;

const run = (d: Design, h0: HostMachine, ops: readonly Op[]): HostMachine =>
  ops.reduce((h, op) => hostStep(d, h, op), h0);
const view = (d: Design, h: HostMachine): Machine => guestView(d, h, h.current);
/** The bare-metal reference run of the same operations (canonical: a processor with no TLB). */
const bare = (m: Machine, ops: readonly Op[]): Machine => ops.reduce((x, op) => step(x, op).machine, m);
/** The word at guest-physical address `gpa` of the running guest, as the guest's memory holds it. */
const guestWord = (d: Design, h: HostMachine, gpa: number) => readWord(view(d, h).memory, gpa);
/** The real TLB's entries for linear page `page`. */
const realTlb = (h: HostMachine, page: number) => h.tlb.entries.filter((e) => e.page === page);

// ---------------------------------------------------------------------------------------------
// MMU virtualization: a guest rewrites one of its own PTEs.

/**
 * A CPL-0 guest whose data pages (0,2) and (0,3) (frames 8 and 9) hold 0x11111111 and 0x22222222;
 * it reads (0,2), reads PTE 2 (which maps (0,2)), rewrites PTE 2 to point at frame 9, invalidates
 * (0,2) (SDM §4.10.4.1: without INVLPG the old translation may still be used) and reads (0,2) again.
 */
const remapGuest = (): Machine => {
  const m = bootMachine({ cpl: 0 });
  return { ...m, memory: writeWord(writeWord(m.memory, 8 * PAGE, 0x1111_1111), 9 * PAGE, 0x2222_2222) };
};
const NEW_PTE = 0x9007; // frame 9 | P | R/W | U/S
const REMAP: readonly Op[] = [
  { kind: 'load', dst: 1, va: linear(0, 2, 0) }, // 0: through the old PTE: frame 8
  { kind: 'load', dst: 2, va: linear(0, 0, 2) }, // 1: PTE 2 itself
  { kind: 'movImm', dst: 0, imm: NEW_PTE }, // 2
  { kind: 'store', va: linear(0, 0, 2), src: 0 }, // 3: the guest writes its own page table
  { kind: 'invlpg', va: linear(0, 2) }, // 4
  { kind: 'load', dst: 3, va: linear(0, 2, 0) }, // 5: through the new PTE: frame 9
  { kind: 'load', dst: 3, va: linear(0, 2, 0) }, // 6: again
];

describe('shadow paging: a store to a guest page-table page traps, is emulated, and the next access uses it', () => {
  const h0 = createHost(shadow, [remapGuest()]);
  const before = run(shadow, h0, REMAP.slice(0, 3));
  const after = run(shadow, before, [REMAP[3]!]);
  const end = run(shadow, after, REMAP.slice(4));

  it('keeps the guest page table write-protected in the shadow before the store', () => {
    // After op 1 the shadow maps page (0,0) to the host frame of guest frame 1 (1025), present but not
    // writable: the frame is one of the guest's live page tables.
    const tables = before.guests[0]!.shadow.tables;
    const slot0 = tables.find(([dir]) => dir === 0)![1];
    const spte = readWord(before.memory, slot0 * PAGE + 0 * 4);
    expect(spte >>> 12).toBe(hostFrame(0, 1));
    expect(spte & 1).toBe(1); // P
    expect(spte & 2).toBe(0); // R/W clear
  });

  it('traps the store (a #PF on the write-protected shadow entry) and emulates it', () => {
    expect((after.counters.traps.store ?? 0) - (before.counters.traps.store ?? 0)).toBe(1);
    expect(after.counters.reasons['exception 14']! - before.counters.reasons['exception 14']!).toBe(1);
    expect(after.counters.native).toBe(before.counters.native);
    // The guest's PTE 2 (guest-physical 0x1008, host frame 1025) now holds the new value, exactly:
    // the store goes through PTE 0, so only PTE 0's A/D bits change, not PTE 2's.
    expect(guestWord(shadow, after, 0x1008)).toBe(NEW_PTE);
    expect(readWord(after.memory, hostFrame(0, 1) * PAGE + 8)).toBe(NEW_PTE);
  });

  it('reads the new frame through the remapped page, and the shadow and real TLB follow', () => {
    const r = view(shadow, end).cpu.regs;
    expect(r[1]).toBe(0x1111_1111); // op 0, old mapping
    expect(r[2]).toBe(0x8027); // op 1: frame 8 | P|RW|US | A (set by op 0's walk)
    expect(r[3]).toBe(0x2222_2222); // ops 5 and 6, new mapping
    // INVLPG exits under shadow paging (VMX INVLPG exiting) and is emulated.
    expect(end.counters.traps.invlpg).toBe(1);
    // Op 6 ran natively through the shadow entry refilled at op 5: page (0,2) -> host frame 1033, tag 1.
    expect(realTlb(end, linear(0, 2) >>> 12)).toEqual([
      expect.objectContaining({ tag: 1, frame: hostFrame(0, 9) * PAGE }),
    ]);
  });

  it('agrees with bare metal at every step', () => {
    expect(
      checkRefinement(
        shadow,
        h0,
        REMAP.map((op) => ({ guest: 0, op })),
      ).divergence,
    ).toBeUndefined();
    expect(bare(remapGuest(), REMAP).cpu.regs).toEqual(view(shadow, end).cpu.regs);
  });
});

describe('EPT: the same store does not exit, and a TLB miss walks the guest tables through EPT', () => {
  const h0 = createHost(ept, [remapGuest()]);
  const before = run(ept, h0, REMAP.slice(0, 3));
  const after = run(ept, before, [REMAP[3]!]);
  const end = run(ept, after, REMAP.slice(4));

  it('runs the store natively: no exit, and the guest PTE changes in guest memory', () => {
    expect(after.counters.native).toBe(before.counters.native + 1);
    expect(after.counters.traps).toEqual({});
    expect(guestWord(ept, after, 0x1008)).toBe(NEW_PTE);
  });

  it('runs the whole scenario without one exit', () => {
    expect(end.counters.native).toBe(REMAP.length);
    expect(end.counters.reasons).toEqual({});
  });

  it('after INVLPG, walks the new PTE through EPT to the host frame of guest frame 9', () => {
    expect(view(ept, end).cpu.regs[3]).toBe(0x2222_2222);
    // The real TLB caches the combined translation GVA -> HPA (SDM Vol. 3C §28.3.1): page (0,2) ->
    // host frame 1024 + 9 = 1033, under VPID 1.
    expect(realTlb(end, linear(0, 2) >>> 12)).toEqual([
      expect.objectContaining({ tag: 1, frame: hostFrame(0, 9) * PAGE }),
    ]);
    // The walk read and updated the guest's own table through EPT: PTE 2 (guest-physical 0x1008,
    // EPT -> host 1025 * 4096 + 8) gained its accessed flag (0x20), set by the real CPU's walk.
    expect(eptLookup(end.memory, end.guests[0]!.eptRoot * PAGE, 0x1008)).toBe(hostFrame(0, 1) * PAGE + 8);
    expect(readWord(end.memory, hostFrame(0, 1) * PAGE + 8)).toBe(NEW_PTE | 0x20);
  });

  it('agrees with bare metal at every step', () => {
    expect(
      checkRefinement(
        ept,
        h0,
        REMAP.map((op) => ({ guest: 0, op })),
      ).divergence,
    ).toBeUndefined();
  });
});

// ---------------------------------------------------------------------------------------------
// CPU virtualization: sensitive instructions in the guest kernel.

/** SGDT by the CPL-0 guest kernel into data page (1,1) (frame 11), after one store so that page is mapped writable. */
const SGDT: readonly Op[] = [
  { kind: 'store', va: linear(1, 1, 0), src: 0 },
  { kind: 'sgdt', va: linear(1, 1, 0) },
];
/** The 6-byte pseudo-descriptor (SDM SGDT: limit in bytes 0-1, base in bytes 2-5) as the two words frame 11 holds. */
const pseudoDescriptorWords = (base: number, limit: number) => [
  ((base & 0xffff) << 16) | limit,
  base >>> 16, // bytes 6-7 keep their old value, 0
];

describe('SGDT in the guest kernel', () => {
  const sgdt = (d: Design) => {
    const h = run(d, createHost(d, [bootMachine({ cpl: 0 })]), SGDT);
    return { h, words: [guestWord(d, h, 11 * PAGE), guestWord(d, h, 11 * PAGE + 4)] };
  };

  it("under classic returns the hypervisor's GDTR, without a trap", () => {
    const { h, words } = sgdt(classic);
    // SGDT is unprivileged (SDM SGDT: no CPL check), so at real ring 1 it stores the real GDTR.
    expect(words).toEqual(pseudoDescriptorWords(0xffc0_0000, 0x6f));
    expect(words).toEqual([0x0000_006f, 0x0000_ffc0]);
    expect(h.counters.traps.sgdt).toBeUndefined();
  });

  it("under bt returns the guest's own GDTR: the translator turns it into a hypervisor call", () => {
    const { h, words } = sgdt(bt);
    expect(words).toEqual(pseudoDescriptorWords(0x00c0_3000, 0x6f));
    expect(words).toEqual([0x3000_006f, 0x0000_00c0]);
    expect(h.counters.calls.sgdt).toBe(1);
  });

  it("under ept returns the guest's own GDTR natively: in VMX non-root mode GDTR is the guest's", () => {
    const { h, words } = sgdt(ept);
    expect(words).toEqual([0x3000_006f, 0x0000_00c0]);
    expect(h.counters.native).toBe(2);
  });

  it('matches bare metal under bt and ept, not under classic', () => {
    const m = bare(bootMachine({ cpl: 0 }), SGDT);
    expect([readWord(m.memory, 11 * PAGE), readWord(m.memory, 11 * PAGE + 4)]).toEqual([0x3000_006f, 0x0000_00c0]);
    const first = (d: Design) =>
      checkRefinement(
        d,
        createHost(d, [bootMachine({ cpl: 0 })]),
        SGDT.map((op) => ({ guest: 0, op })),
      ).divergence?.step;
    expect([first(classic), first(bt), first(ept)]).toEqual([1, undefined, undefined]);
  });
});

describe('POPF clearing IF in the guest kernel under classic', () => {
  // The guest kernel boots with IF = 1 and pops an image with IF = 0 (EFLAGS 0x2).
  const guest = () => bootMachine({ cpl: 0, eflags: EFLAGS.IF });
  const POPF: Op = { kind: 'popf', image: 0x2 };

  it('clears IF on bare metal (SDM POPF: at CPL 0 every flag it models is loaded)', () => {
    expect(step(guest(), POPF).machine.cpu.eflags & EFLAGS.IF).toBe(0);
  });

  it('runs natively and changes nothing: at real ring 1 with IOPL 0, POPF silently keeps IF (no #GP)', () => {
    // POPF is PUSH imm32; POPFD: its push touches the guest's kernel stack, whose shadow entry the
    // first stack access fills (a hidden #PF; the hypervisor emulates that access). A PUSHF does it.
    const h0 = hostStep(classic, createHost(classic, [guest()]), { kind: 'pushf', dst: 1 });
    expect(h0.counters.reasons).toEqual({ 'exception 14': 1 });
    const h = hostStep(classic, h0, POPF);
    expect(h.counters.native).toBe(1);
    expect(h.counters.traps).toEqual({ pushf: 1 });
    // The real IF stays 1, and the hypervisor never saw the POPF, so the guest's virtual IF stays 1
    // too: the guest believes interrupts are off, bare metal says off, both the real CPU and the
    // guest's (virtual) machine say on. checkRefinement names the POPF.
    expect(h.cpu.eflags & EFLAGS.IF).toBe(EFLAGS.IF);
    expect(view(classic, h).cpu.eflags & EFLAGS.IF).toBe(EFLAGS.IF);
    expect(checkRefinement(classic, h0, [{ guest: 0, op: POPF }]).divergence?.op).toEqual(POPF);
  });

  it("under bt the virtual IF follows the guest (0) while the real IF stays the hypervisor's (1)", () => {
    const h = hostStep(bt, createHost(bt, [guest()]), POPF);
    expect(h.counters.calls.popf).toBe(1);
    expect(view(bt, h).cpu.eflags & EFLAGS.IF).toBe(0);
    expect(h.cpu.eflags & EFLAGS.IF).toBe(EFLAGS.IF);
  });
});

describe('MOV r,CS in the guest kernel under classic', () => {
  it('reads the real CS, whose RPL is the real ring 1 (0x09), where bare metal reads 0x08', () => {
    const op: Op = { kind: 'movFromCs', dst: 0 };
    expect(step(bootMachine({ cpl: 0 }), op).machine.cpu.regs[0]).toBe(0x08);
    const h = hostStep(classic, createHost(classic, [bootMachine({ cpl: 0 })]), op);
    expect(view(classic, h).cpu.regs[0]).toBe(0x09);
    expect(h.counters.native).toBe(1);
  });
});

describe('the Red Pill under bt (and xen-pv): user code runs untranslated at real ring 3', () => {
  // A guest at CPL 3 (IF = 0): SMSW, PUSHF, and Rutkowska's SIDT into user page (1,1) (frame 11),
  // after a store that maps that page writable. The POPF (of the EFLAGS it has) touches the user
  // stack first, so that the PUSHF finds its shadow entry filled and runs natively.
  const OPS: readonly Op[] = [
    { kind: 'smsw', dst: 0 },
    { kind: 'popf', image: 0x2 },
    { kind: 'pushf', dst: 1 },
    { kind: 'store', va: linear(1, 1, 0), src: 2 },
    { kind: 'sidt', va: linear(1, 1, 0) },
  ];
  const observe = (m: Machine) => ({
    smsw: m.cpu.regs[0],
    pushf: m.cpu.regs[1],
    sidt: [readWord(m.memory, 11 * PAGE), readWord(m.memory, 11 * PAGE + 4)],
  });
  // Bare metal: SMSW = CR0[15:0] = 0x0011; PUSHF = 0x2 (IF = 0); SIDT = {0x00C03800, 0x7FF}.
  const BARE = { smsw: 0x0011, pushf: 0x0000_0002, sidt: [0x3800_07ff, 0x0000_00c0] };
  // The real machine under ring compression: CR0[15:0] = 0x0031 (NE set), IF = 1 (0x202), IDTR = {0xFFC00800, 0x7FF}.
  const REAL = { smsw: 0x0031, pushf: 0x0000_0202, sidt: [0x0800_07ff, 0x0000_ffc0] };

  it('bare metal shows the guest its own machine', () => {
    expect(observe(bare(bootMachine({ cpl: 3 }), OPS))).toEqual(BARE);
  });

  it.each([bt, xenPv])('$name shows the user-mode guest the real machine, natively (no call, no trap)', (d) => {
    const h = run(d, createHost(d, [bootMachine({ cpl: 3 })]), OPS);
    expect(observe(view(d, h))).toEqual(REAL);
    expect(h.counters.calls).toEqual({});
    expect(h.counters.traps.smsw ?? 0).toBe(0);
    expect(h.counters.traps.sidt ?? 0).toBe(0);
    // The first refinement check names the first of them.
    const h0 = createHost(d, [bootMachine({ cpl: 3 })]);
    expect(
      checkRefinement(
        d,
        h0,
        OPS.map((op) => ({ guest: 0, op })),
      ).divergence?.step,
    ).toBe(0);
  });

  it('ept (VMX non-root) shows the guest its own machine', () => {
    expect(observe(view(ept, run(ept, createHost(ept, [bootMachine({ cpl: 3 })]), OPS)))).toEqual(BARE);
  });
});

// ---------------------------------------------------------------------------------------------
// The TLB across guests: VPID or flush.

describe('switching guests: VPID keeps tagged entries, a flush drops them', () => {
  // Each guest loads from its data page (1,1) (frame 11) twice: the first may take a hidden page
  // fault (shadow paging), the second runs natively and leaves a real TLB entry for page 0x401.
  const LOADS: readonly Op[] = [
    { kind: 'load', dst: 0, va: linear(1, 1, 0) },
    { kind: 'load', dst: 0, va: linear(1, 1, 0) },
  ];
  const PAGE_11 = linear(1, 1) >>> 12; // 0x401
  const scenario = (d: Design) => {
    let h = createHost(d, [bootMachine({ cpl: 0 }), bootMachine({ cpl: 0 })]);
    h = run(d, h, LOADS);
    const g0 = h.tlb.entries.filter((e) => e.page === PAGE_11);
    h = run(d, hostSwitch(d, h, 1), LOADS);
    const inGuest1 = h.tlb.entries.filter((e) => e.page === PAGE_11);
    h = hostSwitch(d, h, 0);
    return { g0, inGuest1, back: h.tlb.entries.filter((e) => e.page === PAGE_11), h };
  };

  it.each([shadow, ept])(
    "$name (VPID): guest 0's entry (tag 1) survives guest 1 running and is there on return",
    (d) => {
      const { g0, inGuest1, back, h } = scenario(d);
      const mine = { tag: 1, page: PAGE_11, frame: hostFrame(0, 11) * PAGE }; // host frame 1035
      const theirs = { tag: 2, page: PAGE_11, frame: hostFrame(1, 11) * PAGE }; // host frame 1067
      expect(g0).toEqual([expect.objectContaining(mine)]);
      expect(inGuest1).toEqual([expect.objectContaining(mine), expect.objectContaining(theirs)]);
      expect(back).toEqual([expect.objectContaining(mine), expect.objectContaining(theirs)]);
      expect(h.counters.switches).toBe(2);
      // Guest 0 reads through its kept entry natively.
      const again = hostStep(d, h, LOADS[0]!);
      expect(again.counters.native).toBe(h.counters.native + 1);
      expect(view(d, again).cpu.regs[0]).toBe(0);
    },
  );

  it.each([bt, classic])("$name (flush on switch): guest 0's untagged entry is gone once guest 1 runs", (d) => {
    const { g0, inGuest1, back } = scenario(d);
    expect(g0).toEqual([expect.objectContaining({ tag: 0, page: PAGE_11, frame: hostFrame(0, 11) * PAGE })]);
    expect(inGuest1).toEqual([expect.objectContaining({ tag: 0, page: PAGE_11, frame: hostFrame(1, 11) * PAGE })]);
    expect(back).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// Regressions: two bugs the 10,000-sequence check found (refinement.test.ts), fixed in model/.

describe('regressions', () => {
  it('shadow: a MOV to CR0 that does not exit leaves the hypervisor-owned PG and WP set in the real CR0', () => {
    // SDM Vol. 3C §26.3 (MOV to CR0 in VMX non-root): bits set in the CR0 guest/host mask keep their
    // value. The guest turns paging off (PG differs from the read shadow: exit, emulated), then writes
    // CR0 again changing only MP (no exit); its store to physical 0x1008 must reach its own frame 1
    // (host 1025), never host frame 1 (the hypervisor's page table) through an unpaged real CPU.
    const ops: Op[] = [
      { kind: 'movToCr0', value: CR0.PE | CR0.ET },
      { kind: 'movToCr0', value: CR0.PE | CR0.ET | CR0.MP },
      { kind: 'movImm', dst: 0, imm: 0xabcd },
      { kind: 'store', va: 0x1008, src: 0 },
    ];
    const h0 = createHost(shadow, [bootMachine({ cpl: 0 })]);
    const h2 = run(shadow, h0, ops.slice(0, 2));
    expect(h2.counters.traps.movToCr0).toBe(1);
    expect((h2.cpu.cr0 & (CR0.PG | CR0.WP)) >>> 0).toBe(0x8001_0000); // PG (bit 31) | WP (bit 16)
    expect(view(shadow, h2).cpu.cr0).toBe(CR0.PE | CR0.ET | CR0.MP);
    const h = run(shadow, h2, ops.slice(2));
    expect(readWord(h.memory, hostFrame(0, 1) * PAGE + 8)).toBe(0xabcd);
    expect(readWord(h.memory, 1 * PAGE + 8)).toBe(0);
    expect(
      checkRefinement(
        shadow,
        h0,
        ops.map((op) => ({ guest: 0, op })),
      ).divergence,
    ).toBeUndefined();
  });

  it.each([bt, xenPv])(
    '$name: a guest kernel IRET to ring 1 leaves the guest at CPL 1 (ring compression keeps it)',
    (d) => {
      // IRET to 0x39 (ring-1 code, DPL 1, RPL 1) from CPL 0: CPL becomes 1 (SDM IRET, return to an
      // outer level). Rings 0-2 all run at real ring 1; the hypervisor must remember which.
      const ops: Op[] = [
        { kind: 'iret', cs: 0x39, eflags: 0x2 },
        { kind: 'movFromCs', dst: 0 },
      ];
      const h0 = createHost(d, [bootMachine({ cpl: 0 })]);
      const h = run(d, h0, ops);
      expect(h.cpu.cpl).toBe(1);
      expect({ cpl: view(d, h).cpu.cpl, cs: view(d, h).cpu.cs, eax: view(d, h).cpu.regs[0] }).toEqual({
        cpl: 1,
        cs: 0x39,
        eax: 0x39,
      });
      expect(
        checkRefinement(
          d,
          h0,
          ops.map((op) => ({ guest: 0, op })),
        ).divergence,
      ).toBeUndefined();
    },
  );
});
