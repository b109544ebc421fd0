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
 *
 * Interrupt remapping (VT-d §5.1): a device's MSI is a message (address, data) written with its
 * requester id (devices.ts). A compatibility-format message (address bit 4 = 0) is blocked while
 * remapping is on, unless compatibility format is enabled (GSTS.CFIS), which lets it through
 * unremapped. A remappable-format message (bit 4 = 1) names an entry of the interrupt-remapping
 * table (IRT) by its handle (address bits 19:5 = handle[14:0], bit 2 = handle[15]; with SHV,
 * bit 3, the data's bits 15:0 are a subhandle added to it); the entry (IRTE) must exist, be
 * present, and accept the requester (its SID, SQ and SVT fields); it decides the destination and
 * the vector. A message refused is blocked and recorded with its reason (VT-d §7.1.3, the
 * interrupt-remapping fault conditions) unless the entry disables fault recording (FPD).
 */

import {
  DMA_BLOCKED,
  DMA_NO_MEMORY,
  type DmaPort,
  MIN_MSI_VECTOR,
  MSI_ADDRESS_BASE,
  type MsiMessage,
} from '../devices.ts';
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

/**
 * Source validation of an IRTE (its SVT field, VT-d §9.10): none (00), the requester id against
 * SID under the SQ mask (01), or the requester's bus within SID's bus range (10: SID bits 15:8
 * the first bus, 7:0 the last).
 */
export type SourceValidation = 'none' | 'requester-id' | 'bus-range';

/**
 * An interrupt-remapping table entry (VT-d §9.10, remapped format), indexed by handle: MSIs that
 * name it go to guest `guest` (its destination) with vector `vector`. Entries written before the
 * IRTE's fields existed (`{ sid, guest }`) are present, validate the requester id exactly
 * (SVT = 01, SQ = 0), and deliver the vector of the message's data.
 */
export interface RemapEntry {
  /** Source identifier (SID): the requester id, or a bus range under SVT = 10. */
  readonly sid: number;
  /** The destination: the guest whose virtual CPU takes the interrupt. */
  readonly guest: number;
  /** P; absent: present. */
  readonly present?: boolean;
  /** FPD: faults through this entry are not recorded (the request is still blocked). */
  readonly fpd?: boolean;
  /** The vector delivered; absent: the message data's bits 7:0. */
  readonly vector?: number;
  /** SVT; absent: requester-id. */
  readonly svt?: SourceValidation;
  /** SQ (with SVT = 01): 0 compares all 16 bits; 1, 2, 3 ignore function bits 2, 2:1, 2:0. */
  readonly sq?: number;
}

/** Why interrupt remapping blocked a message (VT-d §7.1.3, fault reasons 21h, 22h, 25h, 26h). */
export type InterruptFaultReason =
  /** 21h: the interrupt index is past the table. */
  | 'index-past-table'
  /** 22h: the IRTE's present bit is clear. */
  | 'not-present'
  /** 25h: a compatibility-format request while compatibility format is disabled. */
  | 'compatibility-blocked'
  /** 26h: the requester id fails the IRTE's source validation. */
  | 'source-validation';

/** What the IOMMU recorded. */
export type IommuFault =
  | { readonly kind: 'dma'; readonly rid: number; readonly address: number; readonly write: boolean }
  | {
      readonly kind: 'interrupt';
      readonly rid: number;
      /** The data's bits 7:0 (the vector the message would carry in compatibility format). */
      readonly vector: number;
      /** For a message (address, data): why it was blocked, and the interrupt index it named. */
      readonly reason?: InterruptFaultReason;
      readonly index?: number;
    };

/** The IOMMU's configuration (set by the hypervisor) and its fault log. */
export interface IommuState {
  /** DMA remapping on: every device DMA is translated by its domain. Off: bus addresses are host addresses. */
  readonly dmaRemapping: boolean;
  readonly domains: readonly IommuDomain[];
  /** Interrupt remapping on: MSIs go through `irt`. Off: an MSI's vector is a host vector. */
  readonly interruptRemapping: boolean;
  /** The interrupt-remapping table, indexed by interrupt index (handle, plus subhandle). */
  readonly irt: readonly RemapEntry[];
  /** GSTS.CFIS: compatibility-format messages pass unremapped while remapping is on (absent: blocked). */
  readonly compatibilityFormat?: boolean;
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

/** A message's fields as interrupt remapping reads them (VT-d §5.1.2.1, §5.1.2.2). */
export interface DecodedMsi {
  /** Address bit 4: remappable (1) or compatibility (0) format. */
  readonly remappable: boolean;
  /** Remappable: handle[14:0] from address bits 19:5, handle[15] from bit 2. */
  readonly handle: number;
  /** Remappable: SHV, address bit 3. */
  readonly subhandleValid: boolean;
  /** Remappable: the interrupt index, handle + data bits 15:0 when SHV, else handle. */
  readonly index: number;
  /** Compatibility: destination ID, address bits 19:12. */
  readonly destination: number;
  /** Compatibility: the vector, data bits 7:0. */
  readonly vector: number;
}

/** Decode a message's address and data (see `DecodedMsi`). */
export const decodeMsi = (m: MsiMessage): DecodedMsi => {
  const a = m.address >>> 0;
  const handle = ((a >>> 5) & 0x7fff) | (((a >>> 2) & 1) << 15);
  const subhandleValid = (a & (1 << 3)) !== 0;
  return {
    remappable: (a & (1 << 4)) !== 0,
    handle,
    subhandleValid,
    index: subhandleValid ? handle + (m.data & 0xffff) : handle,
    destination: (a >>> 12) & 0xff,
    vector: m.data & 0xff,
  };
};

/** The remappable-format address naming `handle` (with SHV when `subhandleValid`), as a hypervisor programs it. */
export const remappableMsiAddress = (handle: number, subhandleValid: boolean): number =>
  (MSI_ADDRESS_BASE |
    ((handle & 0x7fff) << 5) |
    (1 << 4) |
    (subhandleValid ? 1 << 3 : 0) |
    (((handle >>> 15) & 1) << 2)) >>>
  0;

/** Does `entry`'s source validation accept requester `rid` (VT-d §9.10, SVT / SQ / SID)? */
export const sourceValid = (entry: RemapEntry, rid: number): boolean => {
  switch (entry.svt ?? 'requester-id') {
    case 'none':
      return true;
    case 'bus-range': {
      const bus = (rid >>> 8) & 0xff;
      return bus >= ((entry.sid >>> 8) & 0xff) && bus <= (entry.sid & 0xff);
    }
    default: {
      // SQ 1..3 ignore function-number bits 2, 2:1, 2:0 of the requester id.
      const ignore = [0, 0b100, 0b110, 0b111][entry.sq ?? 0] ?? 0;
      return ((entry.sid ^ rid) & ~ignore & 0xffff) === 0;
    }
  }
};

/** Where a message goes, and for a blocked one why and whether the fault is recorded. */
export type MsiRoute =
  | Exclude<MsiTarget, { kind: 'blocked' }>
  | {
      readonly kind: 'blocked';
      readonly reason: InterruptFaultReason | 'illegal-vector';
      readonly index?: number;
      /** False when the IRTE's FPD is set, or when the CPU, not the IOMMU, discarded it (an illegal vector). */
      readonly recorded: boolean;
    };

/** A message the CPU receives unremapped: a host vector (forwarded to its guest or kept), vectors 0..15 discarded. */
const unremapped = (hostVectors: readonly HostVector[], vector: number): MsiRoute => {
  if (vector < MIN_MSI_VECTOR) return { kind: 'blocked', reason: 'illegal-vector', recorded: false };
  const hv = hostVectors.find((x) => x.vector === vector);
  return hv ? { kind: 'guest', guest: hv.guest, vector } : { kind: 'host', vector };
};

/**
 * Route message `m` written by requester `rid` (VT-d §5.1). Remapping off: the data's vector is a
 * host vector. Remapping on: compatibility format is blocked unless `compatibilityFormat` (CFIS),
 * which passes it unremapped; remappable format looks up the IRTE its interrupt index names: past
 * the table, not present, or a requester its source validation refuses: blocked.
 */
export const routeMsiMessage = (
  iommu: IommuState,
  hostVectors: readonly HostVector[],
  rid: number,
  m: MsiMessage,
): MsiRoute => {
  const d = decodeMsi(m);
  if (!iommu.interruptRemapping) return unremapped(hostVectors, d.vector);
  if (!d.remappable)
    return iommu.compatibilityFormat
      ? unremapped(hostVectors, d.vector)
      : { kind: 'blocked', reason: 'compatibility-blocked', recorded: true };
  const e = iommu.irt[d.index];
  if (!e) return { kind: 'blocked', reason: 'index-past-table', index: d.index, recorded: true };
  const recorded = !e.fpd;
  if (e.present === false) return { kind: 'blocked', reason: 'not-present', index: d.index, recorded };
  if (!sourceValid(e, rid)) return { kind: 'blocked', reason: 'source-validation', index: d.index, recorded };
  return { kind: 'guest', guest: e.guest, vector: e.vector ?? d.vector };
};

/**
 * Route an MSI from requester `rid`: a message (address, data), see `routeMsiMessage`; or, as
 * before messages existed, a bare `vector`: with interrupt remapping, the first present table
 * entry whose source id matches sends it to its guest with that vector (the guest's own vector
 * space, as posted interrupts do); no entry: blocked. Without remapping, the vector is a host
 * vector: the hypervisor forwards it to the guest it assigned that vector to, and keeps every
 * other vector (its own timer's among them).
 */
export function routeMsi(iommu: IommuState, hostVectors: readonly HostVector[], rid: number, vector: number): MsiTarget;
export function routeMsi(iommu: IommuState, hostVectors: readonly HostVector[], rid: number, m: MsiMessage): MsiTarget;
export function routeMsi(
  iommu: IommuState,
  hostVectors: readonly HostVector[],
  rid: number,
  msi: number | MsiMessage,
): MsiTarget {
  if (typeof msi !== 'number') {
    const r = routeMsiMessage(iommu, hostVectors, rid, msi);
    return r.kind === 'blocked' ? { kind: 'blocked' } : r;
  }
  const vector = msi;
  if (iommu.interruptRemapping) {
    const e = iommu.irt.find((x) => x.sid === rid && x.present !== false);
    return e ? { kind: 'guest', guest: e.guest, vector } : { kind: 'blocked' };
  }
  const hv = hostVectors.find((x) => x.vector === vector);
  return hv ? { kind: 'guest', guest: hv.guest, vector } : { kind: 'host', vector };
}
