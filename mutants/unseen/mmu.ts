/**
 * Unseen mutants of MMU and TLB virtualization: a guest INVLPG carried out under the wrong VPID,
 * a same-value CR3 reload skipped, and two shadow-paging trap storms (an entry never made
 * writable; a frame that stopped being a page table but stays write-protected).
 *
 * FROZEN: nothing under mutants/unseen/ changes after its first commit.
 */
import {
  bootFrames,
  bt,
  composeDesign,
  type Design,
  guestBase,
  guestView,
  type HostMachine,
  linear,
  PAGE_SIZE,
  PTE,
  pageNumber,
  readWord,
  shadow,
  standardHandle,
  tlbFlushPage,
  VEC,
  writeWord,
} from '../../index.ts';
import { GEOMETRY, guest, type UnseenMachineMutant, USED_RW_USER } from './types.ts';

/** Where the shadow PTE for `address` of guest `g` lives, or undefined when its slot has no shadow table. */
const shadowPteAddress = (h: HostMachine, g: number, address: number): number | undefined => {
  const table = h.guests[g]!.shadow.tables.find(([dir]) => dir === address >>> 22)?.[1];
  return table === undefined ? undefined : table * PAGE_SIZE + ((address >>> 12) & 0x3ff) * 4;
};

/** The host with the shadow PTE for `address` made read-only when `keep` says so. */
const writeProtectShadow = (
  h: HostMachine,
  g: number,
  address: number,
  keep: (spte: number) => boolean,
): HostMachine => {
  const at = shadowPteAddress(h, g, address);
  if (at === undefined) return h;
  const spte = readWord(h.memory, at);
  if (!(spte & PTE.P) || !(spte & PTE.RW) || !keep(spte)) return h;
  return { ...h, memory: writeWord(h.memory, at, (spte & ~PTE.RW) >>> 0) };
};

const isPageFaultExit = (
  entry: Parameters<Design['handle']>[1],
): entry is Extract<Parameters<Design['handle']>[1], { kind: 'exit' }> & {
  exit: { reason: 'exception'; address: number };
} =>
  entry.kind === 'exit' &&
  entry.exit.reason === 'exception' &&
  entry.exit.vector === VEC.PF &&
  entry.exit.address !== undefined;

/** A guest whose window entries are all already accessed and dirty (no A/D update left for any access). */
const usedGuest = (regs: readonly [number, number, number, number] = [0, 0, 0, 0]) =>
  guest({
    regs,
    pteFlags: new Array(GEOMETRY.dirEntries * GEOMETRY.tableEntries).fill(USED_RW_USER),
    pdeFlags: new Array(GEOMETRY.dirEntries).fill(USED_RW_USER),
  });

// ---------------------------------------------------------------------------------------------

const shadowInvlpgVpid0Design: Design = composeDesign({
  ...shadow,
  name: 'shadow-invlpg-flushes-vpid-0',
  description:
    'shadow: the guest’s INVLPG is carried out with the hypervisor’s own INVLPG (VPID 0), not for the guest’s VPID',
  handle: (h, entry) => {
    const out = standardHandle(() => shadowInvlpgVpid0Design)(h, entry);
    if (entry.kind !== 'exit' || entry.exit.reason !== 'instruction' || entry.exit.op.kind !== 'invlpg') return out;
    // The flaw: the shadow entry is dropped, but the real TLB flush is an INVLPG executed in VMX root
    // operation, which invalidates the mappings of VPID 0 only; the guest's VPID keeps its entry.
    return { ...out, tlb: tlbFlushPage(h.tlb, 0, pageNumber(entry.exit.op.va)) };
  },
});

