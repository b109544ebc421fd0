/**
 * A tiny 32-bit x86 assembler: the instruction bytes the conformance kernel is made of, encoded
 * here (no assembler at run time). Only the forms the harness and the model's operations need,
 * named after the Intel SDM Vol. 2 mnemonics. Labels resolve at `link()`.
 */

/** 32-bit general registers in encoding order (SDM Vol. 2 Table 2-2). */
export const R = { eax: 0, ecx: 1, edx: 2, ebx: 3, esp: 4, ebp: 5, esi: 6, edi: 7 } as const;
export type R32 = number;

/** ModRM byte: mod (2 bits), reg (3 bits), r/m (3 bits). */
export const modrm = (mod: number, reg: number, rm: number): number => ((mod & 3) << 6) | ((reg & 7) << 3) | (rm & 7);

const le32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
const le16 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff];

/** `[disp32]` operand: ModRM with mod 00, r/m 101. */
const abs = (reg: number, addr: number): number[] => [modrm(0, reg, 5), ...le32(addr)];
/** `[base + disp32]` operand (base is not ESP; EBP works with mod 10). */
const based = (reg: number, base: R32, disp: number): number[] =>
  base === R.esp ? [modrm(2, reg, 4), 0x24, ...le32(disp)] : [modrm(2, reg, base), ...le32(disp)];

