/**
 * Efficiency mutants: designs that stay equivalent (the guest sees what bare metal shows) but trap
 * more than their mechanism needs — a trap storm, write protection that outlives a page table, an
 * EPT entry never installed, an I/O bitmap that intercepts an assigned device. Counted efficiency
 * (properties/efficiency.ts) catches them.
 */
import {
  composeDesign,
  type Design,
  ept,
  guestBase,
  type HostMachine,
  type HypervisorEntry,
  PAGE_SIZE,
  PTE,
  passthrough,
  readWord,
  setEptRights,
  shadow,
  standardHandle,
  writeWord,
} from '../model/index.ts';
import type { Mutant } from './mutant.ts';

/** The standard handler, then `patch` on the shadow entry a hidden page fault just filled. */
const afterFill =
  (self: () => Design, patch: (h: HostMachine, pte: number) => number) =>
  (h: HostMachine, entry: HypervisorEntry): HostMachine => {
    const out = standardHandle(self)(h, entry);
    if (entry.kind !== 'exit' || entry.exit.reason !== 'exception' || entry.exit.vector !== 14) return out;
    const va = entry.exit.address;
    if (va === undefined) return out;
    const table = out.guests[out.current]!.shadow.tables.find(([dir]) => dir === va >>> 22)?.[1];
    if (table === undefined) return out;
    const at = table * PAGE_SIZE + ((va >>> 12) & 0x3ff) * 4;
    const pte = readWord(out.memory, at);
    return pte & PTE.P ? { ...out, memory: writeWord(out.memory, at, patch(out, pte) >>> 0) } : out;
  };

/**
 * Shadow paging whose fill never grants write: every store traps, is emulated, and traps again.
 * The guest sees bare metal's results; the hypervisor runs on every store (a trap storm).
 */
export const shadowFillsReadOnly: Design = composeDesign({
  ...shadow,
  name: 'shadow-fills-read-only',
  description: 'shadow entries are always filled read-only: every store is a hidden fault',
  handle: afterFill(
    () => shadowFillsReadOnly,
    (_h, pte) => pte & ~PTE.RW,
  ),
});

/**
 * Shadow paging that write-protects the guest's boot page-table frames (guest frames 1 to 4) for
 * good, whether or not they are still page tables: once such a frame is ordinary memory, every
 * store to it still traps.
 */
export const shadowStickyWriteProtection: Design = composeDesign({
  ...shadow,
  name: 'shadow-sticky-write-protection',
  description: "the boot page tables' frames stay write-protected after they stop being page tables",
  handle: afterFill(
    () => shadowStickyWriteProtection,
    (h, pte) => {
      const frame = (pte >>> 12) - guestBase(h.config, h.current);
      return frame >= 1 && frame <= h.config.guestGeometry.dirEntries ? pte & ~PTE.RW : pte;
    },
  ),
});

/** Guest-physical frame 11: data page (1,1) of the boot layout (model/boot.ts: 6 + 4d + t). */
const UNMAPPED_FRAME = 11;

/**
 * EPT with one guest RAM frame left unmapped and every access to it emulated by the hypervisor,
 * the entry never installed: each access exits again (an EPT violation storm).
 */
export const eptEntryNeverInstalled: Design = composeDesign({
  ...ept,
  name: 'ept-entry-never-installed',
  description: 'guest frame 11 stays unmapped in EPT; every access to it is emulated',
  init: (h0) => {
    const h = ept.init(h0);
    let memory = h.memory;
    for (const ctx of h.guests) memory = setEptRights(memory, ctx.eptRoot * PAGE_SIZE, UNMAPPED_FRAME * PAGE_SIZE, 0);
    return { ...h, memory };
  },
});

/** Passthrough whose I/O bitmap intercepts every port, the assigned device's included. */
export const passthroughIoBitmapIntercepts: Design = composeDesign({
  ...passthrough,
  name: 'passthrough-io-bitmap-intercepts',
  description: "the I/O bitmap intercepts the assigned device's ports: every register access exits and is emulated",
  hardware: (h) => {
    const hw = passthrough.hardware(h);
    const base = hw.exits?.instruction;
    return {
      ...hw,
      exits: {
        ...hw.exits,
        instruction: (op, cpu) => op.kind === 'in' || op.kind === 'out' || (base?.(op, cpu) ?? false),
      },
    };
  },
});

export const EFFICIENCY_MUTANTS: readonly Mutant[] = [
  {
    name: shadowFillsReadOnly.name,
    base: 'shadow',
    area: 'shadow',
    bugClass: 'a trap storm: shadow entries filled read-only, so every store is a hidden fault',
    reference:
      'Adams & Agesen, "A comparison of software and hardware techniques for x86 virtualization" (ASPLOS 2006): hidden page faults are shadow paging\'s cost',
    property: 'efficiency',
    minimalLength: 2,
    minimalWhy:
      "The shadow starts empty, so the first store to a page is a hidden fault any shadow design takes: (1) a store to a data page faults, is emulated (setting the PTE's A and D bits) and filled, here read-only; (2) the same store faults again with nothing that maps the page changed. One store is only the fault every design needs.",
    target: { level: 'machine', design: shadowFillsReadOnly },
  },
  {
    name: shadowStickyWriteProtection.name,
    base: 'shadow',
    area: 'shadow',
    bugClass: 'write protection that outlives a page table: stores to a former table keep trapping',
    reference:
      'Linux KVM shadow MMU, kvm_mmu_pte_write / detect_write_flooding: a shadowed page that is written as data is unshadowed rather than trapped forever',
    property: 'efficiency',
    minimalLength: 3,
    minimalWhy:
      "The flaw protects guest frames 1..4 (the boot page tables). A store through a mapping of one of them traps anyway while it is a live table, and at boot every present PDE makes it one and no page maps frames 2..4. So: with directory slot 1 not present at boot (frame 2 is no table), (1) a store to page (0,2)'s PTE (word 2 of page table 0, seen at window page (0,0)) maps frame 2 there; (2) a store to page (0,2): the hidden fault any design takes; (3) the same store faults again. (Paging turned off by MOV to CR0, then two stores to physical frame 2, is as long.)",
    target: { level: 'machine', design: shadowStickyWriteProtection },
  },
  {
    name: eptEntryNeverInstalled.name,
    base: 'ept',
    area: 'ept',
    bugClass: 'an EPT violation storm: a RAM page left unmapped in EPT and emulated access by access',
    reference:
      'SDM Vol. 3C §28.3.3 (EPT violations); a hypervisor that emulates instead of mapping pays an exit per access',
    property: 'efficiency',
    minimalLength: 2,
    minimalWhy:
      'A lazily populated EPT may take one violation per page and access kind: (1) a load of data page (1,1) (guest frame 11) exits and is emulated; (2) the same load exits again with the EPT unchanged. One load is what a correct lazy EPT also takes.',
    target: { level: 'machine', design: eptEntryNeverInstalled },
  },
  {
    name: passthroughIoBitmapIntercepts.name,
    base: 'passthrough',
    area: 'devices',
    bugClass: "an I/O bitmap that intercepts an assigned device's ports, losing what direct assignment is for",
    reference:
      'SDM Vol. 3C §25.6.4 (I/O bitmaps); Ben-Yehuda et al., "The price of safety: evaluating IOMMU performance" (OLS 2007)',
    property: 'efficiency',
    minimalLength: 1,
    minimalWhy:
      'Any IN or OUT to the assigned device (ports 0x40..0x43) exits where the design hands the port to the guest.',
    target: { level: 'machine', design: passthroughIoBitmapIntercepts },
  },
];