export const shadowInvlpgFlushesVpid0: UnseenMachineMutant = {
  name: 'shadow-invlpg-flushes-vpid-0',
  base: 'shadow',
  area: 'TLB',
  level: 'machine',
  bugClass: 'TLB tags: guest invalidation applied to the wrong VPID',
  reference:
    'Intel SDM Vol. 3C "Operations that Invalidate Cached Mappings": INVLPG in VMX root operation invalidates mappings of VPID 0000H only; a guest page needs INVVPID (individual-address) with the guest’s VPID',
  flaw: 'The emulated INVLPG drops the shadow entry but flushes the real TLB under VPID 0 instead of the guest’s VPID, so the real CPU keeps using the old translation of the page.',
  design: shadowInvlpgVpid0Design,
  property: 'equivalence',
  minimal: 5,
  minimalWhy:
    'The real TLB must hold the page first: the first access to any page traps (the shadow starts empty) and is emulated, so a second, native access is needed to cache it (2). The PTE must then change (a store to the page table through page (0,0), trapped and emulated; the shadow is zapped but real TLB entries stay, as bare metal’s may until INVLPG) (3), the guest must INVLPG the page (4) and access it again (5), where bare metal must use the new PTE and the mutant’s real CPU hits the stale entry. With EAX = 7 the PTE of page (0,2) is made to point at frame 0: bare metal reads PDE 0 (0x1027), the mutant reads frame 8 (0).',
  witness: {
    geometry: GEOMETRY,
    guests: [guest({ regs: [0x7, 0, 0, 0] })],
    ops: [
      { guest: 0, op: { kind: 'load', dst: 1, va: linear(0, 2, 0) } },
      { guest: 0, op: { kind: 'load', dst: 1, va: linear(0, 2, 0) } },
      { guest: 0, op: { kind: 'store', va: linear(0, 0, 2), src: 0 } },
      { guest: 0, op: { kind: 'invlpg', va: linear(0, 2) } },
      { guest: 0, op: { kind: 'load', dst: 1, va: linear(0, 2, 0) } },
    ],
  },
};

// ---------------------------------------------------------------------------------------------

const btSameCr3Design: Design = composeDesign({
  ...bt,
  name: 'bt-same-cr3-no-flush',
  description: 'bt: a MOV to CR3 that reloads the current value is skipped as a no-op (no TLB flush, no shadow resync)',
  handle: (h, entry) => {
    if (entry.kind === 'call' && entry.op.kind === 'movToCr3') {
      const v = guestView(btSameCr3Design, h, h.current);
      // The flaw: "CR3 did not change, nothing to do" — but MOV to CR3 invalidates the TLB whatever
      // the value (SDM §4.10.4.1), and kernels flush their TLB exactly so.
      if (v.cpu.cpl === 0 && entry.op.value >>> 0 === v.cpu.cr3) return h;
    }
    return standardHandle(() => btSameCr3Design)(h, entry);
  },
});

export const btSameCr3NoFlush: UnseenMachineMutant = {
  name: 'bt-same-cr3-no-flush',
  base: 'bt',
  area: 'TLB',
  level: 'machine',
  bugClass: 'TLB flush: same-value CR3 reload optimized away',
  reference:
    'Intel SDM Vol. 3A §4.10.4.1 (MOV to CR3 invalidates all non-global TLB entries, whatever the value); Linux flushes its local TLB by rewriting CR3 with its own value (native_write_cr3(__native_read_cr3()))',
  flaw: 'The translated MOV to CR3 is dropped when the new value equals the current one, so neither the real TLB nor the shadow is flushed.',
  design: btSameCr3Design,
  property: 'equivalence',
  minimal: 5,
  minimalWhy:
    'As for a missed INVLPG: a page must be in the real TLB (an emulated first access, then a native one: 2), its PTE must change (3), the guest reloads CR3 with the same value (4) and accesses the page (5); bare metal walks the new PTE, the mutant’s real CPU uses its cached entry. With EAX = 7 the PTE of page (0,2) points at frame 0: bare metal reads 0x1027, the mutant 0.',
  witness: {
    geometry: GEOMETRY,
    guests: [guest({ regs: [0x7, 0, 0, 0] })],
    ops: [
      { guest: 0, op: { kind: 'load', dst: 1, va: linear(0, 2, 0) } },
      { guest: 0, op: { kind: 'load', dst: 1, va: linear(0, 2, 0) } },
      { guest: 0, op: { kind: 'store', va: linear(0, 0, 2), src: 0 } },
      { guest: 0, op: { kind: 'movToCr3', value: 0 } },
      { guest: 0, op: { kind: 'load', dst: 1, va: linear(0, 2, 0) } },
    ],
  },
};

// ---------------------------------------------------------------------------------------------

const shadowWriteFaultStormDesign: Design = composeDesign({
  ...shadow,
  name: 'shadow-write-fault-storm',
  description: 'shadow: shadow PTEs are always installed read-only, so every guest store traps',
  handle: (h, entry) => {
    const out = standardHandle(() => shadowWriteFaultStormDesign)(h, entry);
    // The flaw: the fill after a write fault never upgrades the entry to writable (the write is
    // emulated instead), so the next store to the page faults again, and again.
    return isPageFaultExit(entry) ? writeProtectShadow(out, out.current, entry.exit.address, () => true) : out;
  },
});

