/**
 * The IOMMU (Intel VT-d): DMA remapping through second-level page tables, one domain per device
 * (requester id), walked by the one walker (paging.ts) exactly as EPT is; and interrupt
 * remapping, a hypervisor-owned table that sends a device's MSI to the guest it is assigned to.
 *
 * This model's second-level tables use 32-bit entries in the two-level shape of 32-bit paging
 * (its IOVA space is 32-bit): R (bit 0) and W (bit 1), the frame in bits 31:12; no accessed or
 * dirty flags (VT-d second-level A/D is optional, off). Rights combine along the walk with AND, as
 * every format's do (paging.ts): a mapping may be read-only (R), write-only (W: VT-d allows it, as
 * Linux's DMA_FROM_DEVICE mappings use it) or both; R = W = 0 is not present (VT-d §9.8). A DMA
 * whose IOVA has no mapping, or a mapping without the right it needs (a device read needs R, a
 * device write W), is blocked: it reaches no memory and the IOMMU records a fault (VT-d §7.1:
 * non-recoverable address translation faults).
 */

import { DMA_BLOCKED, DMA_NO_MEMORY, type DmaPort } from '../devices.ts';
import { PAGE_SIZE } from '../geometry.ts';
import { type PhysicalMemory, readWord, writeWord } from '../memory.ts';
import { leafEntryAddress, type PagingFormat, walk, X86_32 } from '../paging.ts';
import { buildOffsetTables, EPT_BITS } from './ept.ts';

/** VT-d second-level entry bits used here: read, write, and the frame. */
export const VTD_BITS = { R: 1, W: 2, FRAME: 0xffff_f000 } as const;

/** VT-d second-level paging, 32-bit entries, two levels. */
export const VTD_SL_32: PagingFormat = Object.freeze({
  name: 'vtd-sl-32',
  levels: X86_32.levels,
  entryBytes: 4,
  present: (e: number) => (e & (VTD_BITS.R | VTD_BITS.W)) !== 0,
  frameAddress: (e: number) => (e & VTD_BITS.FRAME) >>> 0,
  rights: (e: number) => e & (VTD_BITS.R | VTD_BITS.W),
  allRights: VTD_BITS.R | VTD_BITS.W,
  accessedBit: 0,
  dirtyBit: 0,
});

/** The host address a domain rooted at host address `root` maps `iova` to for an access, or undefined (a fault). */
export const iommuTranslate = (
  memory: PhysicalMemory,
  root: number,
  iova: number,
  write: boolean,
): number | undefined => {
  const r = walk(
    VTD_SL_32,
    root,
    iova,
    (pa) => readWord(memory, pa),
    (rights) => (rights & (write ? VTD_BITS.W : VTD_BITS.R)) !== 0,
  );
  return r.ok ? (r.frame | (iova & 0xfff)) >>> 0 : undefined;
};

/**
 * Write second-level tables at `rootFrame` mapping IOVA frames 0..frames-1 to host frames
 * `hostBase` + f, readable and writable, using `tableFrames` (one per 1024 frames).
 */
export const buildIommuDomain = (
  memory: PhysicalMemory,
  rootFrame: number,
  tableFrames: readonly number[],
  frames: number,
  hostBase: number,
): PhysicalMemory => buildOffsetTables(memory, rootFrame, tableFrames, frames, hostBase, VTD_BITS.R | VTD_BITS.W);

/**
 * The domain rooted at host address `root` with IOVA `iova`'s page mapped to host address `hpa`
 * with `rights` (a subset of R and W: read-only, write-only, both; none unmaps it). The tables
 * must exist (buildIommuDomain); an IOTLB, if the model had one, would need an invalidation.
 */
export const mapIova = (
  memory: PhysicalMemory,
  root: number,
  iova: number,
  hpa: number,
  rights: number,
): PhysicalMemory => {
  const at = leafEntryAddress(VTD_SL_32, root, iova, (pa) => readWord(memory, pa));
  if (at === undefined) return memory;
  return writeWord(memory, at, ((hpa & VTD_BITS.FRAME) | (rights & (VTD_BITS.R | VTD_BITS.W))) >>> 0);
};

