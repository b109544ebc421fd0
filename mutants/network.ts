/**
 * Network mutants (issue 12): each a one-change design on a correct preset, built with the public
 * design API (a policy set to accept, or one option of a network back end), checked on network
 * scenarios (generators/net.ts: guest g's card has MAC 0x10 + g).
 *
 * Minimal lengths count operations after the checker's shrinking, which folds MOV-immediate
 * constants into the guests' initial registers: a register write to a card is one OUT, its value
 * in EAX from the start.
 */
import { arbNetScenario } from '../generators/net.ts';
import { ept, passthrough, vmdq, xenPv } from '../model/designs/presets.ts';
import type { Design, NetworkPolicy } from '../model/host/design.ts';
import { bridgeBackEnd } from '../model/host/net/bridge.ts';
import { splitBackEnd } from '../model/host/net/split.ts';
import { sriovBackEnd } from '../model/host/net/sriov.ts';
import { vmdqBackEnd } from '../model/host/net/vmdq.ts';
import { composeDesign } from '../model/host/toolkit.ts';
import type { Mutant } from './mutant.ts';

const VSPHERE_SECURITY_POLICY =
  'VMware vSphere Networking, "Security Policy" (promiscuous mode, MAC address changes, forged transmits), https://docs.vmware.com/en/VMware-vSphere/6.5/com.vmware.vsphere.networking.doc/GUID-891147DD-3E2E-45A1-9B50-7717C3443DD7.html';

const machine = (design: Design) => ({ level: 'machine' as const, design, scenarios: () => arbNetScenario() });

const withPolicy = (base: Design, name: string, policy: Partial<NetworkPolicy>, description: string): Design =>
  composeDesign({ ...base, name, description, axes: { ...base.axes, netPolicy: policy } });

