/**
 * The ISA semantics: `step(machine, op)`, one pure function used both as the bare-metal
 * reference and (later) as the host CPU. Each instruction follows its Intel SDM Vol. 2
 * pseudo-code for protected mode with CR4 = 0 (no VME/PVI, no PSE/PAE, no SMEP/SMAP).
 */
import { CR0, CR0_DEFINED, EFLAGS, iopl, parityEven, STATUS_FLAGS, TIMER_VECTOR, VEC } from './bits.ts';
import { bootStack } from './boot.ts';
import { CANONICAL, type Chooser, enumerateChoices } from './choice.ts';
import { deliver, deliverOnce, type PendingEvent } from './delivery.ts';
import {
  DESCRIPTOR_ACCESSED,
  descriptorBase,
  descriptorDpl,
  descriptorLimit,
  descriptorPresent,
  descriptorType,
  isCode,
  isCodeOrData,
  isConformingCode,
  type RawDescriptor,
  readDescriptor,
  typeBit1,
  writeDescriptorTypeByte,
} from './descriptors.ts';
import { type DmaPort, decodeDmaPort, dmaComplete, dmaRead, dmaWrite, msiVector } from './devices.ts';
import { IRET_OP_PUSHES, MOV_R32_IMM32_BYTES, opBytes, PUSH_IMM32_BYTES } from './encoding.ts';
import {
  bareMetal,
  type Delivered,
  type Exec,
  type ExitInfo,
  fault,
  finishExec,
  gp,
  type Hardware,
  isFault,
  isVmExit,
  readBytes,
  readU32,
  startExec,
  vmexit,
  writeBytes,
  writeU32,
} from './exec.ts';
import { pageNumber } from './geometry.ts';
import { decodeNicPort, nicRead, nicWrite } from './nic.ts';
import { type Op, opProblem } from './ops.ts';
import { checkReturnStack, markStackSegmentAccessed, pushWords } from './stack.ts';
import type { Cpl, Cpu, Machine, Reg, Registers } from './state.ts';
import { tlbFlush, tlbInvalidatePage } from './tlb.ts';

export type {
  Delivered,
  EventSource,
  ExitControls,
  ExitInfo,
  Hardware,
  PhysicalAccess,
  PhysicalPort,
} from './exec.ts';
export { bareMetal, isVmExit, vmexit } from './exec.ts';

/**
 * What a step did, as the guest kernel can tell:
 * - `retired`: the instruction completed;
 * - `faulted`: it raised an exception (delivered, see `events`);
 * - `event`: a non-instruction event (a timer tick) happened;
 * - `halted`: the processor is halted (HLT) and did not execute the instruction;
 * - `shutdown`: a triple fault shut the processor down (it stays so);
 * - `exit`: control left for the hypervisor (`exit` says why, `exitPhase` when); only on hardware
 *   with exit controls or a port that refuses accesses, never on bare metal;
 * - `invalid-op`: the operation is outside the modelled subset (`problem` says why); nothing changed.
 */
export type Status = 'retired' | 'faulted' | 'event' | 'halted' | 'shutdown' | 'exit' | 'invalid-op';

/** The outcome of one step: its status and the events delivered to the kernel, in order. */
export interface Outcome {
  readonly status: Status;
  readonly events: readonly Delivered[];
  readonly problem?: string;
  readonly exit?: ExitInfo;
  /**
   * Where the exit happened: while executing the operation (or delivering the exception it
   * raised: the operation has not completed), or at the boundary after it completed, while
   * delivering a pending interrupt.
   */
  readonly exitPhase?: 'instruction' | 'boundary';
}

/** One permitted behaviour of a step: the next machine and what the guest saw. */
export interface Successor {
  readonly machine: Machine;
  readonly outcome: Outcome;
}

/**
 * The canonical behaviour of `op` on `machine`: the one a processor with no TLB and no caching
 * would show. Total and pure: it never throws and never changes its input.
 */
export const step = (machine: Machine, op: Op): Successor => stepWith(machine, op, CANONICAL);

