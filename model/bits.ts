/**
 * Architectural constants and 32-bit helpers, named as in the Intel SDM.
 * Everything in model/ treats numbers as unsigned 32-bit values (`>>> 0`).
 */

/** Truncate to an unsigned 32-bit value. */
export const u32 = (x: number): number => x >>> 0;

/** EFLAGS bits (SDM Vol. 1 §3.4.3, Vol. 3A §2.3). */
export const EFLAGS = {
  CF: 1 << 0,
  RESERVED1: 1 << 1, // always reads as 1
  PF: 1 << 2,
  AF: 1 << 4,
  ZF: 1 << 6,
  SF: 1 << 7,
  TF: 1 << 8,
  IF: 1 << 9,
  DF: 1 << 10,
  OF: 1 << 11,
  IOPL: 3 << 12,
  NT: 1 << 14,
  RF: 1 << 16,
  VM: 1 << 17,
  AC: 1 << 18,
  VIF: 1 << 19,
  VIP: 1 << 20,
  ID: 1 << 21,
} as const;

/** The arithmetic (status) flags ADD writes. */
export const STATUS_FLAGS = EFLAGS.CF | EFLAGS.PF | EFLAGS.AF | EFLAGS.ZF | EFLAGS.SF | EFLAGS.OF;

/**
 * The EFLAGS bits this model gives meaning to. TF, NT, RF, VM, VIF and VIP are outside the
 * subset: no operation can set them (ops that load EFLAGS images reject them, see ops.ts).
 */
export const MODELED_FLAGS = STATUS_FLAGS | EFLAGS.DF | EFLAGS.IF | EFLAGS.IOPL | EFLAGS.AC | EFLAGS.ID;

/** Bits of an EFLAGS image that POPF/IRET could load but this model does not cover. */
export const UNMODELED_FLAGS = EFLAGS.TF | EFLAGS.NT | EFLAGS.RF | EFLAGS.VM | EFLAGS.VIF | EFLAGS.VIP;

/** IOPL field of an EFLAGS value. */
export const iopl = (eflags: number): number => (eflags >>> 12) & 3;

/** CR0 bits (SDM Vol. 3A §2.5). */
export const CR0 = {
  PE: 1 << 0,
  MP: 1 << 1,
  EM: 1 << 2,
  TS: 1 << 3,
  ET: 1 << 4, // hardwired to 1 on P6 and later
  NE: 1 << 5,
  WP: 1 << 16,
  AM: 1 << 18,
  NW: 1 << 29,
  CD: 1 << 30,
  PG: 0x8000_0000,
} as const;

/** CR0 bits that hold state; the reserved bits read as 0 whatever is written. */
export const CR0_DEFINED =
  (CR0.PE | CR0.MP | CR0.EM | CR0.TS | CR0.ET | CR0.NE | CR0.WP | CR0.AM | CR0.NW | CR0.CD | CR0.PG) >>> 0;

/** Exception vectors (SDM Vol. 3A Table 6-1). */
export const VEC = {
  DE: 0,
  DB: 1,
  UD: 6,
  NM: 7,
  DF: 8,
  TS: 10,
  NP: 11,
  SS: 12,
  GP: 13,
  PF: 14,
  AC: 17,
} as const;

/** Vector of the timer interrupt (the PIC's IRQ 0 remapped past the exceptions, as OSes do). */
export const TIMER_VECTOR = 0x20;

/** Exceptions that push an error code (SDM Vol. 3A Table 6-1). */
export const hasErrorCode = (vector: number): boolean =>
  vector === VEC.DF ||
  vector === VEC.TS ||
  vector === VEC.NP ||
  vector === VEC.SS ||
  vector === VEC.GP ||
  vector === VEC.PF ||
  vector === VEC.AC;

/** Even parity of the low byte, as EFLAGS.PF defines it. */
export const parityEven = (x: number): boolean => {
  let b = x & 0xff;
  b ^= b >>> 4;
  b ^= b >>> 2;
  b ^= b >>> 1;
  return (b & 1) === 0;
};
