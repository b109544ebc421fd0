/**
 * Resource control sees the confused deputy: a frame outside the running guest's own memory that
 * changes during its step must be one of the structures the hypervisor keeps for that guest,
 * whoever wrote it — the hypervisor's own handler included (Popek and Goldberg's resource control
 * is about what a guest can make happen, not whose code did the store). Hand witnesses: two
 * designs, each one change from a correct preset, whose handler writes into another guest's
 * memory while serving a guest's hypercall or exit. Before this rule, resource control passed
 * both (it compared only what the guest's own code wrote) and only isolation could notice, once
 * the victim read the frame. (The two designs are catalog mutants, mutants/cpu.ts.)
 */
import { checkScenario, DEFAULT_GEOMETRY, linear, type Op, PRESETS, type Scenario } from 'hyperprop';
import { describe, expect, it } from 'vitest';
import { type GuestSpec, plainGuestSpec } from '../../generators/reference.ts';
import { shadowExitWritesWrongGuest as shadowRecordToWrongGuest, xenPvCopiesToWrongDomain } from '../../mutants/cpu.ts';

const g = DEFAULT_GEOMETRY;
const plain = (patch: Partial<GuestSpec> = {}): GuestSpec => ({ ...plainGuestSpec(g), ...patch });
const scenario = (guests: GuestSpec[], ...ops: [number, Op][]): Scenario => ({
  geometry: g,
  guests,
  ops: ops.map(([guest, op]) => ({ guest, op })),
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