/** Raw encoders: each returns the instruction's bytes. */
export const I = {
  movRegImm: (r: R32, imm: number) => [0xb8 + r, ...le32(imm)],
  movRegReg: (dst: R32, src: R32) => [0x89, modrm(3, src, dst)],
  addRegReg: (dst: R32, src: R32) => [0x01, modrm(3, src, dst)],
  subRegReg: (dst: R32, src: R32) => [0x29, modrm(3, src, dst)],
  xorRegReg: (dst: R32, src: R32) => [0x31, modrm(3, src, dst)],
  orRegReg: (dst: R32, src: R32) => [0x09, modrm(3, src, dst)],
  subRegImm: (r: R32, imm: number) => [0x81, modrm(3, 5, r), ...le32(imm)],
  cmpRegReg: (a: R32, b: R32) => [0x39, modrm(3, b, a)],
  cmpRegImm: (r: R32, imm: number) => [0x81, modrm(3, 7, r), ...le32(imm)],
  addRegImm: (r: R32, imm: number) => [0x81, modrm(3, 0, r), ...le32(imm)],
  andRegImm: (r: R32, imm: number) => [0x81, modrm(3, 4, r), ...le32(imm)],
  orRegImm: (r: R32, imm: number) => [0x81, modrm(3, 1, r), ...le32(imm)],
  shrRegImm: (r: R32, n: number) => [0xc1, modrm(3, 5, r), n],
  shlRegImm: (r: R32, n: number) => [0xc1, modrm(3, 4, r), n],
  testRegImm: (r: R32, imm: number) => [0xf7, modrm(3, 0, r), ...le32(imm)],
  testRegReg: (a: R32, b: R32) => [0x85, modrm(3, b, a)],
  /** mov r32, [disp32] */
  load: (r: R32, addr: number) => [0x8b, ...abs(r, addr)],
  /** mov [disp32], r32 */
  store: (addr: number, r: R32) => [0x89, ...abs(r, addr)],
  /** mov dword [disp32], imm32 */
  storeImm: (addr: number, imm: number) => [0xc7, ...abs(0, addr), ...le32(imm)],
  /** mov r32, [base + disp32] */
  loadBased: (r: R32, base: R32, disp = 0) => [0x8b, ...based(r, base, disp)],
  /** mov [base + disp32], r32 */
  storeBased: (base: R32, disp: number, r: R32) => [0x89, ...based(r, base, disp)],
  /** mov byte [base + disp32], r8 (AL, CL, DL, BL) */
  storeByteBased: (base: R32, disp: number, r8: R32) => [0x88, ...based(r8, base, disp)],
  /** mov word [base + disp32], r16 */
  storeWordBased: (base: R32, disp: number, r: R32) => [0x66, 0x89, ...based(r, base, disp)],
  /** lea r32, [base + disp32] */
  lea: (r: R32, base: R32, disp: number) => [0x8d, ...based(r, base, disp)],
  incReg: (r: R32) => [0x40 + r],
  decReg: (r: R32) => [0x48 + r],
  push: (r: R32) => [0x50 + r],
  pop: (r: R32) => [0x58 + r],
  pushImm: (imm: number) => [0x68, ...le32(imm)],
  /** push dword [disp32] */
  pushMem: (addr: number) => [0xff, ...abs(6, addr)],
  /** pop dword [disp32] */
  popMem: (addr: number) => [0x8f, ...abs(0, addr)],
  pushfd: () => [0x9c],
  popfd: () => [0x9d],
  iretd: () => [0xcf],
  cli: () => [0xfa],
  sti: () => [0xfb],
  hlt: () => [0xf4],
  cld: () => [0xfc],
  clts: () => [0x0f, 0x06],
  ud2: () => [0x0f, 0x0b],
  int: (n: number) => [0xcd, n & 0xff],
  /** in eax, imm8 */
  inImm: (port: number) => [0xe5, port & 0xff],
  /** out imm8, eax */
  outImm: (port: number) => [0xe7, port & 0xff],
  /** out dx, al */
  outDxAl: () => [0xee],
  /** out dx, ax */
  outDxAx: () => [0x66, 0xef],
  /** mov cr, r32 */
  movToCr: (cr: number, r: R32) => [0x0f, 0x22, modrm(3, cr, r)],
  /** mov r32, cr */
  movFromCr: (r: R32, cr: number) => [0x0f, 0x20, modrm(3, cr, r)],
  invlpg: (addr: number) => [0x0f, 0x01, ...abs(7, addr)],
  lgdt: (addr: number) => [0x0f, 0x01, ...abs(2, addr)],
  lidt: (addr: number) => [0x0f, 0x01, ...abs(3, addr)],
  sgdt: (addr: number) => [0x0f, 0x01, ...abs(0, addr)],
  sidt: (addr: number) => [0x0f, 0x01, ...abs(1, addr)],
  /** smsw r16 (with the operand-size prefix: the 16-bit register form) */
  smsw16: (r: R32) => [0x66, 0x0f, 0x01, modrm(3, 4, r)],
  sldt: (r: R32) => [0x0f, 0x00, modrm(3, 0, r)],
  str: (r: R32) => [0x0f, 0x00, modrm(3, 1, r)],
  lldt: (r: R32) => [0x0f, 0x00, modrm(3, 2, r)],
  ltr: (r: R32) => [0x0f, 0x00, modrm(3, 3, r)],
  verr: (r: R32) => [0x0f, 0x00, modrm(3, 4, r)],
  verw: (r: R32) => [0x0f, 0x00, modrm(3, 5, r)],
  lar: (dst: R32, src: R32) => [0x0f, 0x02, modrm(3, dst, src)],
  lsl: (dst: R32, src: R32) => [0x0f, 0x03, modrm(3, dst, src)],
  /** mov r32, Sreg (Sreg 1 = CS) */
  movFromSreg: (r: R32, sreg: number) => [0x8c, modrm(3, sreg, r)],
  /** mov [disp32], Sreg (16-bit store) */
  storeSreg: (addr: number, sreg: number) => [0x8c, ...abs(sreg, addr)],
  /** mov Sreg, r16 */
  movToSreg: (sreg: number, r: R32) => [0x8e, modrm(3, sreg, r)],
  cpuid: () => [0x0f, 0xa2],
  wrmsr: () => [0x0f, 0x30],
  sysenter: () => [0x0f, 0x34],
  repMovsd: () => [0xf3, 0xa5],
  repStosd: () => [0xf3, 0xab],
  repeCmpsd: () => [0xf3, 0xa7],
  nop: () => [0x90],
  /** mov al, imm8 */
  movAlImm: (imm: number) => [0xb0, imm & 0xff],
  /** out imm8, al */
  outImmAl: (port: number) => [0xe6, port & 0xff],
  /** mov dx, imm16 */
  movDxImm: (imm: number) => [0x66, 0xba, imm & 0xff, (imm >>> 8) & 0xff],
  /** shl r32, cl */
  shlRegCl: (r: R32) => [0xd3, modrm(3, 4, r)],
  /** stosd */
  stosd: () => [0xab],
  /** jmp r32 */
  jmpReg: (r: R32) => [0xff, modrm(3, 4, r)],
  /** ALU r32, [base + disp32]: op 0x03 add, 0x0b or, 0x23 and, 0x2b sub, 0x33 xor, 0x3b cmp */
  aluRegMem: (op: number, r: R32, base: R32, disp = 0) => [op, ...based(r, base, disp)],
  /** ALU dword [disp32], imm32: ext 0 add, 1 or, 4 and, 5 sub, 7 cmp */
  aluMemImm: (ext: number, addr: number, imm: number) => [0x81, ...abs(ext, addr), ...le32(imm)],
  /** push dword [base + disp32] */
  pushMemBased: (base: R32, disp = 0) => [0xff, ...based(6, base, disp)],
  /** inc dword [disp32] */
  incMem: (addr: number) => [0xff, ...abs(0, addr)],
  /** jmp far m16:32 (FF /5): offset then selector at [disp32] */
  jmpFarMem: (addr: number) => [0xff, ...abs(5, addr)],
  /** mov ss, [disp32] (8E /2, a 16-bit load) */
  movSsMem: (addr: number) => [0x8e, ...abs(2, addr)],
  /** jmp far ptr16:32 */
  jmpFar: (sel: number, offset: number) => [0xea, ...le32(offset), ...le16(sel)],
} as const;