/**
 * Every behaviour the architecture permits for `op` on `machine`, canonical first
 * (stale TLB entries and cached PDEs, accessed flags of faulting walks, undefined result bits).
 * A checker tests membership of an observed behaviour in this set.
 */
export const permitted = (machine: Machine, op: Op): readonly Successor[] =>
  enumerateChoices((c) => stepWith(machine, op, c));

const bareMetalByFrames = new Map<number, Hardware>();
const defaultHardware = (m: Machine): Hardware => {
  let hw = bareMetalByFrames.get(m.geometry.frames);
  if (!hw) {
    hw = bareMetal(m.geometry.frames);
    bareMetalByFrames.set(m.geometry.frames, hw);
  }
  return hw;
};

/**
 * One behaviour of `op` on `machine`, with `chooser` resolving every architectural choice, on
 * the given hardware (bare metal with the machine's installed frames by default).
 */
export const stepWith = (
  machine: Machine,
  op: Op,
  chooser: Chooser,
  hw: Hardware = defaultHardware(machine),
): Successor => {
  const problem = opProblem(op);
  if (problem !== undefined) return { machine, outcome: { status: 'invalid-op', events: [], problem } };
  // A real interrupt the hypervisor owns leaves even a shut-down guest (it is not the guest's to take).
  if (op.kind === 'timer' && hw.exits?.externalInterrupt)
    return {
      machine,
      outcome: {
        status: 'exit',
        events: [],
        exit: { reason: 'external-interrupt', vector: TIMER_VECTOR },
        exitPhase: 'instruction',
      },
    };
  if (machine.cpu.run === 'shutdown') return { machine, outcome: { status: 'shutdown', events: [] } };
  const x = startExec(machine, chooser, hw);
  let status: Status;
  let phase: 'instruction' | 'boundary' = 'instruction';
  try {
    if (op.kind === 'timer') {
      raiseInterrupt(x, TIMER_VECTOR);
      status = 'event';
    } else if (op.kind === 'dmaComplete') {
      completeDevice(x, op.device);
      status = 'event';
    } else if (op.kind === 'frameIn') {
      status = 'event'; // the wire's business, not this machine's (ops.ts)
    } else if (x.cpu.run === 'halted') {
      return { machine, outcome: { status: 'halted', events: [] } };
    } else {
      if (hw.exits?.instruction?.(op, x.cpu)) throw vmexit({ reason: 'instruction', op });
      // The STI shadow covers exactly the instruction after STI (SDM STI): consume it now.
      if (x.cpu.stiShadow) x.cpu = { ...x.cpu, stiShadow: false };
      try {
        execute(x, op);
        // EIP moves past the operation's encoding (encoding.ts); INT n and IRET set it themselves.
        if (op.kind !== 'int' && op.kind !== 'iret') x.cpu = { ...x.cpu, eip: (machine.cpu.eip + opBytes(op)) >>> 0 };
        status = 'retired';
      } catch (e) {
        if (!isFault(e)) throw e;
        status = 'faulted';
        // A fault's frame saves the EIP of the instruction that raised it.
        deliver(
          x,
          e.address === undefined
            ? { vector: e.vector, source: 'exception', errorCode: e.errorCode, eip: x.ip }
            : { vector: e.vector, source: 'exception', errorCode: e.errorCode, address: e.address, eip: x.ip },
        );
      }
    }
    phase = 'boundary';
    interruptBoundary(x);
  } catch (e) {
    if (!isVmExit(e)) throw e;
    return { machine: finishExec(x), outcome: { status: 'exit', events: x.events, exit: e.info, exitPhase: phase } };
  }
  if (x.cpu.run === 'shutdown') status = 'shutdown';
  return { machine: finishExec(x), outcome: { status, events: x.events } };
};

/**
 * Deliver the machine's pending external interrupts that its EFLAGS.IF and STI shadow allow, as
 * at an instruction boundary: how a hypervisor's event injection on VM entry behaves.
 */
export const deliverPending = (machine: Machine, hw: Hardware = defaultHardware(machine)): Successor =>
  atBoundary(machine, hw, interruptBoundary);