/**
 * The rights a device gets from an EPT entry's: what the guest's own CPU may do, it may do by DMA
 * (EPT R to VT-d R, EPT W to VT-d W; X has no DMA counterpart). A page the hypervisor keeps
 * read-only for the guest in EPT is then read-only for its device too (Xen's
 * p2m_get_iommu_flags: p2m_ram_ro and read-only grants map IOMMUF_readable only).
 */
export const iommuRightsOfEpt = (eptEntry: number): number =>
  (eptEntry & EPT_BITS.R ? VTD_BITS.R : 0) | (eptEntry & EPT_BITS.W ? VTD_BITS.W : 0);

/** A DMA domain: the second-level tables of one requester id. */
export interface IommuDomain {
  readonly rid: number;
  /** Host frame of the domain's root table. */
  readonly root: number;
}

/** An interrupt-remapping table entry: MSIs whose source id is `sid` go to guest `guest`. */
export interface RemapEntry {
  readonly sid: number;
  readonly guest: number;
}

/** What the IOMMU recorded. */
export type IommuFault =
  | { readonly kind: 'dma'; readonly rid: number; readonly address: number; readonly write: boolean }
  | { readonly kind: 'interrupt'; readonly rid: number; readonly vector: number };

/** The IOMMU's configuration (set by the hypervisor) and its fault log. */
export interface IommuState {
  /** DMA remapping on: every device DMA is translated by its domain. Off: bus addresses are host addresses. */
  readonly dmaRemapping: boolean;
  readonly domains: readonly IommuDomain[];
  /** Interrupt remapping on: MSIs go through `irt`. Off: an MSI's vector is a host vector. */
  readonly interruptRemapping: boolean;
  readonly irt: readonly RemapEntry[];
  readonly faults: readonly IommuFault[];
}

/** An IOMMU with DMA remapping off: no domains, no faults. */
export const IOMMU_OFF: IommuState = Object.freeze({
  dmaRemapping: false,
  domains: Object.freeze([]),
  interruptRemapping: false,
  irt: Object.freeze([]),
  faults: Object.freeze([]),
});

/**
 * The DMA port of devices behind the IOMMU: device index i of the running machine is requester
 * id `rids[i]`. Host addresses past `hostBytes` answer with no memory.
 */
export const iommuPort =
  (iommu: IommuState, rids: readonly number[], hostBytes: number): DmaPort =>
  (device, address, write, memory) => {
    const rid = rids[device];
    if (!iommu.dmaRemapping) return address < hostBytes ? address : DMA_NO_MEMORY;
    const domain = iommu.domains.find((x) => x.rid === rid);
    if (!domain) return DMA_BLOCKED;
    const hpa = iommuTranslate(memory, domain.root * PAGE_SIZE, address, write);
    if (hpa === undefined) return DMA_BLOCKED;
    return hpa < hostBytes ? hpa : DMA_NO_MEMORY;
  };

/** Where an MSI goes. */
export type MsiTarget =
  | { readonly kind: 'guest'; readonly guest: number; readonly vector: number }
  /** The hypervisor itself took it (a host vector it owns, such as its timer's). */
  | { readonly kind: 'host'; readonly vector: number }
  /** The interrupt-remapping hardware refused it (recorded as a fault). */
  | { readonly kind: 'blocked' };

/** A host vector the hypervisor assigned to a guest's device (used when interrupts are not remapped). */
export interface HostVector {
  readonly vector: number;
  readonly guest: number;
}

/**
 * Route an MSI from requester `rid` carrying `vector`. With interrupt remapping, the table entry
 * whose source id matches sends it to its guest, with the vector the device was given (the
 * guest's own vector space, as posted interrupts do); no entry: blocked. Without remapping, the
 * vector is a host vector: the hypervisor forwards it to the guest it assigned that vector to,
 * and keeps every other vector (its own timer's among them).
 */
export const routeMsi = (
  iommu: IommuState,
  hostVectors: readonly HostVector[],
  rid: number,
  vector: number,
): MsiTarget => {
  if (iommu.interruptRemapping) {
    const e = iommu.irt.find((x) => x.sid === rid);
    return e ? { kind: 'guest', guest: e.guest, vector } : { kind: 'blocked' };
  }
  const hv = hostVectors.find((x) => x.vector === vector);
  return hv ? { kind: 'guest', guest: hv.guest, vector } : { kind: 'host', vector };
};