/** Sreg numbers (SDM Vol. 2 Table 3-? "Sreg"). */
export const SREG = { es: 0, cs: 1, ss: 2, ds: 3, fs: 4, gs: 5 } as const;

/** Condition codes for Jcc (low nibble of 0F 8x). */
export const CC = { o: 0, no: 1, b: 2, ae: 3, e: 4, ne: 5, be: 6, a: 7, s: 8, ns: 9, l: 0xc, ge: 0xd, le: 0xe, g: 0xf };

interface Fixup {
  readonly at: number;
  readonly label: string;
  readonly kind: 'rel32' | 'abs32';
}

/**
 * A code buffer at a fixed linear origin, with labels. Branches are always rel32 (no
 * relaxation), so an instruction's size never depends on where its target lies.
 */
export class Asm {
  readonly bytes: number[] = [];
  private readonly labels = new Map<string, number>();
  private readonly fixups: Fixup[] = [];
  constructor(readonly origin: number) {}

  /** Current linear address. */
  get here(): number {
    return (this.origin + this.bytes.length) >>> 0;
  }
  emit(...parts: (readonly number[])[]): this {
    for (const p of parts) for (const b of p) this.bytes.push(b & 0xff);
    return this;
  }
  u32(v: number): this {
    return this.emit(le32(v >>> 0));
  }
  u16(v: number): this {
    return this.emit(le16(v));
  }
  label(name: string): this {
    if (this.labels.has(name)) throw new Error(`label ${name} defined twice`);
    this.labels.set(name, this.here);
    return this;
  }
  align(n: number, fill = 0x90): this {
    while (this.bytes.length % n !== 0) this.bytes.push(fill);
    return this;
  }
  /** Pad with `fill` up to linear address `addr`. */
  padTo(addr: number, fill = 0): this {
    const n = addr - this.here;
    if (n < 0) throw new Error(`padTo ${addr.toString(16)} is behind ${this.here.toString(16)}`);
    for (let i = 0; i < n; i++) this.bytes.push(fill);
    return this;
  }
  jmp(label: string): this {
    this.bytes.push(0xe9);
    return this.fix(label, 'rel32');
  }
  call(label: string): this {
    this.bytes.push(0xe8);
    return this.fix(label, 'rel32');
  }
  jcc(cc: number, label: string): this {
    this.bytes.push(0x0f, 0x80 | cc);
    return this.fix(label, 'rel32');
  }
  ret(): this {
    return this.emit([0xc3]);
  }
  /** A 32-bit absolute address of a label, as data. */
  addr(label: string): this {
    return this.fix(label, 'abs32');
  }
  /** mov r32, imm32 where imm32 is the address of a label. */
  movRegLabel(r: R32, label: string): this {
    this.bytes.push(0xb8 + r);
    return this.fix(label, 'abs32');
  }
  /** push imm32 where imm32 is the address of a label. */
  pushLabel(label: string): this {
    this.bytes.push(0x68);
    return this.fix(label, 'abs32');
  }
  private fix(label: string, kind: Fixup['kind']): this {
    this.fixups.push({ at: this.bytes.length, label, kind });
    this.bytes.push(0, 0, 0, 0);
    return this;
  }
  has(name: string): boolean {
    return this.labels.has(name);
  }
  at(name: string): number {
    const v = this.labels.get(name);
    if (v === undefined) throw new Error(`undefined label ${name}`);
    return v;
  }
  /** Resolve every branch and address; returns the bytes. */
  link(): Uint8Array {
    for (const f of this.fixups) {
      const target = this.at(f.label);
      const v = f.kind === 'rel32' ? target - (this.origin + f.at + 4) : target;
      const b = le32(v >>> 0);
      for (let i = 0; i < 4; i++) this.bytes[f.at + i] = b[i]!;
    }
    return Uint8Array.from(this.bytes);
  }
}
