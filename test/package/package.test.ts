/**
 * The package as a user installs it: `npm pack` (which builds dist/ through `prepare`), the tarball
 * installed into a fresh `npm init -y` project (CommonJS, as npm makes it) and into an ESM project
 * (`"type": "module"`), offline from the local npm cache where it can (`--prefer-offline`: what is
 * not cached yet is fetched once). In each: every verb of the compiled command, the README's design
 * file example unchanged, a `.mjs` design, replay of a saved counterexample, plain-JavaScript imports
 * of `hyperprop` and `hyperprop/model` (this one with fast-check and effect removed), and a vitest
 * suite of the user's own through `hyperprop/vitest`, passing for `ept` and failing for a flawed
 * design. No verb prints a stack trace.
 */
import { type SpawnOptions, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasStackTrace, ROOT } from '../cli/support.ts';

interface Run {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * The environment of a user's shell: without this run's npm script variables (npm_package_*,
 * npm_lifecycle_*, the local prefix: they would point npm at this repository), vitest's own variables
 * (the nested vitest is the user's) and the CI variables that pick a shard.
 */
const userEnv = (): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(npm_(?!config_(cache|registry|userconfig)$)|VITEST|INIT_CWD$|NODE_ENV$|TEST$)/i.test(k)) continue;
    if (/^(CI_NODE_INDEX|CI_NODE_TOTAL|JOB_COMPLETION_INDEX|HYPERPROP_SHARD_COUNT|NODE_OPTIONS)$/.test(k)) continue;
    env[k] = v;
  }
  return { ...env, NO_COLOR: '1' };
};

const run = (command: string, args: readonly string[], cwd: string, options: SpawnOptions = {}): Promise<Run> =>
  new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: userEnv(), stdio: ['ignore', 'pipe', 'pipe'], ...options });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });

const npm = (args: readonly string[], cwd: string) => run('npm', args, cwd);
const hyperprop = (args: readonly string[], cwd: string) => run('npx', ['--no-install', 'hyperprop', ...args], cwd);

/** What a failed step printed, for the assertion's message. */
const shown = (r: Run) =>
  `exit ${r.status}\n--- stdout\n${r.stdout.slice(-4000)}\n--- stderr\n${r.stderr.slice(-4000)}`;

/** A verb's run: no stack trace on either stream. */
const noStack = (r: Run) => {
  expect(hasStackTrace(r.stdout), shown(r)).toBe(false);
  expect(hasStackTrace(r.stderr), shown(r)).toBe(false);
};

/** The README's design-file example: the code block that starts `// my-design.ts`, and the command after it. */
const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
const README_DESIGN = /```ts\n(\/\/ my-design\.ts\n[\s\S]*?)```/.exec(readme)?.[1];
const README_CHECK = /```sh\n(npx hyperprop check --design \.\/my-design\.ts[^\n]*)\n```/.exec(readme)?.[1];

/** Design files of the user's own, both correct (so they hold): EPT in TypeScript, shadow paging in plain JavaScript. */
const TS_DESIGN = `import { composeDesign, type Design, ept } from 'hyperprop';

export const design: Design = composeDesign({ ...ept, name: 'my-ept-copy', description: 'EPT, as the preset' });
`;
const MJS_DESIGN = `import { composeDesign, shadow } from 'hyperprop';
export default composeDesign({ ...shadow, name: 'my-shadow', description: 'shadow paging, as the preset' });
`;

/** The user's vitest suites: a preset that holds, and the README's design (every guest on VPID 1). */
const EPT_SUITE = `import { ept } from 'hyperprop';
import { checkDesign } from 'hyperprop/vitest';

checkDesign(ept, { properties: ['equivalence', 'isolation'], runs: 10, seed: 1 });
`;
/** No seed given: vitest's --sequence.seed is the seed. */
const SEEDED_SUITE = `import { ept } from 'hyperprop';
import { checkDesign } from 'hyperprop/vitest';

checkDesign(ept, { properties: ['efficiency'], runs: 5 });
`;
const FLAWED_SUITE = `import { checkDesign } from 'hyperprop/vitest';
import { design } from './my-design.ts';

checkDesign(design, { file: './my-design.ts', properties: ['isolation'], runs: 50, seed: 1 });
`;