/**
 * Run `deliverAt` on `machine` at an instruction boundary: what it delivers is the successor's
 * events; a VM exit it raises (a delivery the hypervisor intercepts) is the successor's exit.
 */
const atBoundary = (machine: Machine, hw: Hardware, deliverAt: (x: Exec) => void): Successor => {
  const x = startExec(machine, CANONICAL, hw);
  try {
    deliverAt(x);
  } catch (e) {
    if (!isVmExit(e)) throw e;
    return {
      machine: finishExec(x),
      outcome: { status: 'exit', events: x.events, exit: e.info, exitPhase: 'boundary' },
    };
  }
  return {
    machine: finishExec(x),
    outcome: { status: x.cpu.run === 'shutdown' ? 'shutdown' : 'event', events: x.events },
  };
};

/**
 * An event a hypervisor injects, as VM entry delivers it (SDM Vol. 3C §27.6.1, the VM-entry
 * interruption-information field): an external interrupt, a hardware exception (with its error
 * code when the vector has one; for #PF the linear address the hypervisor puts in CR2 first), or a
 * software interrupt (INT n of `instructionLength` bytes at EIP: the frame saves the address past
 * it, a fault while delivering it points at it). Delivered at the instruction boundary, as if the
 * event arose there: through the guest's IDT, onto the guest's stack, with Table 6-5's rules.
 */
export interface InjectedEvent {
  readonly vector: number;
  readonly type: 'external' | 'hardware-exception' | 'software-interrupt';
  readonly errorCode?: number;
  readonly address?: number;
  readonly instructionLength?: number;
}

/** Deliver an injected event (`InjectedEvent`) on `machine`. */
export const deliverEvent = (
  machine: Machine,
  ev: InjectedEvent,
  hw: Hardware = defaultHardware(machine),
): Successor => {
  if (machine.cpu.run === 'shutdown') return { machine, outcome: { status: 'shutdown', events: [] } };
  const eip = machine.cpu.eip;
  const pending: PendingEvent =
    ev.type === 'external'
      ? { vector: ev.vector, source: 'external' }
      : ev.type === 'software-interrupt'
        ? { vector: ev.vector, source: 'software', eip: (eip + (ev.instructionLength ?? 2)) >>> 0, restartEip: eip }
        : {
            vector: ev.vector,
            source: 'exception',
            errorCode: ev.errorCode ?? 0,
            ...(ev.address === undefined ? {} : { address: ev.address >>> 0 }),
          };
  return atBoundary(machine, hw, (x) => deliver(x, pending));
};

/** Mark an external interrupt vector pending. */
const raiseInterrupt = (x: Exec, vector: number) => {
  if (x.cpu.pending.includes(vector)) return;
  x.cpu = { ...x.cpu, pending: [...x.cpu.pending, vector].sort((a, b) => a - b) };
};

/**
 * At an instruction boundary, deliver pending external interrupts, highest vector first, while
 * EFLAGS.IF = 1 and no STI shadow blocks them (SDM §6.8.1, §6.9). A delivery wakes a halted CPU.
 */
const interruptBoundary = (x: Exec) => {
  x.translations.clear(); // a new instruction boundary
  while (x.cpu.run !== 'shutdown' && x.cpu.pending.length > 0 && x.cpu.eflags & EFLAGS.IF && !x.cpu.stiShadow) {
    const vector = x.cpu.pending[x.cpu.pending.length - 1]!;
    // Acknowledged only once delivered: an exit during delivery leaves it pending (for re-injection).
    deliver(x, { vector, source: 'external' });
    x.cpu = { ...x.cpu, pending: x.cpu.pending.filter((v) => v !== vector) };
  }
};

const setReg = (x: Exec, r: Reg, value: number) => {
  const regs = x.cpu.regs.slice() as [number, number, number, number];
  regs[r] = value >>> 0;
  x.cpu = { ...x.cpu, regs: regs as Registers };
};
const update = (x: Exec, patch: Partial<Cpu>) => {
  x.cpu = { ...x.cpu, ...patch };
};
const setFlag = (eflags: number, flag: number, on: boolean) => (on ? eflags | flag : eflags & ~flag) >>> 0;

