/**
 * FROZEN: nothing under mutants/unseen2/ changes after its first commit.
 *
 * container, whose memory cgroup lets a group go one page over its quota.
 */
import { syscall } from '../../index.ts';
import type { UnseenMutant } from '../unseen/types.ts';

const design = syscall.containerDesign({
  name: 'container-quota-off-by-one',
  description: 'containers whose memory limit is enforced one page late (a <= where a < belongs)',
  group: (g, x) => ({ ...syscall.containerGroup(g, x), quota: x.quota + 1 }),
});

export const containerQuotaOffByOne: UnseenMutant = {
  name: 'container-quota-off-by-one',
  base: 'container',
  level: 'syscall',
  area: 'system calls',
  bugClass: 'off-by-one in a resource limit check',
  reference:
    'the memory cgroup’s charge check (mm/memcontrol.c try_charge: usage + nr_pages > limit fails); off-by-one limit checks such as CVE-2017-7184-class bounds slips',
  flaw: 'Each container may map or reserve one page more than its quota, so it takes a page of memory that belongs to the other containers’ share.',
  property: 'resource-control',
  minimal: 1,
  minimalWhy:
    'A container whose quota is 0 pages maps one (mmap): its own kernel answers -ENOMEM, the mutant maps it and the group holds a page over its quota. 1.',
  design,
  witness: {
    guests: [
      { quota: 0, abi: 'host' },
      { quota: 1, abi: 'host' },
    ],
    ops: [{ guest: 0, call: { kind: 'mmap', page: 0 } }],
  },
};