const VITEST_VERSION: string = JSON.parse(readFileSync(join(ROOT, 'node_modules/vitest/package.json'), 'utf8')).version;

const work = mkdtempSync(join(tmpdir(), 'hyperprop-package-'));
let tarball = '';
let packed: readonly string[] = [];

beforeAll(async () => {
  const r = await npm(['pack', '--json', '--pack-destination', work], ROOT);
  expect(r.status, shown(r)).toBe(0);
  const json = JSON.parse(r.stdout.slice(r.stdout.indexOf('['))) as { filename: string; files: { path: string }[] }[];
  tarball = join(work, json[0]!.filename);
  packed = json[0]!.files.map((f) => f.path);
}, 600_000);

afterAll(() => {
  if (!process.env.HYPERPROP_KEEP_PACKAGE_TEST) rmSync(work, { recursive: true, force: true });
});

describe('the tarball', () => {
  it('holds the compiled code, its declarations and what the verbs read at run time; no sources or tests', () => {
    for (const f of [
      'package.json',
      'README.md',
      'bin/hyperprop.js',
      'dist/index.js',
      'dist/index.d.ts',
      'dist/model/index.js',
      'dist/model/index.d.ts',
      'dist/integrations/vitest.js',
      'dist/integrations/vitest.d.ts',
      'dist/cli/main.js',
      'dist/cli/worker.js',
      'dist/mutants/catalog.js',
      'dist/conformance/kernel.js',
      // Files the code reads next to itself (copied by the build): the HTML page's script and styles.
      'dist/cli/html/viewer.js',
      'dist/cli/html/viewer.css',
      'counterexamples/schema.json',
    ])
      expect(packed, f).toContain(f);
    expect(packed.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
    expect(packed.filter((f) => /^(test|bench|scripts)\//.test(f) || f.endsWith('worker-entry.js'))).toEqual([]);
  });
});

describe.each([
  ['CommonJS', 'commonjs'],
  ['ESM', 'module'],
] as const)('installed in a fresh %s project', (_label, type) => {
  const dir = join(work, type);

  beforeAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await run('mkdir', ['-p', dir], work);
    const init = await npm(['init', '-y'], dir);
    expect(init.status, shown(init)).toBe(0);
    if (type === 'module') expect((await npm(['pkg', 'set', 'type=module'], dir)).status).toBe(0);
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { type?: string };
    expect(pkg.type ?? 'commonjs').toBe(type);
    const install = await npm(
      ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball, `vitest@${VITEST_VERSION}`],
      dir,
    );
    expect(install.status, shown(install)).toBe(0);
    expect(README_DESIGN, 'the README has a `// my-design.ts` example').toBeDefined();
    writeFileSync(join(dir, 'my-design.ts'), README_DESIGN!);
    writeFileSync(join(dir, 'd.ts'), TS_DESIGN);
    writeFileSync(join(dir, 'd.mjs'), MJS_DESIGN);
    writeFileSync(join(dir, 'ept.test.ts'), EPT_SUITE);
    writeFileSync(join(dir, 'flawed.test.ts'), FLAWED_SUITE);
    writeFileSync(join(dir, 'seeded.test.ts'), SEEDED_SUITE);
  }, 600_000);

  it('list, classify, schema and mutants --list', async () => {
    const [list, classify, schema, mutants] = await Promise.all([
      hyperprop(['list'], dir),
      hyperprop(['classify'], dir),
      hyperprop(['schema'], dir),
      hyperprop(['mutants', '--list'], dir),
    ]);
    for (const r of [list, classify, schema, mutants]) {
      expect(r.status, shown(r)).toBe(0);
      noStack(r);
    }
    expect(list.stdout).toMatch(/^\s+\*\s+ept\s/m);
    expect(classify.stdout).toMatch(/SGDT|sgdt/);
    expect(JSON.parse(schema.stdout)).toHaveProperty('$schema');
    expect(mutants.stdout).toMatch(/^shadow-ignores-us\s/m);
  });

  it("the README's design-file example, unchanged: loads and is checked (its shared VPID breaks isolation); replay finds the saved file", async () => {
    expect(README_CHECK, 'the README shows the command').toBeDefined();
    const args = README_CHECK!.split(/\s+/).slice(2); // after `npx hyperprop`
    const r = await hyperprop([...args, '--runs', '20', '--property', 'isolation'], dir);
    noStack(r);
    expect(r.status, shown(r)).toBe(1);
    expect(r.stdout).toMatch(/my-ept\s+isolation\s+FAILED/);
    const saved = readdirSync(join(dir, 'counterexamples')).filter((f) => f.startsWith('my-ept.isolation.'));
    expect(saved.length).toBeGreaterThan(0);
    const replay = await hyperprop(['replay', join('counterexamples', saved[0]!), '--design', './my-design.ts'], dir);
    noStack(replay);
    expect(replay.status, shown(replay)).toBe(1);
    expect(replay.stdout).toMatch(/^>>/m);
    expect(replay.stdout).toMatch(/still fails: isolation/);
    // The HTML page, its script and styles read from the installed package's dist/cli/html/.
    const page = await hyperprop(
      ['replay', join('counterexamples', saved[0]!), '--design', './my-design.ts', '--html', 'trace.html'],
      dir,
    );
    noStack(page);
    expect(page.status, shown(page)).toBe(1);
    const viewer = readFileSync(join(dir, 'node_modules/hyperprop/dist/cli/html/viewer.js'), 'utf8');
    expect(readFileSync(join(dir, 'trace.html'), 'utf8')).toContain(viewer.slice(0, 200));
  });

  it('a .mjs design file, and a .ts one on worker threads', async () => {
    const [mjs, workers] = await Promise.all([
      hyperprop(['check', '--design', './d.mjs', '--runs', '5', '--seed', '1', '--no-corpus', '--no-out'], dir),
      hyperprop(
        [
          'check',
          '--design',
          './d.ts',
          '--design',
          'ept',
          '--property',
          'equivalence',
          '--runs',
          '5',
          '--seed',
          '1',
          '--workers',
          '2',
          '--no-corpus',
          '--no-out',
        ],
        dir,
      ),
    ]);
    for (const r of [mjs, workers]) noStack(r);
    expect(mjs.status, shown(mjs)).toBe(0);
    expect(mjs.stdout).toMatch(/^all held: 4 held, 0 failed; seed 1/m);
    expect(workers.status, shown(workers)).toBe(0);
    expect(workers.stdout).toMatch(/my-ept-copy\s+equivalence\s+held\s+5/);
    expect(workers.stdout).toMatch(/^ept\s+equivalence\s+held\s+5/m);
  });

  it('the shards of a check, merged, and bad input: one line, exit 2', async () => {
    // classic fails equivalence in one instruction; seed 1 finds it at its 6th scenario (half the scenarios are histories).
    const common = ['check', '--design', 'classic', '--property', 'equivalence', '--runs', '50', '--seed', '1'];
    const shards = await Promise.all(
      [1, 2].map((k) =>
        hyperprop(
          [...common, '--no-corpus', '--no-out', '--shard', `${k}/2`, '--reporter', 'json', '--output', `s${k}.json`],
          dir,
        ),
      ),
    );
    for (const s of shards) noStack(s);
    const merged = await hyperprop(['merge', 's1.json', 's2.json'], dir);
    noStack(merged);
    expect(merged.status, shown(merged)).toBe(1);
    expect(merged.stdout).toMatch(/classic\s+equivalence\s+FAILED/);
    const bad = await Promise.all([
      hyperprop(['check', '--design', './missing.ts'], dir),
      hyperprop(['replay', 'missing.json'], dir),
      hyperprop(['merge', 'd.mjs'], dir),
      hyperprop(['frobnicate'], dir),
      hyperprop(['check', '--runs', 'many'], dir),
    ]);
    for (const r of bad) {
      noStack(r);
      expect(r.status, shown(r)).toBe(2);
      expect(r.stderr.trim().split('\n'), shown(r)).toHaveLength(1);
    }
  });

  it('conform runs the reference against QEMU (or says in one line that QEMU is missing)', async () => {
    const r = await hyperprop(['conform', '--runs', '3', '--seed', '1', '--batch', '3'], dir);
    noStack(r);
    if (
      existsSync('/usr/bin/qemu-system-i386') ||
      process.env.PATH?.split(':').some((p) => existsSync(join(p, 'qemu-system-i386')))
    )
      expect(r.status, shown(r)).toBe(0);
    else {
      expect(r.status, shown(r)).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });

  it('mutants runs a mutant of the catalog and kills it', async () => {
    // An EPT entry mapping a hypervisor frame: caught in the first scenario at seed 1 (bench/RESULTS.md: median 1).
    const r = await hyperprop(['mutants', 'ept-maps-hypervisor-frame', '--runs', '100'], dir);
    noStack(r);
    expect(r.status, shown(r)).toBe(0);
    expect(r.stdout).toMatch(/^ept-maps-hypervisor-frame\s+ept\s+resource-control\s+1\/1\s/m);
  });

  it('plain JavaScript imports hyperprop, and hyperprop/model even with fast-check and effect removed', async () => {
    const all = await run(
      'node',
      ['-e', "import('hyperprop').then(m => console.log(typeof m.check, typeof m.step, typeof m.composeDesign))"],
      dir,
    );
    expect(all.stdout.trim(), shown(all)).toBe('function function function');
    const model = await run('node', ['-e', "import('hyperprop/model').then(m => console.log(typeof m.step))"], dir);
    expect(model.stdout.trim(), shown(model)).toBe('function');
    // Without fast-check and effect: the whole package no longer loads (so they are really gone), the model does.
    const hidden = ['fast-check', 'effect'].map((p) => join(dir, 'node_modules', p));
    for (const p of hidden) renameSync(p, `${p}.hidden`);
    try {
      const [without, modelWithout] = await Promise.all([
        run('node', ['-e', "import('hyperprop').then(() => console.log('loaded'), e => console.log(e.code))"], dir),
        run(
          'node',
          [
            '-e',
            "import('hyperprop/model').then(m => console.log(typeof m.step, typeof m.bootMachine, typeof m.composeDesign))",
          ],
          dir,
        ),
      ]);
      expect(without.stdout.trim(), shown(without)).toBe('ERR_MODULE_NOT_FOUND');
      expect(modelWithout.stdout.trim(), shown(modelWithout)).toBe('function function function');
    } finally {
      for (const p of hidden) renameSync(`${p}.hidden`, p);
    }
  });

  it("the user's vitest: hyperprop/vitest passes for ept, fails for the flawed design with the shrunk trace and a replayable file", async () => {
    const pass = await run('npx', ['--no-install', 'vitest', 'run', 'ept.test.ts'], dir);
    expect(pass.status, shown(pass)).toBe(0);
    expect(pass.stdout).toMatch(/2 passed/);
    expect(pass.stdout).toMatch(/hyperprop ept: seed 1,/);
    const seeded = await run('npx', ['--no-install', 'vitest', 'run', 'seeded.test.ts', '--sequence.seed=7'], dir);
    expect(seeded.status, shown(seeded)).toBe(0);
    expect(seeded.stdout).toMatch(/hyperprop ept: seed 7,/);
    const fail = await run('npx', ['--no-install', 'vitest', 'run', 'flawed.test.ts'], dir);
    const out = fail.stdout + fail.stderr;
    expect(fail.status, shown(fail)).toBe(1);
    expect(out).toMatch(/isolation FAILED on my-ept: found after \d+ run\(s\), shrunk to \d+ operation\(s\)/);
    expect(out).toMatch(/seed 1, path [\d:]+; replay: npx hyperprop replay counterexamples\/my-ept\.isolation\./);
    expect(out).toMatch(/<-- first divergence/);
    const file = /replay: npx hyperprop replay (counterexamples\/\S+\.json) --design my-design\.ts/.exec(out)?.[1];
    expect(file, out).toBeDefined();
    const replay = await hyperprop(['replay', file!, '--design', 'my-design.ts'], dir);
    noStack(replay);
    expect(replay.status, shown(replay)).toBe(1);
    expect(replay.stdout).toMatch(/still fails: isolation .*\(the divergence recorded\)/);
  });
});
