import { checkSyscall, syscall } from 'hyperprop';
import { describe, expect, it } from 'vitest';

describe('the system-call level from the public entry point', () => {
  it("checks a built-in design by value: a container's guests cannot change each other's files", () => {
    const [r] = checkSyscall(syscall.container, { properties: ['resource-control'], runs: 30, seed: 1 });
    expect(r!.status).toBe('passed');
    expect(r!.runs).toBe(30);
  });
});
