/**
 * The reference machine's state: what a guest OS sees on bare metal. Plain immutable data.
 */
import type { DmaEngine } from './devices.ts';
import type { Geometry } from './geometry.ts';
import type { PhysicalMemory } from './memory.ts';
import type { Nic } from './nic.ts';
import type { Tlb } from './tlb.ts';

/** Current privilege level (SDM Vol. 3A §5.5). */
export type Cpl = 0 | 1 | 2 | 3;

/** The general registers the model uses, in x86 encoding order. */
export const REGISTER_NAMES = ['eax', 'ecx', 'edx', 'ebx'] as const;
/** Index of a general register (0 = EAX, 1 = ECX, 2 = EDX, 3 = EBX). */
export type Reg = 0 | 1 | 2 | 3;
/** EAX, ECX, EDX, EBX, in that order (indexed by `Reg`). */
export type Registers = readonly [number, number, number, number];

/** GDTR / IDTR: a linear base and a 16-bit limit (SDM Vol. 3A §2.4.1). */
export interface TableRegister {
  readonly base: number;
  readonly limit: number;
}

/** LDTR / TR: a selector and the base and limit cached from its descriptor (SDM §2.4.2, §2.4.4). */
export interface SegmentTableRegister {
  readonly selector: number;
  readonly base: number;
  readonly limit: number;
}

/** Whether the processor executes, waits for an interrupt (HLT) or is shut down (triple fault). */
export type RunState = 'running' | 'halted' | 'shutdown';

/** Processor state. */
export interface Cpu {
  readonly cpl: Cpl;
  /** CS selector; its RPL always equals CPL. */
  readonly cs: number;
  /**
   * EIP: the linear address of the next operation's first byte. The model fetches no code, so EIP
   * is a convention (model/encoding.ts): each retired operation advances it by the length of its
   * encoding, delivery of an event loads the gate's offset, IRET the frame's EIP. It is what the
   * frames pushed on the stack save.
   */
  readonly eip: number;
  /** SS selector; its RPL equals CPL. The stack segment is flat (model/stack.ts). */
  readonly ss: number;
  /** ESP: the stack pointer PUSHF/POPF/IRET and event delivery push and pop at (model/stack.ts). */
  readonly esp: number;
  readonly eflags: number;
  readonly regs: Registers;
  readonly cr0: number;
  /** Linear address of the last #PF. */
  readonly cr2: number;
  readonly cr3: number;
  readonly gdtr: TableRegister;
  readonly idtr: TableRegister;
  readonly ldtr: SegmentTableRegister;
  readonly tr: SegmentTableRegister;
  readonly run: RunState;
  /** STI interrupt shadow: interrupts are blocked until the next instruction completes (SDM STI). */
  readonly stiShadow: boolean;
  /** External interrupt vectors raised and not yet delivered, ascending. */
  readonly pending: readonly number[];
}

/** A bare-metal machine. */
export interface Machine {
  readonly geometry: Geometry;
  readonly cpu: Cpu;
  readonly memory: PhysicalMemory;
  readonly tlb: Tlb;
  /** DMA engines at ports 0x40 + 4d (devices.ts); absent or empty: no device decodes a port. */
  readonly devices?: readonly DmaEngine[];
  /** The network card at ports 0x50..0x53 (nic.ts); absent: none. */
  readonly nic?: Nic;
}
