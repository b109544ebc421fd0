/** The differences between two guest machines, named in the guest's terms (for failure messages). */
import {
  differingFrames,
  formatEflags,
  frameWords,
  hex,
  type Machine,
  PAGE_SIZE,
  REGISTER_NAMES,
} from '../model/index.ts';

/** One differing field: where, the first machine's value, the second's. */
export interface FieldDiff {
  readonly field: string;
  readonly a: string;
  readonly b: string;
}

/** Fields in which `a` and `b` differ (CPU state, then memory words by guest-physical address). */
export const diffMachines = (a: Machine, b: Machine, limit = 8): FieldDiff[] => {
  const out: FieldDiff[] = [];
  const add = (field: string, x: string, y: string) => {
    if (x !== y && out.length < limit) out.push({ field, a: x, b: y });
  };
  const ca = a.cpu;
  const cb = b.cpu;
  add('CPL', String(ca.cpl), String(cb.cpl));
  add('CS', hex(ca.cs, 4), hex(cb.cs, 4));
  add('EFLAGS', formatEflags(ca.eflags), formatEflags(cb.eflags));
  REGISTER_NAMES.forEach((n, i) => {
    add(n.toUpperCase(), hex(ca.regs[i]!), hex(cb.regs[i]!));
  });
  add('CR0', hex(ca.cr0), hex(cb.cr0));
  add('CR2', hex(ca.cr2), hex(cb.cr2));
  add('CR3', hex(ca.cr3), hex(cb.cr3));
  add('GDTR', `${hex(ca.gdtr.base)}/${hex(ca.gdtr.limit, 4)}`, `${hex(cb.gdtr.base)}/${hex(cb.gdtr.limit, 4)}`);
  add('IDTR', `${hex(ca.idtr.base)}/${hex(ca.idtr.limit, 4)}`, `${hex(cb.idtr.base)}/${hex(cb.idtr.limit, 4)}`);
  add('LDTR', hex(ca.ldtr.selector, 4), hex(cb.ldtr.selector, 4));
  add('TR', hex(ca.tr.selector, 4), hex(cb.tr.selector, 4));
  add('run state', ca.run, cb.run);
  add('pending interrupts', JSON.stringify(ca.pending), JSON.stringify(cb.pending));
  add('STI shadow', String(ca.stiShadow), String(cb.stiShadow));
  // Memory: only the frames whose subtrees differ are read (the cost follows what changed).
  for (const frame of out.length < limit ? differingFrames(a.memory, b.memory) : []) {
    const wa = new Map(frameWords(a.memory, frame));
    const wb = new Map(frameWords(b.memory, frame));
    for (const w of [...new Set([...wa.keys(), ...wb.keys()])].sort((x, y) => x - y))
      add(`memory GPA ${hex(frame * PAGE_SIZE + w * 4)}`, hex(wa.get(w) ?? 0), hex(wb.get(w) ?? 0));
    if (out.length >= limit) break;
  }
  return out;
};

/** `field: a (vs b)` lines. */
export const renderDiff = (d: readonly FieldDiff[], aName: string, bName: string): string =>
  d.map((x) => `${x.field}: ${aName} ${x.a}, ${bName} ${x.b}`).join('; ');
