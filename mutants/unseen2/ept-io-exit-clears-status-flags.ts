/**
 * FROZEN: nothing under mutants/unseen2/ changes after its first commit.
 *
 * ept, whose I/O exit handler emulates IN/OUT on a vCPU whose arithmetic flags were not saved.
 */
import { composeDesign, type Design, EFLAGS, ept, standardHandle } from '../../index.ts';
import { GEOMETRY, guest, type UnseenMutant } from '../unseen/types.ts';

const STATUS = EFLAGS.CF | EFLAGS.PF | EFLAGS.AF | EFLAGS.ZF | EFLAGS.SF | EFLAGS.OF;

const design: Design = composeDesign({
  ...ept,
  name: 'ept-io-exit-clears-status-flags',
  description: 'ept, but the I/O exit path rebuilds RFLAGS from IF and IOPL only, dropping the guest’s status flags',
  handle: (h, e) =>
    standardHandle(() => design)(
      h,
      e.kind === 'exit' && (e.op.kind === 'in' || e.op.kind === 'out')
        ? { ...e, before: { ...e.before, cpu: { ...e.before.cpu, eflags: (e.before.cpu.eflags & ~STATUS) >>> 0 } } }
        : e,
    ),
});

export const eptIoExitClearsStatusFlags: UnseenMutant = {
  name: 'ept-io-exit-clears-status-flags',
  base: 'ept',
  level: 'machine',
  area: 'CPU',
  bugClass: 'guest register state clobbered by an exit handler (RFLAGS status flags)',
  reference:
    'SDM Vol. 2A IN/OUT (“Flags affected: none”) and Vol. 3C §25.4.1 (RFLAGS is guest state the VM exit saves whole); KVM emulator fixes of the kind “KVM: x86: emulator: preserve flags on …”',
  flaw: 'When IN or OUT exits, the handler emulates it on a vCPU whose CF, PF, AF, ZF, SF and OF were cleared, so the guest resumes with its arithmetic flags lost.',
  property: 'equivalence',
  minimal: 1,
  minimalWhy:
    'One IN that exits (from a port no device decodes), by a guest whose EFLAGS holds a status flag (CF, set in its boot state): bare metal keeps CF, the mutant clears it. Equivalence compares EFLAGS. 1.',
  design,
  witness: {
    geometry: GEOMETRY,
    guests: [guest({ eflags: EFLAGS.CF })],
    ops: [{ guest: 0, op: { kind: 'in', port: 0x80 } }],
  },
};
