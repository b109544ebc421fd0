/**
 * Delivering exceptions and interrupts to the guest kernel through the IDT
 * (SDM Vol. 3A §6.10–§6.15 and the INT n pseudo-code), with the double-fault rules of Table 6-5.
 *
 * Delivery writes the frame into guest memory through paging (model/stack.ts): on a change to an
 * inner privilege level, on the stack the TSS names for it (SSn:ESPn), pushing the old SS and ESP
 * first; then EFLAGS, CS, EIP and, for an exception that has one, the error code (Figure 6-4). A
 * fault while pushing (#PF with its CR2 and error code, #TS or #SS for a bad TSS stack) is a
 * fault during delivery: serially, as a double fault, or shutdown, by Table 6-5.
 *
 * Scope: 32-bit interrupt and trap gates. Task gates and 16-bit gates are outside the subset and
 * raise #GP like a bad gate type would. Segment limits are not applied (the CS limit check on the
 * gate's offset, the stack's "room for the frame"): every segment of the subset is flat.
 */
import { EFLAGS, hasErrorCode, VEC } from './bits.ts';
import {
  DESCRIPTOR_ACCESSED,
  descriptorDpl,
  descriptorPresent,
  isCode,
  isConformingCode,
  readDescriptor,
  writeDescriptorTypeByte,
} from './descriptors.ts';
import { type EventSource, type Exec, type ExitInfo, fault, gp, isFault, readBytes, vmexit } from './exec.ts';
import { markStackSegmentAccessed, pushWords, type StackWord, tssStack } from './stack.ts';
import type { Cpl, Cpu } from './state.ts';

/** An event to deliver. */
export interface PendingEvent {
  readonly vector: number;
  readonly source: EventSource;
  readonly errorCode?: number;
  /** For #PF: the linear address, written to CR2 when the fault is raised toward the IDT. */
  readonly address?: number;
  /**
   * The EIP the frame saves (SDM §6.5, §6.6): for a fault, the instruction that raised it; for
   * INT n, the instruction after it; for an interrupt, the next instruction (EIP). Default: EIP.
   */
  readonly eip?: number;
  /**
   * Where a fault met while delivering this event points: the INT n instruction itself for a
   * software interrupt (the fault is the instruction's); `eip` otherwise.
   */
  readonly restartEip?: number;
}

/**
 * Exceptions of the fault class, whose frame saves EFLAGS with RF set (SDM Vol. 3B §17.3.1.1:
 * "For any fault-class exception except a debug exception generated in response to an
 * instruction breakpoint, the value pushed for RF is 1"): every exception vector but #DB, NMI, the
 * traps #BP and #OF, and the aborts #DF and #MC.
 */
export const isFaultClass = (vector: number): boolean => vector < 32 && ![1, 2, 3, 4, 8, 18].includes(vector);

const GATE_INTERRUPT32 = 0x0e;
const GATE_TRAP32 = 0x0f;

/**
 * One delivery attempt; throws the fault it meets. `ext` is the EXT bit for error codes of such
 * faults: set when the event is external to the program (an interrupt or an earlier exception).
 */