export const shadowWriteFaultStorm: UnseenMachineMutant = {
  name: 'shadow-write-fault-storm',
  base: 'shadow',
  area: 'efficiency',
  level: 'machine',
  bugClass: 'trap storm: the same write faults again and again',
  reference:
    'DESIGN.md §4 (efficiency: traps counted against what the mechanism needs; a trap storm is a failure); KVM makes an SPTE writable on the write fault that needs it (and its write-flooding detection exists to stop such storms)',
  flaw: 'Every shadow PTE is installed without R/W, so each guest store to any page exits and is emulated: equivalent, but one trap per store forever.',
  design: shadowWriteFaultStormDesign,
  property: 'efficiency',
  minimal: 2,
  minimalWhy:
    'Under counted efficiency (at most one hidden fault per page and access kind after the last change to the tables that map it): the first store to a page may fault (the shadow starts empty), the second store to the same page with no table change in between must not. With every PTE and PDE already accessed and dirty, the first store changes no table, so two stores to page (0,2) suffice; one store cannot show a second fault. Today’s efficiency excuses every hidden shadow fault.',
  witness: {
    geometry: GEOMETRY,
    guests: [usedGuest()],
    ops: [
      { guest: 0, op: { kind: 'store', va: linear(0, 2, 0), src: 0 } },
      { guest: 0, op: { kind: 'store', va: linear(0, 2, 0), src: 0 } },
    ],
  },
};

// ---------------------------------------------------------------------------------------------

const btStaleWriteProtectDesign: Design = composeDesign({
  ...bt,
  name: 'bt-stale-write-protect-after-type-change',
  description:
    'bt: frames that were page tables when the guest booted stay write-protected in the shadow after they stop being page tables',
  handle: (h, entry) => {
    const out = standardHandle(() => btStaleWriteProtectDesign)(h, entry);
    if (!isPageFaultExit(entry)) return out;
    // The flaw: the set of frames to write-protect is the live page tables plus those the guest
    // booted with, a list computed once and never pruned; a frame that stopped being a page table
    // (a CR3 switch, a PDE rewrite) keeps trapping on every store.
    const g = out.current;
    const f = bootFrames(out.config.guestGeometry);
    const bootTables = new Set([
      f.pageDirectory,
      ...Array.from({ length: out.config.guestGeometry.dirEntries }, (_, d) => f.pageTable(d)),
    ]);
    const base = guestBase(out.config, g);
    return writeProtectShadow(out, g, entry.exit.address, (spte) => bootTables.has((spte >>> 12) - base));
  },
});

export const btStaleWriteProtectAfterTypeChange: UnseenMachineMutant = {
  name: 'bt-stale-write-protect-after-type-change',
  base: 'bt',
  area: 'efficiency',
  level: 'machine',
  bugClass: 'page-type change: a former page table stays write-protected (trap storm)',
  reference:
    'KVM’s shadow MMU unshadows a page that is written like data (detect_write_flooding in arch/x86/kvm/mmu); issue 20 ("no trap for a store to a page that is no longer a page table once the design has had a chance to notice")',
  flaw: 'The shadow write-protects every frame that held a page table at boot, even after the guest moved its tables elsewhere: stores to such a frame, now ordinary data, trap forever.',
  design: btStaleWriteProtectDesign,
  property: 'efficiency',
  minimal: 3,
  minimalWhy:
    'A boot page-table frame must stop being one and be mapped as data: MOV CR3 = 0x1000 makes frame 1 (the table of slot 0) the directory, whose entry 1 (0x67) makes frame 0 (the old directory) the table of slot 1, whose entry 2 maps frame 3 (the old table of slot 2, no longer a table) at page (1,2) (1). The first store there may take a hidden fault (2); the second, with no table change in between (every entry already accessed and dirty), must run natively under counted efficiency and traps under the mutant (3). Two stores are needed to see a repeated fault and one operation to change a frame’s type.',
  witness: {
    geometry: GEOMETRY,
    guests: [usedGuest()],
    ops: [
      { guest: 0, op: { kind: 'movToCr3', value: 0x1000 } },
      { guest: 0, op: { kind: 'store', va: linear(1, 2, 0), src: 0 } },
      { guest: 0, op: { kind: 'store', va: linear(1, 2, 0), src: 0 } },
    ],
  },
};

/** The MMU, TLB and efficiency mutants. */
export const MMU_MUTANTS: readonly UnseenMachineMutant[] = [
  shadowInvlpgFlushesVpid0,
  btSameCr3NoFlush,
  shadowWriteFaultStorm,
  btStaleWriteProtectAfterTypeChange,
];