/** Privileged instructions raise #GP(0) unless CPL = 0 (SDM Vol. 3A §5.9). */
const requireCpl0 = (x: Exec) => {
  if (x.cpu.cpl !== 0) throw gp(0);
};
/** IOPL-sensitive instructions raise #GP(0) when CPL > IOPL (SDM Vol. 1 §18.5.1, Vol. 3A §2.8.1). */
const requireIopl = (x: Exec) => {
  if (x.cpu.cpl > iopl(x.cpu.eflags)) throw gp(0);
};
/** Explicit data accesses are user-mode accesses at CPL 3 (SDM §4.6). */
const userMode = (x: Exec) => x.cpu.cpl === 3;

/**
 * The EFLAGS an image loads into, by POPF or IRET at `cpl` (SDM POPF/IRET operation):
 * status flags, DF, AC and ID always; IF only when CPL <= IOPL; IOPL only at CPL 0.
 * Reserved bits keep their fixed values (bit 1 reads as 1).
 */
export const loadEflags = (old: number, image: number, cpl: Cpl): number => {
  let mask = STATUS_FLAGS | EFLAGS.DF | EFLAGS.AC | EFLAGS.ID;
  if (cpl === 0) mask |= EFLAGS.IF | EFLAGS.IOPL;
  else if (cpl <= iopl(old)) mask |= EFLAGS.IF;
  return ((old & ~mask) | (image & mask) | EFLAGS.RESERVED1) >>> 0;
};

/** Status flags of a 32-bit ADD (SDM ADD; flags per Vol. 1 Appendix A). */
export const addFlags = (a: number, b: number): { result: number; flags: number } => {
  const result = (a + b) >>> 0;
  let f = 0;
  if (a + b > 0xffff_ffff) f |= EFLAGS.CF;
  if (parityEven(result)) f |= EFLAGS.PF;
  if ((a ^ b ^ result) & 0x10) f |= EFLAGS.AF;
  if (result === 0) f |= EFLAGS.ZF;
  if (result & 0x8000_0000) f |= EFLAGS.SF;
  if (((a ^ result) & (b ^ result)) >>> 31) f |= EFLAGS.OF;
  return { result, flags: f };
};

const u16le = (b: readonly number[], i: number) => b[i]! | (b[i + 1]! << 8);

/** Read the 6-byte pseudo-descriptor of LGDT/LIDT (32-bit operand size: a 32-bit base). */
const readPseudoDescriptor = (x: Exec, va: number) => {
  const b = readBytes(x, va, 6, userMode(x));
  return { limit: u16le(b, 0), base: (u16le(b, 2) | (u16le(b, 4) << 16)) >>> 0 };
};
const writePseudoDescriptor = (x: Exec, va: number, t: { base: number; limit: number }) =>
  writeBytes(
    x,
    va,
    [
      t.limit & 0xff,
      (t.limit >>> 8) & 0xff,
      t.base & 0xff,
      (t.base >>> 8) & 0xff,
      (t.base >>> 16) & 0xff,
      t.base >>> 24,
    ],
    userMode(x),
  );

/** The descriptor a selector names for LAR/LSL/VERR/VERW, or undefined for a null selector or one past the limit. */
const lookupForCheck = (x: Exec, selector: number): RawDescriptor | undefined =>
  (selector & 0xfffc) === 0 ? undefined : readDescriptor(x, selector);

/** DPL >= CPL and DPL >= RPL, waived for conforming code (SDM LAR/LSL/VERR/VERW). */
const privilegeAllows = (x: Exec, hi: number, selector: number) =>
  isConformingCode(hi) || (descriptorDpl(hi) >= x.cpu.cpl && descriptorDpl(hi) >= (selector & 3));

/** CR0 as software reads it: hypervisor-owned bits come from the read shadow (VMX), the rest from CR0. */
const visibleCr0 = (x: Exec): number => {
  const mask = x.hw.exits?.cr0Mask ?? 0;
  return ((x.cpu.cr0 & ~mask) | ((x.hw.exits?.cr0ReadShadow ?? 0) & mask)) >>> 0;
};

