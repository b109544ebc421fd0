/**
 * The hosted machine: a real machine running a hypervisor and several guests. Host memory holds
 * the hypervisor's structures and every guest's memory; the real CPU holds the running guest's
 * context; the hypervisor keeps, per guest, the virtual CPU it last saved and its MMU state.
 */

import type { PhysicalMemory } from '../memory.ts';
import type { OpKind } from '../ops.ts';
import type { Cpu, Machine } from '../state.ts';
import type { GuestDevices, HostIo } from './io.ts';
import { type HostConfig, HV_BLOCK, poolBase, TABLE_BLOCK, tableBlock } from './layout.ts';
import { bareNet, type HostNet } from './net/state.ts';
import type { DirectPagingState } from './pv-kernel.ts';
import { emptyRealTlb, type RealTlb } from './tlb.ts';

/** The hypervisor's shadow page tables of one guest: a directory and the tables it uses, by slot. */
export interface ShadowTables {
  /** Host frame of the shadow page directory. */
  readonly root: number;
  /** (directory slot, host frame of its shadow page table), in allocation order. */
  readonly tables: readonly (readonly [number, number])[];
}

/** The hypervisor's record of one guest. */
export interface GuestContext {
  readonly id: number;
  /** The guest's CPU as the hypervisor last saved it, in reference form (the guest's own view). */
  readonly vcpu: Cpu;
  readonly shadow: ShadowTables;
  /** Host frame of the guest's EPT root. */
  readonly eptRoot: number;
  /** Where the guest's devices are (model/host/io.ts); absent: it has none. */
  readonly devices?: GuestDevices;
  /** Under direct paging: Xen's page types and base pointer, and the PV kernel's records (model/host/pv-kernel.ts). */
  readonly direct?: DirectPagingState;
}

/** Counts of how operations ran, for the efficiency measure. */
export interface Counters {
  /** Guest operations run. */
  readonly ops: number;
  /** ... of which ran on the real CPU without the hypervisor. */
  readonly native: number;
  /** Traps and VM exits, by operation kind. */
  readonly traps: Readonly<Partial<Record<OpKind, number>>>;
  /** Translated instructions (BT) and hypercalls (PV), by operation kind. */
  readonly calls: Readonly<Partial<Record<OpKind, number>>>;
  /** Traps and exits by reason (`exception 14`, `instruction hlt`, `ept-violation`, ...). */
  readonly reasons: Readonly<Record<string, number>>;
  /** Guest switches. */
  readonly switches: number;
}

/** Counters at boot: nothing run, nothing trapped. */
export const ZERO_COUNTERS: Counters = Object.freeze({
  ops: 0,
  native: 0,
  traps: {},
  calls: {},
  reasons: {},
  switches: 0,
});

/** The real machine a design runs its guests on: host memory, the real CPU, TLB, devices and network, and every guest's context. */
export interface HostMachine {
  readonly config: HostConfig;
  readonly memory: PhysicalMemory;
  /** The real CPU: the running guest's context as the hardware holds it. */
  readonly cpu: Cpu;
  readonly tlb: RealTlb;
  /** The guest the real CPU runs. */
  readonly current: number;
  readonly guests: readonly GuestContext[];
  readonly counters: Counters;
  /** The host's devices and IOMMU (model/host/io.ts); absent: no physical device is assigned. */
  readonly io?: HostIo;
  /** The guests' network cards and the network behind them (model/host/net/); absent: no guest has a card. */
  readonly net?: HostNet;
}

/** Frames of guest g's pool: shadow directory, EPT directory, EPT tables, then shadow tables. */
export const POOL = {
  SHADOW_ROOT: 0,
  EPT_ROOT: 1,
  EPT_TABLE: 2,
  /** The paravirtual device's shared ring (model/host/io.ts). */
  VIRTIO_RING: 5,
  /** The root and table of the guest's IOMMU domain (model/host/iommu.ts). */
  IOMMU_ROOT: 6,
  IOMMU_TABLE: 7,
  FIRST_SHADOW_TABLE: 8,
  SIZE: HV_BLOCK,
} as const;

/**
 * Second-level tables (one per 1024 guest frames) of guest g: EPT's, or its IOMMU domain's. One
 * table sits in the guest's pool; more (a guest of more than 1024 frames) fill its table block.
 */
export const secondLevelTables = (c: HostConfig, g: number, kind: 'ept' | 'iommu'): number[] => {
  const n = Math.ceil(c.guestGeometry.frames / 1024);
  if (n === 1) return [poolBase(g) + (kind === 'ept' ? POOL.EPT_TABLE : POOL.IOMMU_TABLE)];
  const block = tableBlock(g) + (kind === 'ept' ? 0 : TABLE_BLOCK / 2);
  return Array.from({ length: n }, (_, i) => block + i);
};

/** A host with the given guests (their initial machines in reference form), before any design prepared it. */
export const bareHost = (config: HostConfig, guests: readonly Machine[], memory: PhysicalMemory): HostMachine => ({
  config,
  memory,
  cpu: guests[0]!.cpu,
  tlb: emptyRealTlb(config.tlbCapacity),
  current: 0,
  guests: guests.map((m, id) => ({
    id,
    vcpu: m.cpu,
    shadow: { root: poolBase(id) + POOL.SHADOW_ROOT, tables: [] },
    eptRoot: poolBase(id) + POOL.EPT_ROOT,
    ...(m.devices && m.devices.length > 0 ? { devices: { kind: 'model' as const, engines: m.devices } } : {}),
  })),
  counters: ZERO_COUNTERS,
  ...(guests.some((m) => m.nic) ? { net: bareNet(guests) } : {}),
});

/** Replace one guest's record. */
export const withGuest = (h: HostMachine, g: number, patch: Partial<GuestContext>): HostMachine => ({
  ...h,
  guests: h.guests.map((x) => (x.id === g ? { ...x, ...patch } : x)),
});

/** Add one to a counter. */
export const bump = <K extends string>(
  rec: Readonly<Partial<Record<K, number>>>,
  key: K,
): Partial<Record<K, number>> => ({
  ...rec,
  [key]: ((rec as Record<K, number | undefined>)[key] ?? 0) + 1,
});
