/**
 * The trace record of a system-call-level scenario: each call with the design's result beside what
 * the guest's own kernel alone answered, the guest's kernel state after it, the user page a memory
 * call touches walked through the guest's page tables in its kernel's machine (the one walker), and
 * the first divergence.
 */
import type { SyscallScenario } from '../../generators/syscall.ts';
import { hex, PAGE_SIZE, readWord, walk, X86_32, x86Permits } from '../../model/index.ts';
import {
  type Call,
  charged,
  formatCall,
  formatResult,
  type KernelAudit,
  type SyscallDesign,
  sameResult,
  userVa,
} from '../../model/syscall/index.ts';
import type { PropertyFailure } from '../property.ts';
import { runSyscallScenario } from '../syscall/trace.ts';
import { walkRecord } from './translation.ts';
import {
  type AccessRecord,
  type FieldChange,
  type FieldValue,
  type OwnerRecord,
  type StepRecord,
  TRACE_FORMAT,
  TRACE_VERSION,
  type TraceRecord,
} from './types.ts';

/** The kernel and group that run guest `g`. */
const groupOf = (kernels: readonly KernelAudit[], g: number) => {
  for (const [k, a] of kernels.entries()) {
    const group = a.kernel.groups.find((x) => x.spec.guest === g);
    if (group) return { audit: a, group, kernel: k, shared: a.kernel.groups.length > 1 };
  }
  return undefined;
};

/** Guest `g`'s kernel state, field by field. */
const kernelFields = (kernels: readonly KernelAudit[], g: number, quota: number): FieldValue[] => {
  const x = groupOf(kernels, g);
  if (!x) return [{ name: 'kernel', value: 'none' }];
  const pages = x.group.pages.flatMap((f, p) => (f === null ? [] : [`${p}→${f}`]));
  return [
    { name: 'kernel', value: `${x.shared ? 'shared' : 'its own'} (kernel ${x.kernel})` },
    { name: 'kernel state', value: x.audit.kernel.crashed ? 'crashed' : 'running' },
    { name: 'ring', value: String(x.group.spec.ring) },
    { name: 'user pages (page→frame)', value: pages.length ? pages.join(' ') : 'none' },
    { name: 'pages held', value: `${charged(x.group)} of ${quota}` },
    { name: 'process', value: x.group.exited ? 'exited' : 'alive' },
  ];
};

/** Who frame `frame` of a kernel's machine is for, seen from guest `g`. */
const frameOwner = (a: KernelAudit, frame: number, g: number): OwnerRecord => {
  for (const x of a.kernel.groups) {
    const guest = x.spec.guest;
    const page = x.pages.indexOf(frame);
    const mk = (text: string): OwnerRecord => ({ kind: 'guest', guest, own: guest === g, text });
    if (page >= 0) return mk(`guest ${guest}'s user page ${page}`);
    if (x.reserved.includes(frame)) return mk(`a frame guest ${guest} allocated`);
    if (x.space.directory === frame) return mk(`guest ${guest}'s page directory`);
    if (x.space.table === frame) return mk(`guest ${guest}'s page table`);
  }
  return {
    kind: 'host',
    own: false,
    text: a.kernel.free.includes(frame) ? 'a free frame of the kernel' : "the kernel's own frame",
  };
};

