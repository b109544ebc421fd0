/**
 * The hyperprop command line. Each verb lives in its own module and registers itself here.
 * Exit codes: 0 all held, 1 a property failed, 2 bad usage or bad input.
 */
import { Command, CommanderError } from 'commander';
import { registerCheck } from './check.ts';
import { registerConform } from './conform.ts';
import { registerList, registerSchema } from './list.ts';
import { registerMerge } from './merge.ts';
import { registerMutants } from './mutants.ts';
import { registerReplay } from './replay.ts';

export const EXIT = { OK: 0, FAILED: 1, USAGE: 2 } as const;

const program = new Command('hyperprop')
  .description('Property-based formal checking of hypervisor designs against a faithful x86 reference model')
  .exitOverride()
  .configureOutput({ outputError: (s, write) => write(s) });

registerCheck(program);
registerReplay(program);
registerMerge(program);
registerList(program);
registerSchema(program);
registerConform(program);
registerMutants(program);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    process.exit(e.exitCode === 0 ? EXIT.OK : EXIT.USAGE);
  }
  process.stderr.write(`hyperprop: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(EXIT.USAGE);
}
