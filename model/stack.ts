/**
 * The stack: pushes at SS:ESP through paging (SDM Vol. 1 §6.2–§6.3), the stack a privilege
 * change switches to (Vol. 3A §6.12.1: SSn:ESPn of the current TSS, Figure 7-2) and the checks a
 * selector must pass to be loaded into SS (INT n and IRET pseudo-code, Vol. 2).
 *
 * Subset, stated: the stack segment is flat (base 0, limit 4 GiB, 32-bit), as every data segment
 * of the standard GDT is. The load-time checks of SS are made (null, table limit, RPL, DPL, type,
 * present) and raise #TS, #SS or #GP as the SDM says; the segment's base and limit are not applied,
 * so a push never raises #SS for the limit (nor does delivery's "room for the frame" check).
 * Slots are `SLOT_BYTES` wide: a 64-bit frame (8-byte slots, SS:RSP always pushed, RSP aligned
 * down to 16 first) is the same `pushWords` with 8, fed by its own frame builder (delivery.ts).
 */
import { VEC } from './bits.ts';
import { TSS_STACK } from './boot.ts';
import {
  DESCRIPTOR_ACCESSED,
  descriptorDpl,
  descriptorPresent,
  isCode,
  isCodeOrData,
  type RawDescriptor,
  readDescriptor,
  typeBit1,
  writeDescriptorTypeByte,
} from './descriptors.ts';
import { type Exec, type Fault, fault, gp, readBytes, translate } from './exec.ts';
import { readWord, writeWord } from './memory.ts';
import type { Cpl } from './state.ts';

/** Bytes of a stack slot in 32-bit protected mode (IA-32e mode's frames use 8). */
export const SLOT_BYTES = 4;

/** A value to push. A segment selector's slot may keep its upper 16 bits (`selector`). */
export interface StackWord {
  /** The value (below 2^53; an 8-byte slot takes its high half from bits 63:32). */
  readonly value: number;
  /**
   * The value is a 16-bit segment selector (CS, SS) pushed into a 32-bit slot: the processor
   * writes it zero-extended or with a 16-bit move that leaves the slot's upper half as it was
   * (SDM Vol. 2 PUSH: "either a zero-extended value is pushed on the stack or the segment
   * selector is written on the stack using a 16-bit move"; Linux's entry_32.S clears `__csh`
   * "in case hardware didn't do this for us"). Zero-extended is canonical.
   */
  readonly selector?: boolean;
}

/**
 * Push `words` in order below `esp` (the first at `esp - slot`) and return the new ESP: the
 * pushes of one instruction or of one event delivery. Each page they touch is translated once,
 * the highest first; a push into a page whose translation faults raises that fault with the
 * pushes above it already written (the SDM's pseudo-code pushes one at a time). `user` selects
 * user-mode accesses (CPL 3, SDM §4.6). `slot` is 4 bytes here; a 64-bit frame passes 8.
 */
export const pushWords = (
  x: Exec,
  esp: number,
  words: readonly StackWord[],
  user: boolean,
  slot: 4 | 8 = SLOT_BYTES,
): number => {
  let sp = esp >>> 0;
  for (const w of words) {
    sp = (sp - slot) >>> 0;
    if (slot === 8) {
      writeSlot(x, (sp + 4) >>> 0, { value: Math.floor(w.value / 0x1_0000_0000) >>> 0 }, user);
      writeSlot(x, sp, { value: w.value >>> 0 }, user);
    } else writeSlot(x, sp, w, user);
  }
  return sp;
};

/**
 * Write one 4-byte slot at linear `va` (the instruction's memo of translations, exec.ts, makes
 * every page translated once per instruction).
 */
