/**
 * The network checks can fail, each for its own reason, on designs made to break them with the
 * public design API (independent of the mutant catalog): a back end that lets a guest's own
 * operation reprogram the card, one that copies every frame twice, one that delivers to the
 * wrong port; and isolation's declared channel admits exactly the frames addressed to a guest.
 */
import { describe, expect, it } from 'vitest';
import { ept, passthrough } from '../../model/designs/presets.ts';
import { composeDesign, copied, frame, NIC_REG, sriovBackEnd, withNet } from '../../model/index.ts';
import { efficiency } from '../../properties/efficiency.ts';
import { isolation } from '../../properties/isolation.ts';
import { resourceControl } from '../../properties/resource-control.ts';
import { MAC, outcome, scenario, send, writeReg } from './support.ts';

describe('network checks can fail', () => {
  it("resource control: a guest's own (native) operation that reprograms the card's switch entries", () => {
    const be = sriovBackEnd();
    const leaky = composeDesign({
      ...passthrough,
      name: 'vf-reprograms-pf',
      description: 'a VF MAC write reaches the PF-owned switch entry',
      network: {
        ...be,
        configure: (_d, h, g) =>
          h.net?.card.kind === 'sriov'
            ? withNet(h, {
                card: {
                  kind: 'sriov',
                  vfs: h.net.card.vfs.map((vf, i) => (i === g ? { ...vf, mac: h.net!.nics[g]?.mac ?? vf.mac } : vf)),
                },
              })
            : h,
      },
    });
    const s = scenario(writeReg(1, NIC_REG.MAC, MAC[0]));
    const f = resourceControl.check(leaky, s, outcome(leaky, s).trace);
    expect(f?.message).toMatch(/changed the physical card's configuration/);
    expect(resourceControl.check(passthrough, s, outcome(passthrough, s).trace)).toBeUndefined();
  });

  it('efficiency: a bridge that copies each transmitted frame twice', () => {
    const base = ept.network!;
    const wasteful = composeDesign({
      ...ept,
      name: 'double-copy',
      description: 'copies every frame twice',
      network: { ...base, transmit: (d, h, g, a) => base.transmit(d, copied(h), g, a) },
    });
    const s = scenario(send(0, frame(MAC[0], MAC[1], 1)));
    expect(efficiency.check(wasteful, s, outcome(wasteful, s).trace)?.message).toMatch(/copied 3 frame/);
    expect(efficiency.check(ept, s, outcome(ept, s).trace)).toBeUndefined();
  });

  it('isolation: a frame addressed to a guest is its declared channel; one it is shown though addressed to another is not', () => {
    // Guest 2 (promiscuous) then reads its card: only what was addressed to it may depend on guest 0.
    const s = scenario([
      ...writeReg(2, NIC_REG.CONTROL, 1),
      ...send(0, frame(MAC[0], MAC[1], 1)),
      ...send(0, frame(MAC[0], MAC[2], 2)),
      { guest: 2, op: { kind: 'in', port: 0x53 } },
    ]);
    expect(isolation.check(ept, s, outcome(ept, s).trace)).toBeUndefined();
    const promiscuous = composeDesign({
      ...ept,
      name: 'promiscuous-accept',
      description: 'promiscuous policy accept',
      axes: { ...ept.axes, netPolicy: { promiscuous: 'accept' } },
    });
    const f = isolation.check(promiscuous, s, outcome(promiscuous, s).trace);
    expect(f?.guest).toBe(2);
  });
});
