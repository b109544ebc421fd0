/**
 * `hyperprop merge REPORT...`: join the JSON reports of the shards of one `hyperprop check` run
 * (`--shard 1/N` … `N/N`, on N machines) into the report the unsharded run gives — timings aside —
 * in any reporter (text, JSON, JUnit). Exit 0 when everything held, 1 when a property failed or a saved
 * counterexample still fails, 2 on bad input (cli/merge-report.ts, loaded with effect only when the
 * verb runs).
 */
import { writeFileSync } from 'node:fs';
import { type Command, Option } from 'commander';
import { EXIT } from './check.ts';
import { allHeld, REPORTERS, type Reporter, renderReport, summaryTable } from './report.ts';

export const registerMerge = (program: Command): void => {
  program
    .command('merge')
    .description(
      "join the JSON reports of a check's shards (--shard 1/N … N/N) into the unsharded run's report; exit 0 if everything held, 1 if not",
    )
    .argument('<report...>', 'the JSON reports of every shard (hyperprop check --reporter json --output FILE)')
    .addOption(new Option('--reporter <r>', 'report format').choices(REPORTERS as string[]).default('text'))
    .option('--output <file>', 'write the report to this file instead of standard output')
    .action(async (files: string[], o: { reporter: Reporter; output?: string }) => {
      const { mergeReports, readReport } = await import('./merge-report.ts');
      const report = mergeReports(files.map((file) => ({ file, report: readReport(file) })));
      const text = renderReport(report, o.reporter);
      if (o.output) {
        writeFileSync(o.output, text);
        process.stderr.write(`${summaryTable(report)}\nreport written to ${o.output}\n`);
      } else process.stdout.write(text);
      process.exitCode = allHeld(report) ? EXIT.OK : EXIT.FAILED;
    });
};