const LAR_SYSTEM_TYPES = [1, 2, 3, 4, 5, 9, 0xb, 0xc];
const LSL_SYSTEM_TYPES = [1, 2, 3, 9, 0xb];

const execute = (x: Exec, op: Op): void => {
  const cpu = x.cpu;
  switch (op.kind) {
    case 'movImm':
      return setReg(x, op.dst, op.imm);
    case 'add': {
      const { result, flags } = addFlags(cpu.regs[op.dst], cpu.regs[op.src]);
      setReg(x, op.dst, result);
      return update(x, { eflags: ((x.cpu.eflags & ~STATUS_FLAGS) | flags) >>> 0 });
    }
    case 'load':
      return setReg(x, op.dst, readU32(x, op.va, userMode(x)));
    case 'store':
      return writeU32(x, op.va, cpu.regs[op.src], userMode(x));

    case 'movToCr0': {
      x.ip = (cpu.eip + MOV_R32_IMM32_BYTES) >>> 0; // MOV ESI, imm32 retired; MOV CR0, ESI executes
      requireCpl0(x);
      const v = op.value >>> 0;
      // VMX: a write that changes a hypervisor-owned bit from its read shadow exits (SDM Vol. 3C §26.1.3).
      const mask = x.hw.exits?.cr0Mask ?? 0;
      if (((v ^ (x.hw.exits?.cr0ReadShadow ?? 0)) & mask) !== 0) throw vmexit({ reason: 'instruction', op });
      // SDM MOV CR: #GP(0) for PG = 1 with PE = 0, or NW = 1 with CD = 0.
      if ((v & CR0.PG && !(v & CR0.PE)) || (v & CR0.NW && !(v & CR0.CD))) throw gp(0);
      // VMX: a write that does not exit leaves the hypervisor-owned bits of CR0 unmodified (SDM Vol. 3C §26.3).
      const cr0 = ((((v & CR0_DEFINED) | CR0.ET) & ~mask) | (cpu.cr0 & mask)) >>> 0;
      // Changing CR0.PG invalidates all TLB entries (SDM §4.10.4.1); CR0.WP is applied at use.
      const flush = ((cr0 ^ cpu.cr0) & CR0.PG) !== 0;
      update(x, { cr0 });
      if (flush) x.tlb = tlbFlush(x.tlb);
      x.translations.clear(); // CR0.WP applies to every later access
      return;
    }
    case 'movToCr3':
      x.ip = (cpu.eip + MOV_R32_IMM32_BYTES) >>> 0; // MOV ESI, imm32 retired; MOV CR3, ESI executes
      requireCpl0(x);
      update(x, { cr3: op.value >>> 0 });
      x.tlb = tlbFlush(x.tlb);
      x.translations.clear();
      return;
    case 'movFromCr':
      requireCpl0(x);
      return setReg(x, op.dst, op.cr === 0 ? visibleCr0(x) : op.cr === 2 ? cpu.cr2 : cpu.cr3);
    case 'clts':
      requireCpl0(x);
      return update(x, { cr0: (cpu.cr0 & ~CR0.TS) >>> 0 });
    case 'invlpg':
      requireCpl0(x);
      x.tlb = tlbInvalidatePage(x.tlb, pageNumber(op.va));
      x.translations.clear();
      return;
    case 'cli':
      requireIopl(x);
      return update(x, { eflags: setFlag(cpu.eflags, EFLAGS.IF, false) });
    case 'sti':
      requireIopl(x);
      // STI from IF = 0 blocks interrupts until after the next instruction (SDM STI).
      return update(x, { eflags: setFlag(cpu.eflags, EFLAGS.IF, true), stiShadow: !(cpu.eflags & EFLAGS.IF) });
    case 'hlt':
      requireCpl0(x);
      return update(x, { run: 'halted' });
    case 'lgdt':
      requireCpl0(x);
      return update(x, { gdtr: readPseudoDescriptor(x, op.va) });
    case 'lidt':
      requireCpl0(x);
      return update(x, { idtr: readPseudoDescriptor(x, op.va) });
    case 'lldt': {
      requireCpl0(x);
      const sel = cpu.regs[op.src] & 0xffff;
      // SDM LLDT: a null selector marks LDTR invalid; otherwise a present LDT descriptor in the GDT.
      if ((sel & 0xfffc) === 0) return update(x, { ldtr: { selector: sel, base: 0, limit: 0 } });
      if (sel & 4) throw gp(sel & 0xfffc);
      const d = readDescriptor(x, sel);
      if (!d || isCodeOrData(d.hi) || descriptorType(d.hi) !== 2) throw gp(sel & 0xfffc);
      if (!descriptorPresent(d.hi)) throw fault(VEC.NP, sel & 0xfffc);
      return update(x, {
        ldtr: { selector: sel, base: descriptorBase(d.lo, d.hi), limit: descriptorLimit(d.lo, d.hi) },
      });
    }
    case 'ltr': {
      requireCpl0(x);
      const sel = cpu.regs[op.src] & 0xffff;
      // SDM LTR: an available TSS descriptor in the GDT, which LTR marks busy.
      if ((sel & 0xfffc) === 0) throw gp(0);
      if (sel & 4) throw gp(sel & 0xfffc);
      const d = readDescriptor(x, sel);
      const type = d ? descriptorType(d.hi) : -1;
      if (!d || isCodeOrData(d.hi) || (type !== 1 && type !== 9)) throw gp(sel & 0xfffc);
      if (!descriptorPresent(d.hi)) throw fault(VEC.NP, sel & 0xfffc);
      writeDescriptorTypeByte(x, d, d.hi | (2 << 8));
      return update(x, { tr: { selector: sel, base: descriptorBase(d.lo, d.hi), limit: descriptorLimit(d.lo, d.hi) } });
    }
    case 'in':
      // No I/O permission bitmap in the model's TSS: CPL > IOPL always faults (see README).
      requireIopl(x);
      return setReg(x, 0, portRead(x, op.port));
    case 'out':
      requireIopl(x);
      return portWrite(x, op.port, cpu.regs[0]);

    case 'sgdt':
      return writePseudoDescriptor(x, op.va, cpu.gdtr);
    case 'sidt':
      return writePseudoDescriptor(x, op.va, cpu.idtr);
    case 'sldt':
      // 32-bit register destination: the high 16 bits are cleared on P6 and later (SDM SLDT).
      return setReg(x, op.dst, cpu.ldtr.selector & 0xffff);
    case 'str':
      return setReg(x, op.dst, cpu.tr.selector & 0xffff);
    case 'smsw':
      // 16-bit register form: CR0[15:0] into the low word, the high word unchanged (SDM SMSW).
      return setReg(x, op.dst, (cpu.regs[op.dst] & 0xffff_0000) | (visibleCr0(x) & 0xffff));
    case 'pushf': {
      // PUSHFD pushes EFLAGS & 00FCFFFFH (RF and VM cleared; neither is ever set here) at ESP-4;
      // POP r32 reads it back: the word stays below ESP, which ends where it began.
      const image = (cpu.eflags & 0x00fc_ffff) >>> 0;
      pushWords(x, cpu.esp, [{ value: image }], userMode(x));
      return setReg(x, op.dst, image);
    }
    case 'popf':
      // PUSH imm32 writes the image at ESP-4; POPFD (5 bytes on) loads it back, ESP where it began.
      pushWords(x, cpu.esp, [{ value: op.image }], userMode(x));
      x.ip = (cpu.eip + PUSH_IMM32_BYTES) >>> 0;
      return update(x, { eflags: loadEflags(cpu.eflags, op.image, cpu.cpl) });
    case 'movFromCs':
      return setReg(x, op.dst, cpu.cs & 0xffff);
    case 'lar':
    case 'lsl': {
      const sel = cpu.regs[op.src] & 0xffff;
      const d = lookupForCheck(x, sel);
      const types = op.kind === 'lar' ? LAR_SYSTEM_TYPES : LSL_SYSTEM_TYPES;
      const ok =
        d !== undefined &&
        (isCodeOrData(d.hi) || types.includes(descriptorType(d.hi))) &&
        privilegeAllows(x, d.hi, sel);
      update(x, { eflags: setFlag(x.cpu.eflags, EFLAGS.ZF, ok) });
      if (!ok || !d) return;
      if (op.kind === 'lsl') return setReg(x, op.dst, descriptorLimit(d.lo, d.hi));
      // SDM LAR: the second doubleword masked by 00FxFF00H; bits 19:16 are left undefined, and
      // implementations return either 0 or the limit bits there.
      const limitBits = d.hi & 0x000f_0000;
      const undefinedBits = limitBits !== 0 && x.chooser.choose(2, { kind: 'undefined-bits' }) === 1 ? limitBits : 0;
      return setReg(x, op.dst, (d.hi & 0x00f0_ff00) | undefinedBits);
    }
    case 'verr':
    case 'verw': {
      const sel = cpu.regs[op.src] & 0xffff;
      const d = lookupForCheck(x, sel);
      let ok = false;
      if (d && isCodeOrData(d.hi)) {
        if (op.kind === 'verr') ok = (!isCode(d.hi) || typeBit1(d.hi)) && privilegeAllows(x, d.hi, sel);
        else ok = !isCode(d.hi) && typeBit1(d.hi) && privilegeAllows(x, d.hi, sel);
      }
      return update(x, { eflags: setFlag(x.cpu.eflags, EFLAGS.ZF, ok) });
    }

    case 'int':
      if (x.hw.exits?.softwareInterrupt) throw vmexit({ reason: 'software-interrupt', vector: op.vector });
      // INT n: a software interrupt through the IDT, saving the EIP past the instruction; a bad
      // gate or a fault while pushing faults the instruction itself.
      return deliverOnce(x, { vector: op.vector, source: 'software', eip: (cpu.eip + opBytes(op)) >>> 0 }, 0);
    case 'iret':
      return iretOp(x, op.cs, op.eflags, (cpu.eip + opBytes(op)) >>> 0);
    case 'ud2':
      throw fault(VEC.UD);
    case 'timer':
    case 'dmaComplete':
    case 'frameIn':
      return; // events: handled in stepWith
  }
};

