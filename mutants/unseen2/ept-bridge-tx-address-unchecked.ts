/**
 * FROZEN: nothing under mutants/unseen2/ changes after its first commit.
 *
 * ept, whose bridge reads a transmit descriptor's frame without checking it lies in the guest's memory.
 */
import {
  bridgeBackEnd,
  composeDesign,
  type Design,
  ept,
  guestBase,
  hostFrames,
  NIC_PORT_BASE,
  PAGE_SIZE,
  readWord,
} from '../../index.ts';
import { GEOMETRY, guest, type UnseenMutant } from '../unseen/types.ts';

const design: Design = composeDesign({
  ...ept,
  name: 'ept-bridge-tx-address-unchecked',
  description:
    'ept, but the bridge fetches a TX frame at the guest’s base plus the descriptor address, bounded only by host memory',
  network: bridgeBackEnd({
    fetch: (h, g, gpa) => {
      const hpa = guestBase(h.config, g) * PAGE_SIZE + gpa;
      return hpa < hostFrames(h.config) * PAGE_SIZE ? readWord(h.memory, hpa) : undefined;
    },
  }),
});

export const eptBridgeTxAddressUnchecked: UnseenMutant = {
  name: 'ept-bridge-tx-address-unchecked',
  base: 'ept',
  level: 'network',
  area: 'network',
  bugClass: 'guest-supplied DMA address not bounds-checked by the back end (out-of-bounds read)',
  reference:
    'QEMU CVE-2015-7504 / CVE-2016-7909 (pcnet descriptor handling), CVE-2020-14364 (USB out-of-bounds via guest-controlled length/address): a device model trusting a guest’s descriptor address',
  flaw: 'The software bridge copies a transmit frame from the guest’s region at the descriptor’s address without checking it against the guest’s memory size, so an address past the guest reads the next guest’s memory and puts it on the wire.',
  property: 'equivalence',
  minimal: 1,
  minimalWhy:
    'One TX (OUT TX with EAX = 0x2500c: one guest region, 32 frames, plus the system page’s word 3, the kernel code descriptor’s high word, a word with a destination byte no guest has): bare metal drops a descriptor no memory answers, the mutant sends guest 1’s word to the world. 1.',
  design,
  witness: {
    geometry: GEOMETRY,
    guests: [guest({ nic: 0x00, regs: [0x2500c, 0, 0, 0] }), guest({ nic: 0x22 })],
    ops: [{ guest: 0, op: { kind: 'out', port: NIC_PORT_BASE + 2 } }],
  },
};
