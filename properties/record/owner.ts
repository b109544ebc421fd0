/**
 * Words for the trace record: whose a host frame is (by the host's layout, model/host/layout.ts),
 * the SDM's names for paging-structure entries and their flags, and rights as words.
 */
import {
  frameOwner,
  guestBase,
  type HostConfig,
  HV_BLOCK,
  HV_FRAME,
  hex,
  hostFrames,
  PAGE_SIZE,
  type PagingFormat,
  POOL,
  PTE,
  poolBase,
  RIGHT_USER,
  RIGHT_WRITE,
  TABLE_BLOCK,
  tableBlock,
} from '../../model/index.ts';
import type { OwnerRecord } from './types.ts';

/** What a frame of guest g's hypervisor pool holds (model/host/machine.ts POOL). */
const poolRole = (offset: number): string => {
  if (offset === POOL.SHADOW_ROOT) return 'shadow page directory';
  if (offset === POOL.EPT_ROOT) return 'EPT root';
  if (offset === POOL.EPT_TABLE) return 'EPT table';
  if (offset === POOL.VIRTIO_RING) return 'paravirtual device ring';
  if (offset === POOL.IOMMU_ROOT) return 'IOMMU domain root';
  if (offset === POOL.IOMMU_TABLE) return 'IOMMU domain table';
  if (offset >= POOL.FIRST_SHADOW_TABLE) return 'shadow page table';
  return 'pool page';
};

/** The owner of the host frame holding host-physical address `hpa`, seen from guest `g`. */
export const ownerOf = (c: HostConfig, hpa: number, g: number): OwnerRecord => {
  const frame = Math.floor(hpa / PAGE_SIZE);
  const o = frameOwner(c, frame);
  if (o.kind === 'guest') {
    const gpa = hpa - guestBase(c, o.guest) * PAGE_SIZE;
    return { kind: 'guest', guest: o.guest, own: o.guest === g, text: `guest ${o.guest}'s memory, GPA ${hex(gpa)}` };
  }
  if (o.kind === 'hypervisor') {
    let text = 'a hypervisor frame';
    if (frame === HV_FRAME.SYSTEM) text = "the hypervisor's system page (GDT, TSS, IDT)";
    else if (frame === HV_FRAME.PAGE_TABLE) text = "the hypervisor's own page table";
    else if (frame >= HV_BLOCK && frame < HV_BLOCK * (c.guests + 1)) {
      const k = Math.floor(frame / HV_BLOCK) - 1;
      text = `hypervisor: guest ${k}'s ${poolRole(frame - poolBase(k))}`;
    } else if (frame >= tableBlock(0)) {
      const k = Math.floor((frame - tableBlock(0)) / TABLE_BLOCK);
      text = `hypervisor: guest ${k}'s ${frame - tableBlock(k) < TABLE_BLOCK / 2 ? 'EPT' : 'IOMMU'} tables`;
    }
    return { kind: 'hypervisor', own: false, text };
  }
  return {
    kind: 'host',
    own: false,
    text: frame < hostFrames(c) ? 'host memory nobody owns' : 'no memory (past the installed frames)',
  };
};

const LEVEL_NAMES = ['PML5E', 'PML4E', 'PDPTE', 'PDE', 'PTE'];

/** The SDM's name for an entry at `level` of `format`: PDE/PTE, EPT PDE/PTE, SL PDE/PTE (VT-d second level). */
export const entryName = (format: PagingFormat, level: number): string => {
  const base = LEVEL_NAMES.slice(-format.levels.length)[level] ?? `level ${level}`;
  return format.name.startsWith('ept') ? `EPT ${base}` : format.name.startsWith('vtd') ? `SL ${base}` : base;
};

const bitNames = (e: number, bits: readonly (readonly [number, string])[]) =>
  bits
    .filter(([b]) => (e & b) !== 0)
    .map(([, n]) => n)
    .join(' ');

/** An entry's flags by name (x86 Tables 4-5/4-6; EPT Table 29-x; VT-d second-level R/W). */
export const entryFlags = (format: PagingFormat, e: number): string => {
  if (format.name.startsWith('ept'))
    return (
      bitNames(e, [
        [1, 'R'],
        [2, 'W'],
        [4, 'X'],
      ]) || 'none'
    );
  if (format.name.startsWith('vtd'))
    return (
      bitNames(e, [
        [1, 'R'],
        [2, 'W'],
      ]) || 'none'
    );
  return (
    bitNames(e, [
      [PTE.P, 'P'],
      [PTE.RW, 'RW'],
      [PTE.US, 'US'],
      [PTE.PWT, 'PWT'],
      [PTE.PCD, 'PCD'],
      [PTE.A, 'A'],
      [PTE.D, 'D'],
    ]) || 'not present'
  );
};

/** x86 rights (R/W and U/S combined along a walk) as words. */
export const x86RightsText = (rights: number): string =>
  `${rights & RIGHT_WRITE ? 'writable' : 'read-only'}, ${rights & RIGHT_USER ? 'user' : 'supervisor'}`;

/** A walk's combined rights in `format`'s words. */
export const rightsText = (format: PagingFormat, rights: number): string =>
  format.name.startsWith('ept') || format.name.startsWith('vtd') ? entryFlags(format, rights) : x86RightsText(rights);