/** The value IN reads: the hardware's port bus, then the machine's DMA engines; a port nothing decodes floats high. */
const portRead = (x: Exec, port: number): number => {
  const bus = x.hw.ports?.read(port, x.memory);
  if (bus !== undefined) return bus >>> 0;
  const at = decodeDmaPort(port, x.devices?.length ?? 0);
  if (at) return dmaRead(x.devices![at.device]!, at.reg);
  const reg = x.nic ? decodeNicPort(port) : undefined;
  if (reg === undefined || !x.nic) return 0xffff_ffff;
  const r = nicRead(x.nic, reg);
  x.nic = r.nic;
  return r.value;
};

/** OUT: to the hardware's port bus, or a DMA engine's register; a port nothing decodes drops the write. */
const portWrite = (x: Exec, port: number, value: number): void => {
  const bus = x.hw.ports?.write(port, value, x.memory);
  if (bus !== undefined) {
    x.memory = bus;
    return;
  }
  const at = decodeDmaPort(port, x.devices?.length ?? 0);
  if (at) {
    x.devices = x.devices!.map((e, i) => (i === at.device ? dmaWrite(e, at.reg, value) : e));
    return;
  }
  const reg = x.nic ? decodeNicPort(port) : undefined;
  if (reg !== undefined && x.nic) x.nic = nicWrite(x.nic, reg, value);
};

