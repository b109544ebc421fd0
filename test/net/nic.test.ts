/**
 * The reference network card (model/nic.ts) register by register, with expectations from its
 * definition there (a station-address filter with broadcast and promiscuous mode, a bounded
 * receive queue, read-to-take RX, transmit descriptors), and guests without a card on a network.
 */
import { describe, expect, it } from 'vitest';
import { PRESETS } from '../../model/designs/presets.ts';
import {
  frame,
  frameDst,
  frameSrc,
  idleNic,
  NIC_RX_EMPTY,
  NIC_RX_LIMIT,
  nicAccepts,
  nicArrive,
  nicRead,
  nicWrite,
} from '../../model/index.ts';
import { PROPERTIES } from '../../properties/check.ts';
import { MAC, outcome, scenario, send } from './support.ts';

describe('the network card', () => {
  it('a frame word packs source, destination and payload', () => {
    const f = frame(0x10, 0xff, 0xbeef);
    expect(f).toBe(0x10ff_beef);
    expect([frameSrc(f), frameDst(f)]).toEqual([0x10, 0xff]);
  });

  it('the receive filter: its own MAC and broadcast; anything in promiscuous mode', () => {
    const n = idleNic(0x10);
    expect([nicAccepts(n, frame(1, 0x10)), nicAccepts(n, frame(1, 0xff)), nicAccepts(n, frame(1, 0x11))]).toEqual([
      true,
      true,
      false,
    ]);
    expect(nicAccepts(nicWrite(n, 1, 1), frame(1, 0x11))).toBe(true);
  });

  it('receive: the queue holds 4 frames, RX takes the oldest, empty reads all ones; CONTROL reads the count', () => {
    let n = nicWrite(idleNic(0x10), 1, 0x31 << 8);
    const frames = [1, 2, 3, 4, 5].map((p) => frame(0x20, 0x10, p));
    const msis: (number | undefined)[] = [];
    for (const f of frames) {
      const r = nicArrive(n, f);
      n = r.nic;
      msis.push(r.msi);
    }
    expect(NIC_RX_LIMIT).toBe(4);
    expect(msis).toEqual([0x31, 0x31, 0x31, 0x31, undefined]); // the fifth finds the queue full
    expect(nicRead(n, 1).value).toBe((4 << 16) | (0x31 << 8));
    const first = nicRead(n, 3);
    expect(first.value).toBe(frames[0]);
    expect(first.nic.rx).toEqual(frames.slice(1, 4));
    expect(nicRead(idleNic(0x10), 3).value).toBe(NIC_RX_EMPTY);
  });

  it('transmit: a write queues the descriptor (bits 1:0 ignored) and counts it; MAC writes keep 8 bits', () => {
    const n = nicWrite(nicWrite(idleNic(0x10), 2, 0x8003), 0, 0x1234);
    expect(n.txq).toEqual([0x8000]);
    expect(nicRead(n, 2).value).toBe(1);
    expect(n.mac).toBe(0x34);
  });
});

describe('a guest without a card on a network', () => {
  for (const name of ['ept', 'vmdq', 'passthrough', 'xen-pv'])
    it(`${name}: it has no port; the others' broadcast still reaches the card that exists and the world`, () => {
      const b = frame(MAC[0], 0xff, 1);
      const s0 = scenario(send(0, b));
      const s = {
        ...s0,
        guests: s0.guests.map((g, i) => {
          if (i !== 2) return g;
          const { nic: _none, ...cardless } = g;
          return cardless;
        }),
      };
      const d = PRESETS[name]!;
      const o = outcome(d, s);
      expect(o.rx).toEqual([[], [b], undefined]);
      expect(o.world).toEqual([b]);
      for (const p of Object.values(PROPERTIES)) expect(p.check(d, s, o.trace)).toBeUndefined();
    });
});

describe("SR-IOV: a virtual function's DMA goes through its IOMMU domain", () => {
  it('a descriptor past the guest’s memory is blocked: nothing is sent, the IOMMU logs the fault (VT-d §7.1)', () => {
    const past = 40 * 4096; // guest-physical frame 40: beyond the 32 frames the domain maps
    const s0 = scenario([
      { guest: 0, op: { kind: 'movImm', dst: 0, imm: past } },
      { guest: 0, op: { kind: 'out', port: 0x52 } },
    ]);
    const o = outcome(PRESETS.passthrough!, s0);
    expect(o.world).toEqual([]);
    expect(o.host.io!.iommu.faults).toEqual([{ kind: 'dma', rid: 0x2001, address: past, write: false }]);
  });
});
