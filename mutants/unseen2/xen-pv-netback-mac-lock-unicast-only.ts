/**
 * FROZEN: nothing under mutants/unseen2/ changes after its first commit.
 *
 * xen-pv, whose Dom0 bridge enforces the MAC-changes policy on unicast frames only.
 */
import {
  BROADCAST_MAC,
  bridgeLearn,
  carry,
  composeDesign,
  type Design,
  frame,
  frameSrc,
  isPromiscuous,
  NIC_PORT_BASE,
  policyOf,
  splitBackEnd,
  switchFrame,
  xenPv,
} from '../../index.ts';
import { GEOMETRY, guest, type UnseenMutant } from '../unseen/types.ts';

const base = splitBackEnd();

const design: Design = composeDesign({
  ...xenPv,
  name: 'xen-pv-netback-mac-lock-unicast-only',
  description: 'xen-pv, but a guest that changed its MAC under a rejecting policy still gets broadcasts from the wire',
  network: {
    ...base,
    receive: (d, h0, f) => {
      const h = bridgeLearn(h0, frameSrc(f), 'uplink');
      const card = h.net!.card;
      const table = card.kind === 'bridge' ? card.table : [];
      const policy = policyOf(d);
      const ports = h.net!.nics.map((nic, p) => ({
        port: p,
        mac: table.find((e) => e.static && e.port === p)?.mac ?? -1,
        // The flaw: the MAC-changes block is checked where unicast is forwarded, not here.
        open: nic !== undefined,
        mirror: nic !== undefined && policy.promiscuous === 'accept' && isPromiscuous(nic),
      }));
      const learned = (mac: number) => table.find((e) => !e.static && e.mac === mac)?.port;
      return carry(d, h, 'uplink', f, switchFrame(ports, 'uplink', f, false, learned), { byCopy: true });
    },
  },
});

export const xenPvNetbackMacLockUnicastOnly: UnseenMutant = {
  name: 'xen-pv-netback-mac-lock-unicast-only',
  base: 'xen-pv',
  level: 'network',
  area: 'network',
  bugClass: 'a policy enforced on one path (unicast) but not another (broadcast from the uplink)',
  reference:
    'VMware vSphere “MAC address changes: Reject” (the guest receives no frames once its effective MAC differs from its assigned one); Xen’s vif MAC filtering',
  flaw: 'Under a rejecting MAC-changes policy a guest that changed its MAC must receive nothing, but Dom0’s bridge still offers it every broadcast from the wire.',
  property: 'equivalence',
  minimal: 2,
  minimalWhy:
    'The guest changes its MAC (OUT MAC, EAX = 0x44) and a broadcast arrives from the wire (frameIn): 2. Before the change, delivering the broadcast is right.',
  design,
  witness: {
    geometry: GEOMETRY,
    guests: [guest({ nic: 0x11, regs: [0x44, 0, 0, 0] }), guest({ nic: 0x22 })],
    ops: [
      { guest: 0, op: { kind: 'out', port: NIC_PORT_BASE } },
      { guest: 0, op: { kind: 'frameIn', frame: frame(0x33, BROADCAST_MAC) } },
    ],
  },
};