const writeSlot = (x: Exec, va: number, w: StackWord, user: boolean): void => {
  // Host-physical address of a byte of the slot, or -1 where no memory answers.
  const pa = (i: number) => translate(x, (va + i) >>> 0, { write: true, user });
  let value = w.value >>> 0;
  if ((va & 3) === 0) {
    const target = pa(0);
    if (target < 0) return;
    if (w.selector) {
      const old = readWord(x.memory, target);
      if (old >>> 16 !== 0 && x.chooser.choose(2, { kind: 'selector-slot' }) === 1)
        value = ((old & 0xffff_0000) | (value & 0xffff)) >>> 0;
    }
    x.memory = writeWord(x.memory, target, value);
    return;
  }
  // A misaligned ESP: the slot's bytes, each where its page maps it (a selector is zero-extended),
  // the upper page translated first (a push writes downward) and both before any byte is written.
  pa(3);
  pa(0);
  for (let i = 0; i < 4; i++) {
    const p = pa(i);
    if (p < 0) continue;
    const shift = (p & 3) * 8;
    const old = readWord(x.memory, p & ~3);
    x.memory = writeWord(x.memory, p & ~3, ((old & ~(0xff << shift)) | (((value >>> (8 * i)) & 0xff) << shift)) >>> 0);
  }
};

/**
 * The checks a selector must pass to become SS at privilege level `dpl` (the RPL and the
 * descriptor's DPL must both be `dpl`; a present, writable data segment), and the descriptor.
 * `bad` is the fault for a selector that fails (#TS for delivery, #GP for IRET), given its error
 * code; a segment not present raises #SS. A null selector is the caller's business.
 */
export const checkStackSegment = (
  x: Exec,
  selector: number,
  dpl: number,
  ext: number,
  bad: (errorCode: number) => Fault,
): RawDescriptor => {
  const code = (selector & 0xfffc) | ext;
  const d = readDescriptor(x, selector);
  if (!d || (selector & 3) !== dpl) throw bad(code);
  if (!isCodeOrData(d.hi) || isCode(d.hi) || !typeBit1(d.hi) || descriptorDpl(d.hi) !== dpl) throw bad(code);
  if (!descriptorPresent(d.hi)) throw fault(VEC.SS, code);
  return d;
};

/** Loading SS sets its descriptor's accessed flag (SDM Vol. 3A §3.4.5.1). */
export const markStackSegmentAccessed = (x: Exec, d: RawDescriptor): void =>
  writeDescriptorTypeByte(x, d, d.hi | DESCRIPTOR_ACCESSED);

/**
 * The stack of an event handler at privilege level `dpl` entered from an outer level: SSn:ESPn of
 * the current TSS, checked as the INT n pseudo-code (INTER-PRIVILEGE-LEVEL-INTERRUPT) says: a TSS
 * too short for them raises #TS(TSS), a null SS #TS(EXT), a bad one #TS(SS), one not present
 * #SS(SS); every error code carries `ext`. The TSS is read through paging (implicit supervisor reads).
 */
export const tssStack = (
  x: Exec,
  dpl: Cpl,
  ext: number,
): { readonly ss: number; readonly esp: number; readonly descriptor: RawDescriptor } => {
  const tr = x.cpu.tr;
  const at = TSS_STACK.ESP0 + dpl * 8;
  // SDM: IF (TSSstackAddress + 5) > current TSS limit THEN #TS(error_code(current TSS selector,0,EXT)).
  if (at + 5 > tr.limit) throw fault(VEC.TS, (tr.selector & 0xfffc) | ext);
  const b = readBytes(x, (tr.base + at) >>> 0, 6, false);
  const esp = (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;
  const ss = b[4]! | (b[5]! << 8);
  if ((ss & 0xfffc) === 0) throw fault(VEC.TS, ext);
  const descriptor = checkStackSegment(x, ss, dpl, ext, (code) => fault(VEC.TS, code));
  return { ss, esp, descriptor };
};

/** The stack an IRET to an outer level returns to, checked as its pseudo-code says (#GP, #SS). */
export const checkReturnStack = (x: Exec, ss: number, rpl: Cpl): RawDescriptor => {
  // SDM IRET (RETURN-TO-OUTER-PRIVILEGE-LEVEL): a null SS is #GP(0); the others #GP(SS), #SS(SS).
  if ((ss & 0xfffc) === 0) throw gp(0);
  return checkStackSegment(x, ss, rpl, 0, gp);
};