/** Bus addresses without an IOMMU: memory addresses. */
const NO_IOMMU: DmaPort = (_device, address) => address;

/**
 * A device's DMA completes (devices.ts): the word moves through the hardware's DMA port, and the
 * MSI becomes a pending external interrupt, or, where the hypervisor owns external interrupts,
 * an exit (with the IOMMU's fault report when it blocked the transfer).
 */
const completeDevice = (x: Exec, device: number): void => {
  const engines = x.devices ?? [];
  const e = engines[device];
  if (!e?.job) return;
  const job = e.job;
  const r = dmaComplete(e, device, x.memory, x.hw.dma ?? NO_IOMMU);
  if (!r) return;
  x.memory = r.memory;
  x.devices = engines.map((d, i) => (i === device ? r.engine : d));
  if (x.hw.exits?.externalInterrupt && (r.message !== undefined || r.request !== undefined || r.blocked))
    throw vmexit({
      reason: 'device-interrupt',
      device,
      ...(r.msi === undefined ? {} : { vector: r.msi }),
      ...(r.message === undefined ? {} : { message: r.message }),
      ...(r.request === undefined ? {} : { request: r.request }),
      ...(r.blocked ? { blocked: { address: job.address, write: job.toMemory } } : {}),
    });
  // No remapping hardware here: a message is read as compatibility format (devices.ts msiVector).
  for (const m of [r.request, r.message]) {
    const v = m && msiVector(m);
    if (v !== undefined) raiseInterrupt(x, v);
  }
};

