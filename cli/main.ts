/**
 * The hyperprop command line. Each verb lives in its own module and registers itself here.
 * Exit codes: 0 all held, 1 a property failed (or a design misbehaved: ERROR), 2 bad usage or bad
 * input. Every error is one line, `hyperprop VERB: what is wrong` (`hyperprop: …` before a verb).
 */
import { Command, CommanderError } from 'commander';
import { registerCheck } from './check.ts';
import { registerConform } from './conform.ts';
import { errorLine, visible } from './escape.ts';
import { registerList, registerSchema } from './list.ts';
import { registerMerge } from './merge.ts';
import { registerMutants } from './mutants.ts';
import { registerReplay } from './replay.ts';
import { PACKAGE_VERSION } from './version.ts';

export const EXIT = { OK: 0, FAILED: 1, USAGE: 2 } as const;

const program = new Command('hyperprop')
  .description('Property-based formal checking of hypervisor designs against a faithful x86 reference model')
  .version(PACKAGE_VERSION, '-V, --version', 'the version of hyperprop')
  .exitOverride();

registerCheck(program);
registerReplay(program);
registerMerge(program);
registerList(program);
registerSchema(program);
registerConform(program);
registerMutants(program);

/** The verb this command line runs, if it names one. */
const verb = (): string | undefined => {
  const first = process.argv.slice(2).find((a) => !a.startsWith('-'));
  return program.commands.some((c) => c.name() === first) ? first : undefined;
};

/** `hyperprop VERB: ` (or `hyperprop: ` when no verb is named). */
export const errorPrefix = (): string => {
  const v = verb();
  return v ? `hyperprop ${v}: ` : 'hyperprop: ';
};

// Commander's own messages (`error: unknown option …`) take the same prefix, in one escaped line.
const commanderOutput = {
  outputError: (s: string, write: (s: string) => void) =>
    write(
      `${errorPrefix()}${visible(
        s
          .split('\n')
          .map((l) => l.trim().replace(/^error: /, ''))
          .filter((l) => l !== '')
          .join(' '),
      )}\n`,
    ),
};
program.configureOutput(commanderOutput);
for (const c of program.commands) c.configureOutput(commanderOutput);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    process.exit(e.exitCode === 0 ? EXIT.OK : EXIT.USAGE);
  }
  process.stderr.write(`${errorPrefix()}${errorLine(e, 1000)}\n`);
  process.exit(EXIT.USAGE);
}
