/**
 * The frozen unseen mutants (mutants/unseen/, issue 20) as catalog entries, so that the catalog's
 * runner (run.ts) and `hyperprop mutants --unseen` run them exactly as they run the catalog. They
 * are not in `MUTANTS`: the catalog's tests assert that every mutant there is killed, while this
 * set is measured (bench/RESULTS.md "Unseen mutants"), never asserted.
 *
 * mutants/unseen/ was written with its own small type before the catalog was read; this file only
 * translates it, and never changes what it says.
 */
import { arbNetScenario } from '../generators/net.ts';
import type { Mutant, MutantArea } from './mutant.ts';
import { syscallTarget } from './syscall.ts';
import { UNSEEN_MUTANTS, type UnseenMutant } from './unseen/index.ts';
import { UNSEEN2_MUTANTS } from './unseen2/index.ts';

/** The catalog's area for each area the unseen set names. */
const AREAS: Readonly<Record<string, MutantArea>> = {
  CPU: 'cpu',
  TLB: 'tlb',
  interrupts: 'interrupts',
  devices: 'devices',
  'IOMMU / DMA': 'iommu',
  network: 'network',
  efficiency: 'efficiency',
  'system calls': 'containers',
};

/** An unseen mutant as a catalog entry. */
export const asCatalogMutant = (u: UnseenMutant): Mutant => {
  const area = AREAS[u.area];
  if (!area) throw new RangeError(`unseen mutant ${u.name}: no catalog area for '${u.area}'`);
  return {
    name: u.name,
    base: u.base,
    area,
    bugClass: u.bugClass,
    reference: u.reference ?? 'none known',
    property: u.property,
    minimalLength: u.minimal,
    minimalWhy: u.minimalWhy,
    target:
      u.level === 'syscall'
        ? syscallTarget(u.design)
        : u.level === 'network'
          ? { level: 'machine', design: u.design, scenarios: () => arbNetScenario() }
          : { level: 'machine', design: u.design },
  };
};

/** Every unseen mutant, in the frozen set's order. */
export const UNSEEN: readonly Mutant[] = Object.freeze(UNSEEN_MUTANTS.map(asCatalogMutant));

/** An unseen mutant by name. */
export const unseenMutantByName = (name: string): Mutant | undefined => UNSEEN.find((m) => m.name === name);

/**
 * The second frozen unseen set (mutants/unseen2/), translated the same way: measured, never
 * asserted killed, and apart from the catalog and the first set.
 */
export const UNSEEN2: readonly Mutant[] = Object.freeze(UNSEEN2_MUTANTS.map(asCatalogMutant));

/** A mutant of the second unseen set by name. */
export const unseen2MutantByName = (name: string): Mutant | undefined => UNSEEN2.find((m) => m.name === name);

/** The mutant sets `hyperprop mutants --set` names, beside the catalog. */
export type UnseenSetName = 'unseen' | 'unseen2';

/** A mutant of an unseen set by the set's name and the mutant's. */
export const unseenSetMutantByName = (set: UnseenSetName, name: string): Mutant | undefined =>
  set === 'unseen2' ? unseen2MutantByName(name) : unseenMutantByName(name);
