/** The conformance encoder and oracle without QEMU: instruction bytes, kernel layout, and the oracle's judgement of synthetic runs. */
import fc from 'fast-check';
import { bootMachine, INSTRUCTION_KINDS, linear, opBytes, permitted } from 'hyperprop';
import { describe, expect, it } from 'vitest';
import {
  buildKernel,
  checkSequence,
  encodeOp,
  machineEmbedProblem,
  matrixCases,
  type RealSequence,
  summarize,
} from '../../conformance/index.ts';
import { arbOpOfKind } from '../../generators/reference.ts';

describe('the conformance encoder', () => {
  it('encodes operations as the SDM forms the subset names', () => {
    const hex = (b: number[] | undefined) => b?.map((x) => x.toString(16).padStart(2, '0')).join(' ');
    expect(hex(encodeOp({ kind: 'load', dst: 1, va: 0x401008 }, 0))).toBe('8b 0d 08 10 40 00');
    expect(hex(encodeOp({ kind: 'store', va: 0x8, src: 3 }, 0))).toBe('89 1d 08 00 00 00');
    expect(hex(encodeOp({ kind: 'movToCr3', value: 0x2000 }, 0))).toBe('be 00 20 00 00 0f 22 de');
    expect(hex(encodeOp({ kind: 'smsw', dst: 3 }, 0))).toBe('66 0f 01 e3');
    expect(hex(encodeOp({ kind: 'sldt', dst: 2 }, 0))).toBe('0f 00 c2');
    expect(hex(encodeOp({ kind: 'movFromCs', dst: 0 }, 0))).toBe('8c c8');
    expect(hex(encodeOp({ kind: 'lar', dst: 1, src: 0 }, 0))).toBe('0f 02 c8');
    expect(hex(encodeOp({ kind: 'popf', image: 0x202 }, 0))).toBe('68 02 02 00 00 9d');
    expect(hex(encodeOp({ kind: 'pushf', dst: 2 }, 0))).toBe('9c 5a');
    expect(hex(encodeOp({ kind: 'in', port: 0x30 }, 0))).toBe('e5 30');
    expect(hex(encodeOp({ kind: 'invlpg', va: 0x1000 }, 0))).toBe('0f 01 3d 00 10 00 00');
    // IRET to ring 3: SS, ESP, EFLAGS, CS, EIP (the byte after IRETD), IRETD.
    const iret = encodeOp({ kind: 'iret', cs: 0x1b, eflags: 0x202 }, 0x1000)!;
    expect(iret).toHaveLength(26);
    expect(iret.slice(21, 25)).toEqual([0x1a, 0x10, 0, 0]);
    expect(iret[25]).toBe(0xcf);
    expect(encodeOp({ kind: 'timer' }, 0)).toBeUndefined();
  });

  it("places each operation's code in as many bytes as the model's EIP convention says (model/encoding.ts)", () => {
    for (const kind of INSTRUCTION_KINDS)
      for (const op of fc.sample(arbOpOfKind(bootMachine().geometry, kind), { seed: 7, numRuns: 20 }))
        expect(encodeOp(op, 0x1000)?.length, kind).toBe(opBytes(op));
  });

  it('builds a multiboot image with the a.out-kludge header and places every operation', () => {
    const seqs = matrixCases()
      .slice(0, 4)
      .map(() => ({ machine: bootMachine(), ops: [{ kind: 'ud2' as const }] }));
    const k = buildKernel(seqs);
    const dv = new DataView(k.image.buffer);
    expect(dv.getUint32(0, true)).toBe(0x1bad_b002);
    expect((dv.getUint32(0, true) + dv.getUint32(4, true) + dv.getUint32(8, true)) >>> 0).toBe(0);
    expect(k.placements).toHaveLength(4);
    expect(k.placements[0]![0]!.post - k.placements[0]![0]!.at).toBe(2);
    expect(machineEmbedProblem(bootMachine())).toBeUndefined();
    expect(machineEmbedProblem(bootMachine({ cr0: 0x11 }))).toMatch(/PG/);
  });

  it('judges a run that shows a permitted successor as agreeing, and a different one as not', () => {
    const machine = bootMachine({ cpl: 3 });
    const op = { kind: 'load' as const, dst: 1 as const, va: linear(0, 0, 0) }; // a supervisor page at CPL 3: #PF
    const seq = { machine, ops: [op] };
    const k = buildKernel([seq]);
    const place = k.placements[0]![0]!;
    // The harness enters the operation where it placed it: the frame saves that EIP.
    const s = permitted({ ...machine, cpu: { ...machine.cpu, eip: place.at } }, op)[0]!;
    const sum = summarize(machine, s, k.observed);
    const ev = sum.event!;
    const real = (errorCode: number): RealSequence => ({
      index: 0,
      end: 'done',
      steps: [
        {
          op: 0,
          regs: sum.regs as [number, number, number, number],
          eflags: sum.eflags,
          cs: sum.cs,
          esp: sum.esp,
          ss: sum.ss,
          cr0: sum.cr0,
          cr2: sum.cr2,
          cr3: sum.cr3,
          event: { vector: ev.vector, eip: place.at, errorCode },
          changed: sum.changed,
        },
      ],
    });
    expect(ev.vector).toBe(14);
    // The harness's own GDT read may set accessed flags the step itself does not: the oracle allows for it.
    expect(checkSequence(seq, real(ev.errorCode!), k.placements[0]!, k.observed).kind).toBe('agree');
    const wrong = checkSequence(seq, real(ev.errorCode! & ~4), k.placements[0]!, k.observed);
    expect(wrong.kind).toBe('disagree');
  });
});
