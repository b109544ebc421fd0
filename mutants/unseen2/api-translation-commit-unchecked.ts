/**
 * FROZEN: nothing under mutants/unseen2/ changes after its first commit.
 *
 * api-translation, whose library forwards Commit without checking its page count.
 */
import { syscall } from '../../index.ts';
import type { UnseenMutant } from '../unseen/types.ts';

const base = syscall.translationDesign({ name: 'api-translation', description: 'API translation' });

const design: syscall.SyscallDesign<syscall.TranslationWorld> = {
  ...base,
  name: 'api-translation-commit-unchecked',
  description: 'API translation, but Commit(pages) goes to the host’s alloc without the library’s pages >= 1 check',
  call: (w, g, c) => {
    if (c.kind !== 'foreign' || c.nr !== syscall.NT.Commit || c.args[0] >= 1) return base.call(w, g, c);
    // The flaw: no pages >= 1 check; the host's answer to alloc(0) is converted as an allocation failure.
    const r = syscall.hostCall(syscall.barePort, w.run, g, { kind: 'alloc', pages: c.args[0] });
    const result: syscall.SysResult =
      r.result.kind === 'value'
        ? { kind: 'value', value: r.result.value >= 0 ? syscall.STATUS.SUCCESS : syscall.STATUS.NO_MEMORY }
        : r.result;
    return { world: { ...w, run: { kernel: r.kernel, machine: r.machine } }, result };
  },
};

export const apiTranslationCommitUnchecked: UnseenMutant = {
  name: 'api-translation-commit-unchecked',
  base: 'api-translation',
  level: 'syscall',
  area: 'system calls',
  bugClass: 'argument validation of the foreign interface missing in the translation layer',
  reference:
    'the foreign interface’s table (model/syscall/foreign.ts: Commit with pages < 1 is INVALID_PARAMETER); Wine conformance tests exist for exactly these argument checks (dlls/ntdll/tests)',
  flaw: 'The library passes Commit(0) on to the host’s alloc and converts the host’s answer as it converts an allocation failure, so the program gets NO_MEMORY where the foreign kernel answers INVALID_PARAMETER: a caller that retries on NO_MEMORY loops.',
  property: 'equivalence',
  minimal: 1,
  minimalWhy: 'One Commit(0): NO_MEMORY instead of INVALID_PARAMETER. 1.',
  design,
  witness: {
    guests: [
      { quota: 2, abi: 'foreign' },
      { quota: 2, abi: 'foreign' },
    ],
    ops: [{ guest: 0, call: { kind: 'foreign', nr: syscall.NT.Commit, args: [0, 0, 0] } }],
  },
};
