/**
 * The hosted machine's physical layout and who owns each host frame.
 *
 * Host-physical frames: block 0 (frames 0..63) holds the hypervisor's own pages (its GDT, TSS
 * and IDT page, and the page table that maps them); block g+1 holds guest g's hypervisor pool
 * (shadow tables, EPT tables); guest g's memory is one aligned region starting at frame 1024
 * (or higher for large guests), so guest-physical frame f is host frame base(g) + f and a
 * guest's memory is one subtree of host memory (memory.ts regions). A guest of more than 1024
 * frames needs more second-level tables (EPT, IOMMU: one per 1024 frames) than its pool holds:
 * they go in a table block of its own past the pools (TABLE_BLOCK frames at `tableBlock(g)`),
 * below the first guest (whose region then starts at frame 32768 or higher).
 */
import { DEFAULT_GEOMETRY, type Geometry } from '../geometry.ts';
import { regionFramesFor } from '../memory.ts';

/** The shape of a host: how many guests, each guest's geometry, the real TLB's size. */
export interface HostConfig {
  /** Guests running on the host (1 to 8). */
  readonly guests: number;
  readonly guestGeometry: Geometry;
  /** Entries the real TLB holds before it evicts the oldest. */
  readonly tlbCapacity: number;
}

/** The host configuration used when none is given: one guest of the default geometry. */
export const DEFAULT_HOST_CONFIG: HostConfig = Object.freeze({
  guests: 1,
  guestGeometry: DEFAULT_GEOMETRY,
  tlbCapacity: 64,
});

/** Frames in a hypervisor block. */
export const HV_BLOCK = 64;
/** The hypervisor's own pages in block 0. */
export const HV_FRAME = { SYSTEM: 0, PAGE_TABLE: 1 } as const;
/** Linear address of the hypervisor's area in every address space it builds (directory slot 1023). */
export const HV_LINEAR = 0xffc0_0000;

/** First frame of guest g's hypervisor pool (shadow and EPT tables). */
export const poolBase = (g: number): number => HV_BLOCK * (g + 1);

/** Guests a host runs at most. */
export const MAX_GUESTS = 8;
/** Guest frames at most (second-level tables of up to 64 frames each for EPT and the IOMMU). */
export const MAX_GUEST_FRAMES = 65536;
/** Frames of a large guest's table block: its EPT tables, then its IOMMU tables. */
export const TABLE_BLOCK = 2 * HV_BLOCK;

/** First frame of guest g's table block (used by guests of more than 1024 frames). */
export const tableBlock = (g: number): number => HV_BLOCK * (MAX_GUESTS + 1) + TABLE_BLOCK * g;

/** Aligned blocks of 32 host frames the hypervisor owns: its own, the pools, and large guests' table blocks. */
export const hypervisorBlocks = (c: HostConfig): number[] => {
  const out: number[] = [];
  for (let base = 0; base < HV_BLOCK * (c.guests + 1); base += 32) out.push(base);
  if (c.guestGeometry.frames > 1024)
    for (let g = 0; g < c.guests; g++) for (let b = 0; b < TABLE_BLOCK; b += 32) out.push(tableBlock(g) + b);
  return out;
};

/** Frames in a guest's region (its memory rounded up to an aligned subtree). */
export const regionFrames = (c: HostConfig): number => regionFramesFor(c.guestGeometry.frames);

/** Host frame of guest g's guest-physical frame 0. */
export const guestBase = (c: HostConfig, g: number): number => {
  const r = regionFrames(c);
  return r >= 1024 ? r * (g + 1) : 1024 + g * r;
};

/** Host frames installed. */
export const hostFrames = (c: HostConfig): number => guestBase(c, c.guests - 1) + regionFrames(c);

/** Who a host frame belongs to. */
export type Owner =
  | { readonly kind: 'hypervisor' }
  | { readonly kind: 'guest'; readonly guest: number }
  | { readonly kind: 'host' };

/** The owner of host frame `frame` by the layout (hypervisor tables, a guest's memory, or unused). */
export const frameOwner = (c: HostConfig, frame: number): Owner => {
  if (frame < HV_BLOCK * (c.guests + 1)) return { kind: 'hypervisor' };
  if (c.guestGeometry.frames > 1024 && frame >= tableBlock(0) && frame < tableBlock(c.guests))
    return { kind: 'hypervisor' };
  for (let g = 0; g < c.guests; g++) {
    const base = guestBase(c, g);
    if (frame >= base && frame < base + c.guestGeometry.frames) return { kind: 'guest', guest: g };
  }
  return { kind: 'host' };
};

/** A config with a problem named, or undefined when usable. */
export const hostConfigProblem = (c: HostConfig): string | undefined => {
  if (!Number.isInteger(c.guests) || c.guests < 1 || c.guests > MAX_GUESTS) return `guests must be 1..${MAX_GUESTS}`;
  if (c.guestGeometry.frames > MAX_GUEST_FRAMES) return `a guest has at most ${MAX_GUEST_FRAMES} frames`;
  if (!Number.isInteger(c.tlbCapacity) || c.tlbCapacity < 1) return 'tlbCapacity must be a positive integer';
  return undefined;
};