/**
 * The `iret` operation (ops.ts): five PUSH imm32 build an IRET frame on the current stack — the
 * standard stack of the return ring (boot.ts `bootStack`: SS, ESP), the EFLAGS image, CS, and the
 * EIP past the operation — then IRETD returns through it. Each PUSH is an instruction of its own:
 * a fault in one leaves the pushes before it done (ESP moved, words written).
 */
const iretOp = (x: Exec, cs: number, image: number, next: number) => {
  const outer = bootStack(x.machine.geometry, (cs & 3) as Cpl);
  const words = [outer.ss, outer.esp, image, cs, next];
  const start = x.cpu.eip;
  words.forEach((value, k) => {
    x.ip = (start + k * PUSH_IMM32_BYTES) >>> 0;
    update(x, { esp: pushWords(x, x.cpu.esp, [{ value }], userMode(x)) });
  });
  x.ip = (start + IRET_OP_PUSHES * PUSH_IMM32_BYTES) >>> 0;
  // IRETD pops EIP, CS and EFLAGS (and at an outer level ESP and SS): the words just pushed.
  iret(x, { eip: next, cs, eflags: image, esp: outer.esp, ss: outer.ss });
};

/**
 * IRET in protected mode without NT (SDM IRET, PROTECTED-MODE-RETURN): the frame's CS is checked
 * against its descriptor, EFLAGS is loaded by the rules of the current CPL, and CPL becomes
 * CS.RPL; a return to an outer level loads SS:ESP from the frame after checking SS
 * (RETURN-TO-OUTER-PRIVILEGE-LEVEL), a return to the same level pops the three words.
 */
const iret = (
  x: Exec,
  frame: {
    readonly eip: number;
    readonly cs: number;
    readonly eflags: number;
    readonly esp: number;
    readonly ss: number;
  },
) => {
  const cpu = x.cpu;
  const cs = frame.cs & 0xffff;
  if ((cs & 0xfffc) === 0) throw gp(0);
  const code = cs & 0xfffc;
  const d = readDescriptor(x, cs);
  if (!d || !isCode(d.hi)) throw gp(code);
  const rpl = (cs & 3) as Cpl;
  if (rpl < cpu.cpl) throw gp(code);
  const dpl = descriptorDpl(d.hi);
  if (isConformingCode(d.hi) ? dpl > rpl : dpl !== rpl) throw gp(code);
  if (!descriptorPresent(d.hi)) throw fault(VEC.NP, code);
  const outer = rpl > cpu.cpl;
  const ss = frame.ss & 0xffff;
  const stack = outer ? checkReturnStack(x, ss, rpl) : undefined;
  writeDescriptorTypeByte(x, d, d.hi | DESCRIPTOR_ACCESSED);
  if (stack) markStackSegmentAccessed(x, stack);
  update(x, {
    eflags: loadEflags(cpu.eflags, frame.eflags, cpu.cpl),
    cpl: rpl,
    cs: (code | rpl) >>> 0,
    eip: frame.eip >>> 0,
    ...(outer ? { ss, esp: frame.esp >>> 0 } : { esp: (cpu.esp + 3 * 4) >>> 0 }),
  });
};
