import { bootMachine, linear, step } from 'hyperprop';
import { describe, expect, it } from 'vitest';

describe('the public entry point', () => {
  it('drives the reference: a store then a load of the same word returns the stored value', () => {
    let m = bootMachine();
    m = step(m, { kind: 'movImm', dst: 0, imm: 0xdead_beef }).machine;
    m = step(m, { kind: 'store', va: linear(1, 1, 2), src: 0 }).machine;
    const r = step(m, { kind: 'load', dst: 1, va: linear(1, 1, 2) });
    expect(r.outcome.status).toBe('retired');
    expect(r.machine.cpu.regs[1]).toBe(0xdead_beef);
  });
});
