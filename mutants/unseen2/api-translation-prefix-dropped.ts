/**
 * FROZEN: nothing under mutants/unseen2/ changes after its first commit.
 *
 * api-translation, whose library resolves the foreign program's files without its prefix.
 */
import { syscall } from '../../index.ts';
import type { UnseenMutant } from '../unseen/types.ts';

const base = syscall.translationDesign({ name: 'api-translation', description: 'API translation' });

const design: syscall.SyscallDesign<syscall.TranslationWorld> = {
  ...base,
  name: 'api-translation-prefix-dropped',
  description: 'API translation, but ReadFile/WriteFile go to host files 0..2 instead of the prefix files 16..18',
  call: (w, g, c) => {
    if (c.kind !== 'foreign' || (c.nr !== syscall.NT.ReadFile && c.nr !== syscall.NT.WriteFile))
      return base.call(w, g, c);
    const [a0, a1] = c.args;
    const write = c.nr === syscall.NT.WriteFile;
    const file = write ? a1 : a0;
    if (!(file >= 0 && file < 3)) return base.call(w, g, c);
    // The flaw: file f, not PREFIX_FILE_BASE + f (the host root's files, shared by every translated program).
    const r = syscall.hostCall(
      syscall.barePort,
      w.run,
      g,
      write ? { kind: 'write', file, value: a0 } : { kind: 'read', file },
    );
    const result: syscall.SysResult =
      r.result.kind !== 'value'
        ? r.result
        : write
          ? { kind: 'value', value: 0 }
          : r.result.value === -syscall.ERRNO.ENOENT
            ? { kind: 'value', value: syscall.STATUS.OBJECT_NAME_NOT_FOUND }
            : r.result;
    return { world: { ...w, run: { kernel: r.kernel, machine: r.machine } }, result };
  },
};

export const apiTranslationPrefixDropped: UnseenMutant = {
  name: 'api-translation-prefix-dropped',
  base: 'api-translation',
  level: 'syscall',
  area: 'system calls',
  bugClass: 'path translation that forgets the per-program prefix (a shared host directory)',
  reference:
    'Wine’s WINEPREFIX (each program’s drive C: lives in its own prefix); path-translation escapes such as CVE-2021-?-class “drive mapping to /” misconfigurations',
  flaw: 'The library maps the foreign program’s file f to the host file f of the host root, which every translated program shares, instead of file 16 + f in its own prefix: one program’s WriteFile is another’s ReadFile.',
  property: 'isolation',
  minimal: 2,
  minimalWhy:
    'One program writes a file (WriteFile(5, 0)) and another reads the same number (ReadFile(0)): 2. Isolation sees the reader’s result depend on the writer.',
  design,
  witness: {
    guests: [
      { quota: 2, abi: 'foreign' },
      { quota: 2, abi: 'foreign' },
    ],
    ops: [
      { guest: 0, call: { kind: 'foreign', nr: syscall.NT.WriteFile, args: [5, 0, 0] } },
      { guest: 1, call: { kind: 'foreign', nr: syscall.NT.ReadFile, args: [0, 0, 0] } },
    ],
  },
};
