/**
 * How long each operation's machine code is, for the EIP convention (state.ts `eip`): an
 * operation is the instruction(s) conformance/encode.ts emits for it, laid end to end, so a
 * retired operation advances EIP by its length, INT n saves the address after its 2 bytes, and a
 * fault saves the address of the instruction that raised it — for the operations encoded as more
 * than one instruction, the offset of that instruction (`MOV ESI, imm32; MOV CRn, ESI`,
 * `PUSHFD; POP r32`, `PUSH imm32; POPFD`, five `PUSH imm32` and `IRETD`). The conformance suite
 * checks these lengths against the encoder's bytes (test/conformance/encoder.test.ts).
 */
import type { Op } from './ops.ts';

/** `PUSH imm32` (68 id): 5 bytes. */
export const PUSH_IMM32_BYTES = 5;
/** `MOV r32, imm32` (B8+r id): 5 bytes. */
export const MOV_R32_IMM32_BYTES = 5;
/** Words an `iret` operation pushes before its IRETD: SS, ESP, EFLAGS, CS and EIP (ops.ts). */
export const IRET_OP_PUSHES = 5;

/** Bytes of `op`'s encoding; 0 for events (timer, device completion, frame arrival), which are no instructions. */
export const opBytes = (op: Op): number => {
  switch (op.kind) {
    case 'movImm':
      return 5;
    case 'add':
    case 'movFromCs':
    case 'in':
    case 'out':
    case 'int':
    case 'clts':
    case 'ud2':
      return 2;
    case 'load':
    case 'store':
      return 6;
    case 'movToCr0':
    case 'movToCr3':
      return MOV_R32_IMM32_BYTES + 3;
    case 'movFromCr':
    case 'lldt':
    case 'ltr':
    case 'sldt':
    case 'str':
    case 'lar':
    case 'lsl':
    case 'verr':
    case 'verw':
      return 3;
    case 'invlpg':
    case 'lgdt':
    case 'lidt':
    case 'sgdt':
    case 'sidt':
      return 7;
    case 'cli':
    case 'sti':
    case 'hlt':
      return 1;
    case 'smsw':
      return 4;
    case 'pushf':
      return 2;
    case 'popf':
      return PUSH_IMM32_BYTES + 1;
    case 'iret':
      return IRET_OP_PUSHES * PUSH_IMM32_BYTES + 1;
    case 'timer':
    case 'dmaComplete':
    case 'frameIn':
      return 0;
  }
};
