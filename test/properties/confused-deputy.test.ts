/**
 * Resource control sees the confused deputy: a frame outside the running guest's own memory that
 * changes during its step must be one of the structures the hypervisor keeps for that guest,
 * whoever wrote it — the hypervisor's own handler included (Popek and Goldberg's resource control
 * is about what a guest can make happen, not whose code did the store). Hand witnesses: two
 * designs, each one change from a correct preset, whose handler writes into another guest's
 * memory while serving a guest's hypercall or exit. Before this rule, resource control passed
 * both (it compared only what the guest's own code wrote) and only isolation could notice, once
 * the victim read the frame.
 */
import {
  checkScenario,
  commitGuest,
  composeDesign,
  DEFAULT_GEOMETRY,
  type Design,
  guestView,
  linear,
  type Op,
  PAGE_SIZE,
  PRESETS,
  readWord,
  type Scenario,
  shadow,
  standardHandle,
  step,
  writeWord,
  xenPv,
} from 'hyperprop';
import { describe, expect, it } from 'vitest';
import { type GuestSpec, plainGuestSpec } from '../../generators/reference.ts';

const g = DEFAULT_GEOMETRY;
const plain = (patch: Partial<GuestSpec> = {}): GuestSpec => ({ ...plainGuestSpec(g), ...patch });
const scenario = (guests: GuestSpec[], ...ops: [number, Op][]): Scenario => ({
  geometry: g,
  guests,
  ops: ops.map(([guest, op]) => ({ guest, op })),
});

/**
 * Xen-style PV whose SGDT hypercall copies the result out through the wrong domain's memory (the
 * next domain's: a stale or off-by-one domain pointer in copy_to_guest): the calling guest's buffer
 * stays as it was and another guest's frame at that guest-physical address is overwritten.
 */
const xenPvCopiesToWrongDomain: Design = composeDesign({
  ...xenPv,
  name: 'xen-pv-copies-to-wrong-domain',
  description: "the SGDT hypercall's copy-out lands in the next domain's memory",
  handle: (h, entry) => {
    const self = xenPvCopiesToWrongDomain;
    if (entry.kind !== 'call' || entry.op.kind !== 'sgdt' || h.guests.length < 2)
      return standardHandle(() => self)(h, entry);
    const g0 = h.current;
    const victim = (g0 + 1) % h.guests.length;
    const own = guestView(self, h, g0);
    const other = guestView(self, h, victim);
    // The caller's own CPU state and page tables, the other domain's memory.
    const r = step({ ...own, memory: other.memory }, entry.op);
    return commitGuest(self, h, victim, { ...other, memory: r.machine.memory });
  },
});

/**
 * VT-x with shadow paging whose HLT-exit handler updates a per-guest record (a steal-time or
 * clock page at guest-physical frame 7) through a cached mapping of the wrong guest.
 */
const RECORD_GPA = 7 * PAGE_SIZE;
const shadowRecordToWrongGuest: Design = composeDesign({
  ...shadow,
  name: 'shadow-record-to-wrong-guest',
  description: "the HLT exit handler writes the guest's record into the next guest's memory",
  handle: (h, entry) => {
    const self = shadowRecordToWrongGuest;
    const out = standardHandle(() => self)(h, entry);
    if (entry.kind !== 'exit' || entry.op.kind !== 'hlt' || h.guests.length < 2) return out;
    const victim = (h.current + 1) % h.guests.length;
    const v = guestView(self, out, victim);
    const memory = writeWord(v.memory, RECORD_GPA, (readWord(v.memory, RECORD_GPA) + 1) >>> 0);
    return commitGuest(self, out, victim, { ...v, memory });
  },
});

describe('resource control sees the confused deputy', () => {
  // Guest 0 at CPL 0 (a PV guest kernel's SGDT is a hypercall) stores the GDTR at data page (1,1).
  const hypercall = scenario([plain(), plain()], [0, { kind: 'sgdt', va: linear(1, 1) }]);
  // Guest 0 halts (an exit under VT-x); IF = 0 at boot, so it stays halted.
  const exit = scenario([plain(), plain()], [0, { kind: 'hlt' }]);

  it("a hypervisor that writes another guest's frame while serving a hypercall fails at that step", () => {
    const f = checkScenario(xenPvCopiesToWrongDomain, 'resource-control', hypercall);
    expect(f?.step).toBe(0);
    expect(f?.message).toMatch(/guest 1's frame/);
    expect(checkScenario(PRESETS['xen-pv']!, 'resource-control', hypercall)).toBeUndefined();
  });

  it("a hypervisor that writes another guest's frame while handling an exit fails at that step", () => {
    const f = checkScenario(shadowRecordToWrongGuest, 'resource-control', exit);
    expect(f?.step).toBe(0);
    expect(f?.message).toMatch(/guest 1's frame/);
    expect(checkScenario(PRESETS.shadow!, 'resource-control', exit)).toBeUndefined();
  });

  it('changes to the structures the hypervisor keeps for the running guest are its own bookkeeping', () => {
    // A store to a page-table page under shadow paging: the shadow tables (in guest 0's pool) change.
    const tableWrite = scenario(
      [plain({ regs: [0x0000_6007, 0, 0, 0] }), plain()],
      [0, { kind: 'load', dst: 1, va: linear(0, 2) }],
      [0, { kind: 'store', va: linear(0, 0, 2), src: 0 }],
    );
    for (const d of ['shadow', 'bt', 'xen-pv', 'classic'])
      expect(checkScenario(PRESETS[d]!, 'resource-control', tableWrite), d).toBeUndefined();
  });
});
