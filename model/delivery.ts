/**
 * Delivering exceptions and interrupts to the guest kernel through the IDT
 * (SDM Vol. 3A §6.10–§6.15 and the INT n pseudo-code), with the double-fault rules of Table 6-5.
 *
 * Scope: 32-bit interrupt and trap gates. Task gates and 16-bit gates are outside the subset and
 * raise #GP like a bad gate type would; the kernel stack belongs to the harness (see README), so
 * stack switches and pushes never fault.
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
import type { Cpl } from './state.ts';

/** An event to deliver. */
export interface PendingEvent {
  readonly vector: number;
  readonly source: EventSource;
  readonly errorCode?: number;
  /** For #PF: the linear address, written to CR2 when the fault is raised toward the IDT. */
  readonly address?: number;
}

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
  writeDescriptorTypeByte(x, d, d.hi | DESCRIPTOR_ACCESSED);
  const newCpl = (isConformingCode(d.hi) ? cpu.cpl : descriptorDpl(d.hi)) as Cpl;
  x.cpu = {
    ...x.cpu,
    cpl: newCpl,
    cs: ((selector & 0xfffc) | newCpl) >>> 0,
    eflags: type === GATE_INTERRUPT32 ? (x.cpu.eflags & ~EFLAGS.IF) >>> 0 : x.cpu.eflags,
    run: 'running',
    stiShadow: false,
  };
  x.events.push(
    ev.source === 'exception' && hasErrorCode(v)
      ? { vector: v, source: ev.source, errorCode: ev.errorCode ?? 0 }
      : { vector: v, source: ev.source },
  );
};

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
      const second: PendingEvent =
        e.address === undefined
          ? { vector: e.vector, source: 'exception', errorCode: e.errorCode }
          : { vector: e.vector, source: 'exception', errorCode: e.errorCode, address: e.address };
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
      ev = double ? { vector: VEC.DF, source: 'exception', errorCode: 0 } : second;
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
