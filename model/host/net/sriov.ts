/**
 * SR-IOV networking: each guest drives a virtual function of the physical card directly (its
 * registers pass through the VMX I/O bitmap); the card's embedded switch forwards between virtual
 * functions and the uplink by the MAC the physical function (the hypervisor) assigned each one;
 * frames move by the card's DMA through the IOMMU domain of the virtual function's requester id,
 * and its interrupts go through interrupt remapping. No software is on the data path. The
 * policies are what the physical function programs per virtual function: spoof check (forged
 * transmits), MAC lock (MAC changes: a locked VF whose register differs from its assigned MAC
 * receives nothing; an unlocked one's entry follows its register), trust (promiscuous mode).
 */
import { DMA_BLOCKED } from '../../devices.ts';
import { PAGE_SIZE } from '../../geometry.ts';
import { readWord } from '../../memory.ts';
import { frameSrc, isPromiscuous } from '../../nic.ts';
import { hostIo } from '../io.ts';
import { buildIommuDomain, IOMMU_OFF, iommuPort } from '../iommu.ts';
import { guestBase, hostFrames, poolBase } from '../layout.ts';
import { type HostMachine, POOL } from '../machine.ts';
import type { NetworkBackEnd } from './backend.ts';
import { carry, type SwitchPort, switchFrame } from './forward.ts';
import { policyOf, type VfConfig, withNet } from './state.ts';

/** Requester id of guest g's network virtual function: bus 0x20, function g + 1 (its PF is function 0). */
export const netVfRid = (g: number): number => 0x2000 + 1 + g;

/** Options of the SR-IOV network back end (each default is the correct behaviour; the other is a mutant's flaw). */
export interface SriovOptions {
  /** The PF driver programs each VF's spoof check from the policy (default true; false is the mutant's flaw). */
  readonly applySpoofCheck?: boolean;
}

const vfsOf = (h: HostMachine): readonly VfConfig[] => (h.net?.card.kind === 'sriov' ? h.net.card.vfs : []);

/** The embedded switch's view of the virtual functions. */
const vfPorts = (h: HostMachine): SwitchPort[] =>
  vfsOf(h).map((vf, port) => {
    const nic = h.net!.nics[port];
    if (!nic) return { port, mac: -1, open: false, mirror: false };
    return {
      port,
      mac: vf.macLock ? vf.mac : nic.mac,
      open: !vf.macLock || nic.mac === vf.mac,
      mirror: vf.trusted && isPromiscuous(nic),
    };
  });

/** An SR-IOV back end. */
export const sriovBackEnd = (o: SriovOptions = {}): NetworkBackEnd => ({
  owner: 'hypervisor',
  dataPath: 'hardware',
  placement: 'vf',
  init: (d, h0) => {
    const policy = policyOf(d);
    const net = h0.net!;
    // Each VF's DMA goes through an IOMMU domain over its guest's memory, its MSIs through remapping.
    let memory = h0.memory;
    const io = hostIo(h0);
    const iommu = h0.io ? io.iommu : { ...IOMMU_OFF, dmaRemapping: true, interruptRemapping: true };
    const domains = [...iommu.domains];
    const irt = [...iommu.irt];
    net.nics.forEach((_, g) => {
      const root = poolBase(g) + POOL.IOMMU_ROOT;
      memory = buildIommuDomain(
        memory,
        root,
        [poolBase(g) + POOL.IOMMU_TABLE],
        h0.config.guestGeometry.frames,
        guestBase(h0.config, g),
      );
      domains.push({ rid: netVfRid(g), root });
      irt.push({ sid: netVfRid(g), guest: g });
    });
    const vfs: VfConfig[] = net.assigned.map((mac) => ({
      mac,
      spoofCheck: (o.applySpoofCheck ?? true) && policy.forgedTransmits === 'reject',
      macLock: policy.macChanges === 'reject',
      trusted: policy.promiscuous === 'accept',
    }));
    return withNet(
      { ...h0, memory, io: { ...io, iommu: { ...iommu, domains, irt } } },
      { card: { kind: 'sriov', vfs }, owner: 'hypervisor', placement: 'vf' },
    );
  },
  transmit: (d, h, g, address) => {
    // The VF fetches the frame by DMA through its IOMMU domain.
    const io = hostIo(h);
    const at = iommuPort(io.iommu, [netVfRid(g)], hostFrames(h.config) * PAGE_SIZE)(0, address, false, h.memory);
    // A fetch the IOMMU refused is logged as its DMA fault (VT-d §7.1); the frame is not sent.
    if (at === DMA_BLOCKED) {
      const faults = [...io.iommu.faults, { kind: 'dma' as const, rid: netVfRid(g), address, write: false }];
      return { ...h, io: { ...io, iommu: { ...io.iommu, faults } } };
    }
    if (at < 0) return h;
    const f = readWord(h.memory, at);
    const vf = vfsOf(h)[g]!;
    if (vf.spoofCheck && frameSrc(f) !== vf.mac) return h;
    return carry(d, h, g, f, switchFrame(vfPorts(h), g, f), { byCopy: false, rid: netVfRid });
  },
  receive: (d, h, f) =>
    carry(d, h, 'uplink', f, switchFrame(vfPorts(h), 'uplink', f), { byCopy: false, rid: netVfRid }),
  configure: (_d, h) => h, // a VF's registers are the card's; the embedded switch reads them as they are
});