/** Every network mutant. */
export const NETWORK_MUTANTS: readonly Mutant[] = Object.freeze([
  {
    name: 'ept-promiscuous-accept',
    base: 'ept',
    area: 'network',
    bugClass:
      'the virtual switch lets a guest in promiscuous mode see every frame on the switch (policy set to accept)',
    reference: `${VSPHERE_SECURITY_POLICY}: "Promiscuous mode is insecure mode of operation"; CWE-200 (exposure of information to an unauthorized actor)`,
    property: 'equivalence',
    minimalLength: 2,
    minimalWhy:
      'guest 1 sets PROMISCUOUS (OUT 0x51, EAX = 1) and a frame not addressed to it passes the bridge (the world sends one to an unknown MAC: one frameIn); the ideal switch never gives a port such a frame, so guest 1 holds one frame too many. The bit alone delivers nothing and the frame alone reaches no promiscuous port: 2',
    target: machine(
      withPolicy(
        ept,
        'ept-promiscuous-accept',
        { promiscuous: 'accept' },
        'ept with the promiscuous-mode policy at accept',
      ),
    ),
  },
  {
    name: 'ept-mac-changes-accept',
    base: 'ept',
    area: 'network',
    bugClass:
      "the virtual switch re-keys a guest's port to any MAC the guest sets, so it can take a neighbour's address and its frames (policy set to accept)",
    reference: `${VSPHERE_SECURITY_POLICY}; the MAC-stealing class of CVE-2024-26830 (Linux i40e: an untrusted VF could drop its administratively set MAC)`,
    property: 'equivalence',
    minimalLength: 2,
    minimalWhy:
      'guest 1 sets its MAC (OUT 0x50, EAX = a new address) and a frame to that address arrives (one frameIn); under reject the port receives nothing while its MAC is not its own, under accept the bridge hands it the frame. The change alone moves no frame, and without it the frame goes where the ideal switch sends it: 2',
    target: machine(
      withPolicy(ept, 'ept-mac-changes-accept', { macChanges: 'accept' }, 'ept with the MAC-changes policy at accept'),
    ),
  },
  {
    name: 'ept-forged-transmits-accept',
    base: 'ept',
    area: 'network',
    bugClass:
      "the virtual switch forwards frames whose source MAC is not the sending guest's (policy set to accept): impersonation, ARP spoofing",
    reference: `${VSPHERE_SECURITY_POLICY}: forged transmits`,
    property: 'resource-control',
    minimalLength: 1,
    minimalWhy:
      "one transmit (OUT 0x52) whose descriptor points at a boot-time word of guest memory (EAX = 0x500c from the start: the GDT's kernel code descriptor, high word 0x00cf9b00): its source MAC 0x00 is not the guest's 0x10 and its destination 0xcf is unknown, so the accepting bridge sends it to the world carrying a MAC not the guest's own (a word whose destination equals its source, such as PDE 0 = 0x00001007, is filtered: the bridge has just learned that address on the sending port, IEEE 802.1D §7.7.1). No frame leaves without a transmit: 1",
    target: machine(
      withPolicy(
        ept,
        'ept-forged-transmits-accept',
        { forgedTransmits: 'accept' },
        'ept with the forged-transmits policy at accept',
      ),
    ),
  },
  {
    name: 'ept-bridge-floods-unknown-unicast',
    base: 'ept',
    area: 'network',
    bugClass:
      "the hypervisor's bridge floods a frame with an unknown destination into every guest port (IEEE 802.1D's rule between segments), where a promiscuous guest reads it",
    reference:
      'IEEE 802.1D-2004 §7.7.1 (frames to unknown destinations are flooded) and the MAC-flooding attack class it enables (Cisco, "Unicast Flooding in Switched Campus Networks", document 23563)',
    property: 'equivalence',
    minimalLength: 2,
    minimalWhy:
      "guest 1 sets PROMISCUOUS (OUT 0x51, EAX = 1: a non-promiscuous card filters the flooded frame out) and the world sends a frame to an unknown MAC (one frameIn), which the flooding bridge offers to guest 1; the ideal switch drops it. Neither alone puts a frame in guest 1's card: 2",
    target: machine(
      composeDesign({
        ...ept,
        name: 'ept-bridge-floods-unknown-unicast',
        description: 'ept whose bridge floods unknown unicast into guest ports',
        network: bridgeBackEnd({ floodUnknownUnicast: true }),
      }),
    ),
  },
  {
    name: 'vmdq-sorter-not-updated',
    base: 'vmdq',
    area: 'network',
    bugClass:
      "the hypervisor does not reprogram the card's VMDq MAC filter when a guest changes its MAC, so the queue keeps receiving for the old address",
    reference:
      "the filter-table desynchronisation class of CVE-2024-26830 (Linux i40e: the card's MAC filters and a function's MAC out of step); Intel 82576 datasheet §7.10 (VMDq queue MAC filters are the driver's to program)",
    property: 'equivalence',
    minimalLength: 2,
    minimalWhy:
      "guest 1 sets another MAC (OUT 0x50) and a broadcast arrives (one frameIn): the ideal switch delivers nothing to a port whose MAC is not its own (MAC changes rejected), the stale queue still takes it and the card's filter accepts a broadcast. Without the change the broadcast is due; without a frame nothing moves: 2",
    target: machine(
      composeDesign({
        ...vmdq,
        name: 'vmdq-sorter-not-updated',
        description: "vmdq whose hypervisor leaves a queue's MAC filter as it was when its guest changes MAC",
        network: vmdqBackEnd({ updateSorterOnMacChange: false }),
      }),
    ),
  },
  {
    name: 'passthrough-vf-no-spoof-check',
    base: 'passthrough',
    area: 'network',
    bugClass:
      "the PF driver does not enable a virtual function's MAC spoof check, so a guest sends frames with any source MAC",
    reference:
      'OpenStack Neutron spec "Enable spoofchk control for SR-IOV ports" (Liberty; `ip link set DEV vf N spoofchk off` and its security impact), https://specs.openstack.org/openstack/neutron-specs/specs/liberty/sriov-spoofchk.html',
    property: 'resource-control',
    minimalLength: 1,
    minimalWhy:
      "one transmit (OUT 0x52) of a boot-time word of guest memory (EAX = 0 from the start: PDE 0, 0x00001007): its source MAC 0x00 is not the VF's, which the spoof check would drop; the VF sends it to the world. No frame leaves without a transmit: 1",
    target: machine(
      composeDesign({
        ...passthrough,
        name: 'passthrough-vf-no-spoof-check',
        description: 'passthrough whose PF leaves every network VF without spoof check',
        network: sriovBackEnd({ applySpoofCheck: false }),
      }),
    ),
  },
  {
    name: 'xen-pv-backend-unchecked-grant',
    base: 'xen-pv',
    area: 'network',
    bugClass:
      "Dom0's netback copies a frame from the machine page a request names without checking the front end granted it, reaching another domain's memory",
    reference:
      'Xen Security Advisory XSA-226 (CVE-2017-12135, grant copy through transitive grants reaching memory not properly granted); the grant-table checks of XSA-232 (CVE-2017-14318)',
    property: 'equivalence',
    minimalLength: 2,
    minimalWhy:
      "guest 1 stores a word carrying guest 0's MAC as source in its own memory (one store, the value in a register from the start), and guest 0 transmits from the same offset just past its own memory (OUT 0x52, EAX = that address), which in the host is guest 1's page: bare metal fetches nothing there and sends nothing, the unchecked back end copies guest 1's word and sends it. Guest 1's memory holds no such word at boot, and the back end drops a frame whose source is not guest 0's: 2",
    target: machine(
      composeDesign({
        ...xenPv,
        name: 'xen-pv-backend-unchecked-grant',
        description: "xen-pv whose netback copies frames without checking the front end's grant",
        network: splitBackEnd({ grantCheck: false }),
      }),
    ),
  },
]);
