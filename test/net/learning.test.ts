/**
 * The learning bridge forwards by what it learned (IEEE 802.1D §7.8: the filtering database's
 * dynamic entries; §7.7.1: a frame is never sent back out of the port it came in by), flooding or
 * sending to the uplink only what it has seen nowhere. Expected routes derived from those rules.
 */
import { composeDesign, ept, frame, NIC_REG, type SwitchPort, switchFrame } from 'hyperprop';
import { describe, expect, it } from 'vitest';
import { fromWorld, outcome, scenario, send, writeReg } from './support.ts';

const ports: SwitchPort[] = [0x10, 0x11, 0x12].map((mac, port) => ({ port, mac, open: true, mirror: false }));
const X = 0x42; // an address no guest port answers to

describe('switchFrame consults learned addresses', () => {
  it('a unicast to an address learned on a guest port goes to that port only', () => {
    const r = switchFrame(ports, 'uplink', frame(0x50, X, 7), false, (m) => (m === X ? 2 : undefined));
    expect(r).toEqual({ ports: [2], uplink: false });
  });
  it('a unicast from a guest to an address learned on the uplink goes to the uplink', () => {
    const r = switchFrame(ports, 0, frame(0x10, X, 7), true, (m) => (m === X ? 'uplink' : undefined));
    expect(r).toEqual({ ports: [], uplink: true }); // not flooded: it is known
  });
  it('a frame from the uplink to an address learned on the uplink is filtered', () => {
    const r = switchFrame(ports, 'uplink', frame(0x50, X, 7), false, (m) => (m === X ? 'uplink' : undefined));
    expect(r).toEqual({ ports: [], uplink: false });
  });
  it('an address learned on the sending port is filtered', () => {
    const r = switchFrame(ports, 1, frame(0x11, X, 7), false, (m) => (m === X ? 1 : undefined));
    expect(r).toEqual({ ports: [], uplink: false });
  });
  it('an address seen nowhere is unknown: to the uplink, or flooded where the structure floods', () => {
    expect(switchFrame(ports, 0, frame(0x10, X, 7), false, () => undefined)).toEqual({ ports: [], uplink: true });
    expect(switchFrame(ports, 0, frame(0x10, X, 7), true, () => undefined)).toEqual({ ports: [1, 2], uplink: true });
  });
  it('a static port entry wins over a learned one', () => {
    const r = switchFrame(ports, 'uplink', frame(0x50, 0x11, 7), false, () => 2);
    expect(r).toEqual({ ports: [1], uplink: false });
  });
});

describe('the bridge learns on the port a source came in by', () => {
  // With forged transmits accepted, guest 0 sends from address X: the bridge learns X on port 0,
  // so a frame from the world to X reaches guest 0's card (before the bridge saw X it would not).
  // Guest 0's card is promiscuous (CONTROL bit 0), so its own filter takes a frame not addressed to 0x10.
  const promiscuous0 = writeReg(0, NIC_REG.CONTROL, 1);
  const forgedAccept = composeDesign({
    ...ept,
    name: 'ept-forged-accept',
    description: 'ept whose bridge accepts forged transmits',
    axes: { ...ept.axes, netPolicy: { forgedTransmits: 'accept' } },
  });
  const toX = frame(0x50, X, 0x1234);
  it('a frame to an unknown address is not delivered to any guest', () => {
    const { rx } = outcome(forgedAccept, scenario([...promiscuous0, ...fromWorld(toX)]));
    expect(rx.every((q) => !q?.includes(toX))).toBe(true);
  });
  it('after guest 0 sent from X, a frame to X reaches guest 0 only', () => {
    const { rx } = outcome(
      forgedAccept,
      scenario([...promiscuous0, ...send(0, frame(X, 0x60, 1)), ...fromWorld(toX, 1)]),
    );
    expect(rx[0]).toContain(toX);
    expect(rx[1]?.includes(toX) ?? false).toBe(false);
    expect(rx[2]?.includes(toX) ?? false).toBe(false);
  });
  it('the correct ept preset (forged transmits rejected) learns nothing from a forged frame', () => {
    const { rx } = outcome(ept, scenario([...promiscuous0, ...send(0, frame(X, 0x60, 1)), ...fromWorld(toX, 1)]));
    expect(rx.every((q) => !q?.includes(toX))).toBe(true);
  });
});