export const deliverOnce = (x: Exec, ev: PendingEvent, ext: number): void => {
  const v = ev.vector;
  const cpu = x.cpu;
  const idtCode = v * 8 + 2 + ext; // selector-format error code with the IDT bit (SDM §6.13)
  if (v * 8 + 7 > cpu.idtr.limit) throw gp(idtCode);
  const b = readBytes(x, (cpu.idtr.base + v * 8) >>> 0, 8, false);
  const w0 = (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;
  const w1 = (b[4]! | (b[5]! << 8) | (b[6]! << 16) | (b[7]! << 24)) >>> 0;
  const type = (w1 >>> 8) & 0x1f; // includes the S flag: gates have S = 0
  if (type !== GATE_INTERRUPT32 && type !== GATE_TRAP32) throw gp(idtCode);
  if (ev.source === 'software' && ((w1 >>> 13) & 3) < cpu.cpl) throw gp(idtCode);
  if (!(w1 & 0x8000)) throw fault(VEC.NP, idtCode);
  const selector = w0 >>> 16;
  if ((selector & 0xfffc) === 0) throw gp(ext);
  const d = readDescriptor(x, selector);
  const selCode = (selector & 0xfffc) + ext;
  if (!d || !isCode(d.hi) || descriptorDpl(d.hi) > cpu.cpl) throw gp(selCode);
  if (!descriptorPresent(d.hi)) throw fault(VEC.NP, selCode);
  const newCpl = (isConformingCode(d.hi) ? cpu.cpl : descriptorDpl(d.hi)) as Cpl;
  // The handler's stack (SDM §6.12.1): the TSS's for an inner level, the current one otherwise.
  const stack = newCpl < cpu.cpl ? tssStack(x, newCpl, ext) : undefined;
  const errorCode = ev.source === 'exception' && hasErrorCode(v) ? (ev.errorCode ?? 0) >>> 0 : undefined;
  const esp = pushWords(
    x,
    stack ? stack.esp : cpu.esp,
    frameWords(cpu, ev, stack !== undefined, errorCode),
    newCpl === 3,
  );
  if (stack) markStackSegmentAccessed(x, stack.descriptor);
  writeDescriptorTypeByte(x, d, d.hi | DESCRIPTOR_ACCESSED);
  x.cpu = {
    ...x.cpu,
    cpl: newCpl,
    cs: ((selector & 0xfffc) | newCpl) >>> 0,
    eip: ((w1 & 0xffff_0000) | (w0 & 0xffff)) >>> 0,
    ...(stack ? { ss: stack.ss } : {}),
    esp,
    eflags: type === GATE_INTERRUPT32 ? (x.cpu.eflags & ~EFLAGS.IF) >>> 0 : x.cpu.eflags,
    run: 'running',
    stiShadow: false,
  };
  x.events.push(
    errorCode === undefined ? { vector: v, source: ev.source } : { vector: v, source: ev.source, errorCode },
  );
};

/**
 * The words a 32-bit interrupt or trap gate's delivery pushes, in push order (SDM Vol. 3A Figure
 * 6-4): the interrupted SS and ESP when the stack switches, EFLAGS (RF set for a fault), CS, the
 * saved EIP, and the error code. (IA-32e mode's frame, Figure 6-9, always has SS:RSP, in 8-byte slots.)
 */
export const frameWords = (
  cpu: Cpu,
  ev: PendingEvent,
  switched: boolean,
  errorCode: number | undefined,
): StackWord[] => [
  ...(switched ? [{ value: cpu.ss, selector: true }, { value: cpu.esp }] : []),
  { value: (cpu.eflags | (ev.source === 'exception' && isFaultClass(ev.vector) ? EFLAGS.RF : 0)) >>> 0 },
  { value: cpu.cs, selector: true },
  { value: ev.eip ?? cpu.eip },
  ...(errorCode === undefined ? [] : [{ value: errorCode }]),
];

type Klass = 'benign' | 'contributory' | 'page-fault' | 'double-fault';
const klass = (ev: PendingEvent): Klass => {
  if (ev.source !== 'exception') return 'benign';
  if (ev.vector === VEC.PF) return 'page-fault';
  if (ev.vector === VEC.DF) return 'double-fault';
  return [VEC.DE, VEC.TS, VEC.NP, VEC.SS, VEC.GP].includes(ev.vector as 0) ? 'contributory' : 'benign';
};

/**
 * Deliver an event, handling faults met on the way: serially, as a double fault (Table 6-5),
 * or by shutting down when delivering a double fault itself fails.
 */
export const deliver = (x: Exec, first: PendingEvent): void => {
  let ev = first;
  let during: PendingEvent | undefined;
  for (;;) {
    if (ev.source === 'exception') {
      // An intercepted exception leaves for the hypervisor instead (VMX exception bitmap, or the
      // hypervisor's own IDT); a #PF that exits does not write CR2 (SDM Vol. 3C §27.1).
      if (x.hw.exits?.exception?.(ev.vector)) throw vmexit(exceptionExit(ev, during));
      if (ev.vector === VEC.PF && ev.address !== undefined) x.cpu = { ...x.cpu, cr2: ev.address };
    }
    try {
      deliverOnce(x, ev, ev.source === 'software' ? 0 : 1);
      return;
    } catch (e) {
      if (!isFault(e)) throw e;
      // A fault while delivering points where the event would restart (a fault's frame saves it).
      const at = ev.restartEip ?? ev.eip ?? x.cpu.eip;
      const second: PendingEvent =
        e.address === undefined
          ? { vector: e.vector, source: 'exception', errorCode: e.errorCode, eip: at }
          : { vector: e.vector, source: 'exception', errorCode: e.errorCode, address: e.address, eip: at };
      if (x.hw.exits?.exception?.(second.vector)) throw vmexit(exceptionExit(second, ev));
      if (second.vector === VEC.PF && second.address !== undefined) x.cpu = { ...x.cpu, cr2: second.address };
      during = ev;
      const k1 = klass(ev);
      const k2 = klass(second);
      if (k1 === 'double-fault') {
        x.cpu = { ...x.cpu, run: 'shutdown' };
        return;
      }
      const double =
        (k1 === 'contributory' && k2 === 'contributory') ||
        (k1 === 'page-fault' && (k2 === 'contributory' || k2 === 'page-fault'));
      // #DF is an abort: its saved CS:EIP are undefined (SDM interrupt 8); the model saves the
      // restart point, as Intel processors and QEMU do.
      ev = double ? { vector: VEC.DF, source: 'exception', errorCode: 0, eip: at } : second;
    }
  }
};

const exceptionExit = (ev: PendingEvent, during: PendingEvent | undefined): ExitInfo => ({
  reason: 'exception',
  vector: ev.vector,
  ...(hasErrorCode(ev.vector) ? { errorCode: ev.errorCode ?? 0 } : {}),
  ...(ev.address === undefined ? {} : { address: ev.address }),
  ...(during === undefined ? {} : { during: { vector: during.vector, source: during.source } }),
});
