/**
 * Designs that misbehave are reported as that design's ERROR, with where, and the other designs'
 * results stand: a handler that loops forever, a top level that loops or awaits forever, a handler
 * that throws something not an Error, a handler that hands back a host without its registers. Every
 * run here is bounded by the watchdog (and the test by its own timeout): before the watchdog the
 * first two hung `check` forever, and the last two ended the whole run with one line and exit 2.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeCounterexample, toCounterexampleFile } from '../../cli/counterexample.ts';
import { DesignFault, guardDesign } from '../../cli/guard.ts';
import { plainGuestSpec } from '../../generators/reference.ts';
import { DEFAULT_GEOMETRY } from '../../model/geometry.ts';
import { type Design, PRESETS } from '../../model/index.ts';
import { MUTANTS } from '../../mutants/catalog.ts';
import { UNSEEN } from '../../mutants/unseen-catalog.ts';
import { check } from '../../properties/check.ts';
import { runScenario } from '../../properties/trace.ts';
import { FIXTURES, hasStackTrace, hyperprop, tempDir } from './support.ts';

const BAD = join(FIXTURES, 'misbehaving');
const file = (name: string) => join(BAD, `${name}.ts`);

interface Row {
  design: string;
  property: string;
  status: string;
  runs: number;
  seed: number;
  error?: { kind: string; message: string; call?: string; step?: number; guest?: number; op?: string };
}

const rows = (stdout: string): Map<string, Row> =>
  new Map((JSON.parse(stdout).results as Row[]).map((r) => [r.design, r]));

describe('the guard (in this thread)', () => {
  it('changes nothing for a design that behaves: every preset and every machine-level mutant (catalog and unseen) reports the same', () => {
    // The unseen set too: designs written from the public API alone, as a user's would be.
    const designs: Design[] = [
      ...Object.values(PRESETS),
      ...[...MUTANTS, ...UNSEEN].flatMap((m) => (m.target.level === 'machine' ? [m.target.design] : [])),
    ];
    for (const d of designs) {
      const options = { runs: 5, seed: 5, maxOps: 6 };
      expect(check(guardDesign(d), options), d.name).toEqual(check(d, options));
    }
  }, 300_000);

  it('stops at the first exception (no shrinking of a throw) and says where: the call, the step, the operation', () => {
    let handled = 0;
    const throwing: Design = {
      ...PRESETS.shadow!,
      handle: () => {
        handled++;
        throw 'not an Error';
      },
    };
    let fault: unknown;
    try {
      check(guardDesign(throwing), { runs: 50, seed: 1, properties: ['efficiency'] });
    } catch (e) {
      fault = e;
    }
    expect(fault).toBeInstanceOf(DesignFault);
    const f = fault as DesignFault;
    expect(f.kind).toBe('threw');
    expect(f.detail).toBe('a non-Error value "not an Error"');
    expect(f.where.call).toBe('handle');
    expect(f.where.step).toBeGreaterThanOrEqual(0);
    expect(JSON.parse(f.where.op!)).toHaveProperty('kind');
    // One call: fast-check did not go on to shrink an exception as if it were a property failure.
    expect(handled).toBe(1);
  });
});

describe('hyperprop check with misbehaving designs', () => {
  it('a handler that loops, one that throws a non-Error, one that breaks the host: each its ERROR; shadow held', async () => {
    const t0 = performance.now();
    const r = await hyperprop([
      'check',
      '--design',
      'shadow',
      '--design',
      file('loops-in-handler'),
      '--design',
      file('throws-non-error'),
      '--design',
      file('malformed-state'),
      '--property',
      'efficiency',
      '--seed',
      '1',
      '--runs',
      '10',
      '--no-corpus',
      '--no-out',
      '--workers',
      '2',
      '--step-timeout',
      '3',
      '--reporter',
      'json',
    ]);
    const seconds = (performance.now() - t0) / 1000;
    expect(r.status).toBe(1);
    expect(hasStackTrace(r.stderr)).toBe(false);
    const byDesign = rows(r.stdout);
    expect(byDesign.get('shadow')).toMatchObject({ status: 'passed', runs: 10 });
    const loops = byDesign.get('loops-in-handler')!;
    expect(loops).toMatchObject({ status: 'error', property: 'efficiency', seed: 1 });
    expect(loops.error).toMatchObject({ kind: 'hung', call: 'handle' });
    expect(loops.error!.step).toBeGreaterThanOrEqual(0);
    expect(loops.error!.op).toMatch(/\S/);
    expect(byDesign.get('throws-non-error')!.error).toMatchObject({
      kind: 'threw',
      call: 'handle',
      message: 'threw: a non-Error value {"code":42,"reason":"handler exploded"}',
    });
    expect(byDesign.get('malformed-state')!.error).toMatchObject({
      kind: 'malformed-state',
      call: 'handle',
      message: 'returned a malformed state: cpu.regs is an array of 2, not four 32-bit registers',
    });
    for (const d of ['throws-non-error', 'malformed-state'])
      expect(byDesign.get(d)!.error!.step, d).toBeGreaterThanOrEqual(0);
    // The summary table on standard error: one ERROR row each, shadow held.
    expect(r.stderr).toMatch(/^shadow\s+efficiency\s+held\s+10/m);
    expect(r.stderr.match(/^\S+\s+efficiency\s+ERROR\s/gm)).toHaveLength(3);
    // Within the budget: the loop was stopped after --step-timeout, not waited for.
    expect(seconds).toBeLessThan(90);
  }, 120_000);

  it('a design file that loops or awaits forever at its top level: its ERROR "while its file loaded"; shadow held', async () => {
    const r = await hyperprop([
      'check',
      '--design',
      'shadow',
      '--design',
      file('loops-at-import'),
      '--design',
      file('awaits-forever'),
      '--property',
      'efficiency',
      '--seed',
      '2',
      '--runs',
      '10',
      '--no-corpus',
      '--no-out',
      '--workers',
      '2',
      '--step-timeout',
      '3',
      '--reporter',
      'json',
    ]);
    expect(r.status).toBe(1);
    const byDesign = rows(r.stdout);
    expect(byDesign.get('shadow')).toMatchObject({ status: 'passed', runs: 10 });
    for (const name of ['loops-at-import.ts', 'awaits-forever.ts']) {
      const row = byDesign.get(name)!;
      expect(row, name).toMatchObject({ status: 'error', seed: 2 });
      expect(row.error).toMatchObject({
        kind: 'hung',
        call: 'import',
        message: 'its file did not finish loading in 3 s (a top-level loop or await that never ends)',
      });
    }
  }, 120_000);

  it('with --time-limit, a hung handler is stopped at the end of the run: the whole command ends within the limit', async () => {
    const t0 = performance.now();
    const r = await hyperprop([
      'check',
      '--design',
      'shadow',
      '--design',
      file('loops-in-handler'),
      '--property',
      'efficiency',
      '--seed',
      '3',
      '--time-limit',
      '20',
      '--step-timeout',
      '3600',
      '--no-corpus',
      '--no-out',
      '--reporter',
      'json',
    ]);
    const seconds = (performance.now() - t0) / 1000;
    expect(r.status).toBe(1);
    const byDesign = rows(r.stdout);
    expect(byDesign.get('shadow')!.status).toBe('passed');
    expect(byDesign.get('loops-in-handler')!.error).toMatchObject({ kind: 'time-limit', call: 'handle' });
    // The limit counts from the command's start; what is left is the process's exit.
    // 20 s leaves shadow's 100 runs room on a loaded machine; the hung item takes whatever remains.
    expect(seconds).toBeLessThan(20 + 5);
  }, 120_000);
});

describe('hyperprop replay with a misbehaving design file', () => {
  it('a replay on a handler that loops: one ERROR line with the step and the operation, exit 1', async () => {
    const dir = tempDir();
    // MOV EBX, 7 never exits; HLT exits under VT-x with HLT exiting (SDM Vol. 3C §25.1.3), so the
    // handler first runs at step 1: checked here on shadow itself, which loops-in-handler extends.
    const scenario = {
      geometry: DEFAULT_GEOMETRY,
      guests: [plainGuestSpec(DEFAULT_GEOMETRY, 0)],
      ops: [
        { guest: 0, op: { kind: 'movImm' as const, dst: 3 as const, imm: 7 } },
        { guest: 0, op: { kind: 'hlt' as const } },
      ],
    };
    expect(runScenario(PRESETS.shadow!, scenario).steps.map((s) => s.ran.kind)).toEqual(['native', 'trap']);
    const design = file('loops-in-handler');
    const sha256 = createHash('sha256').update(readFileSync(design)).digest('hex');
    const c = toCounterexampleFile({ kind: 'file', name: 'loops-in-handler', path: design, sha256 }, 'efficiency', {
      seed: 1,
      path: '0',
      scenario,
      failure: { step: 1, guest: 0, message: 'recorded' },
    });
    const f = join(dir, 'c.json');
    writeFileSync(f, encodeCounterexample(c));
    const r = await hyperprop(['replay', f, '--design', design, '--step-timeout', '8']);
    expect(r.status).toBe(1);
    expect(hasStackTrace(r.stdout + r.stderr)).toBe(false);
    const errors = r.stdout.split('\n').filter((l) => l.startsWith('ERROR'));
    expect(errors).toEqual([
      'ERROR: no progress for 8.0 s (a call that never returns) in handle at step 1 (guest 0: HLT) (recorded divergence at step 1)',
    ]);
    expect(r.stdout).toContain('0 of 1 counterexample(s) still fail; 1 not replayed (ERROR)');
  }, 120_000);
});