/** The user page a call touches, walked through the guest's page tables after the call. */
const callAccess = (kernels: readonly KernelAudit[], g: number, call: Call): AccessRecord | undefined => {
  if (call.kind !== 'mmap' && call.kind !== 'munmap' && call.kind !== 'load' && call.kind !== 'store') return undefined;
  const x = groupOf(kernels, g);
  if (!x) return undefined;
  const va = userVa(call.page, call.kind === 'load' || call.kind === 'store' ? call.word : 0);
  const write = call.kind === 'store';
  const root = x.group.space.directory * PAGE_SIZE;
  const r = walk(
    X86_32,
    root,
    va,
    (pa) => readWord(x.audit.memory, pa),
    (rights) => x86Permits(rights, { write, user: true }, true),
  );
  const rec = walkRecord(
    'kernel',
    `guest ${g}'s page tables in its kernel's machine (after the call; directory at frame ${x.group.space.directory})`,
    X86_32,
    { space: 'PA', value: root },
    { space: 'GVA', value: va },
    r,
    { entries: 'PA', output: 'PA' },
    (e) => ({ ...e, owner: frameOwner(x.audit, Math.floor(e.at.value / PAGE_SIZE), g) }),
  );
  return {
    what:
      call.kind === 'mmap' || call.kind === 'munmap' ? `${call.kind} of user page ${call.page}` : `user ${call.kind}`,
    address: { space: 'GVA', value: va },
    write,
    user: true,
    walks: [
      rec.end.ok
        ? { ...rec, end: { ...rec.end, owner: frameOwner(x.audit, Math.floor(rec.end.output.value / PAGE_SIZE), g) } }
        : rec,
    ],
  };
};

/** Files of the kernels that changed between two audits. */
const fileChanges = (a: readonly KernelAudit[], b: readonly KernelAudit[]): FieldChange[] =>
  b.flatMap((k, i) =>
    Object.entries(k.kernel.files).flatMap(([path, v]) => {
      const was = a[i]?.kernel.files[path];
      return was === v
        ? []
        : [{ field: `file ${path}`, before: was === undefined ? 'absent' : hex(was), after: hex(v) }];
    }),
  );

/** The trace record of a system-call-level scenario, up to and including `failure.step` (all steps when it holds). */
export const recordSyscallTrace = (
  design: SyscallDesign,
  scenario: SyscallScenario,
  failure: PropertyFailure | undefined,
  property?: string,
): TraceRecord => {
  const t = runSyscallScenario(design, scenario);
  let kernels = t.initial();
  const steps: StepRecord[] = [];
  for (const s of t.steps) {
    const after = s.kernels();
    const quota = scenario.guests[s.guest]!.quota;
    const before = kernelFields(kernels, s.guest, quota);
    const state = kernelFields(after, s.guest, quota);
    const access = callAccess(after, s.guest, s.call);
    const isFailure = failure !== undefined && failure.step === s.index;
    steps.push({
      index: s.index,
      guest: s.guest,
      op: { kind: s.call.kind, text: formatCall(s.call) },
      state: state.map((x) => ({ ...x, changed: before.find((y) => y.name === x.name)?.value !== x.value })),
      changes: [
        ...state.flatMap((x) => {
          const was = before.find((y) => y.name === x.name)?.value ?? 'absent';
          return was === x.value ? [] : [{ field: x.name, before: was, after: x.value }];
        }),
        ...fileChanges(kernels, after),
      ],
      ...(access ? { access } : {}),
      syscall: {
        result: formatResult(s.result),
        reference: formatResult(s.reference),
        agree: sameResult(s.result, s.reference),
      },
      divergence: isFailure,
    });
    kernels = after;
    if (isFailure) break;
  }
  return {
    format: TRACE_FORMAT,
    version: TRACE_VERSION,
    level: 'syscall',
    design: {
      name: design.name,
      description: design.description,
      facts: [
        { name: 'structure', value: design.structure },
        { name: 'interface', value: design.abi },
      ],
    },
    ...(property === undefined ? {} : { property }),
    guests: scenario.guests.map((x, guest) => ({
      guest,
      facts: [
        { name: 'quota', value: String(x.quota) },
        { name: 'interface', value: x.abi },
      ],
    })),
    operations: scenario.ops.length,
    steps,
    ...(failure && failure.step >= 0
      ? {
          divergence: {
            step: failure.step,
            ...(failure.guest === undefined ? {} : { guest: failure.guest }),
            message: failure.message,
            ...(failure.expected === undefined ? {} : { expected: failure.expected }),
            ...(failure.actual === undefined ? {} : { actual: failure.actual }),
          },
        }
      : {}),
  };
};
