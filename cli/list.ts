/**
 * `hyperprop list` (designs and properties, one line each) and `hyperprop classify` (the
 * Popek–Goldberg table of the ISA, computed from the semantics).
 */
import { writeFileSync } from 'node:fs';
import { type Command, Option } from 'commander';
import { PRESETS } from '../model/designs/presets.ts';
import { SYSCALL_DESIGNS } from '../model/syscall/presets.ts';
import { PROPERTIES } from '../properties/check.ts';
import { classify, renderClassification } from '../properties/classify.ts';
import { PROPERTY_NAMES } from '../properties/property.ts';
import { SYSCALL_PROPERTIES, SYSCALL_PROPERTY_NAMES } from '../properties/syscall/properties.ts';
import { intOption } from './check.ts';
import { defaultDesigns } from './designs.ts';
import { checkOutputFile } from './output.ts';

export const registerList = (program: Command): void => {
  program
    .command('list')
    .description('the built-in designs and the properties, with one-line descriptions')
    .addOption(new Option('--reporter <r>', 'output format').choices(['text', 'json']).default('text'))
    .action((o: { reporter: 'text' | 'json' }) => {
      const defaults = defaultDesigns();
      const designs = Object.entries(PRESETS).map(([name, d]) => ({
        name,
        default: defaults.includes(name),
        description: d.description,
      }));
      const properties = PROPERTY_NAMES.map((name) => ({ name, description: PROPERTIES[name].description }));
      const syscallDesigns = Object.entries(SYSCALL_DESIGNS).map(([name, d]) => ({
        name,
        structure: d.structure,
        description: d.description,
      }));
      const syscallProperties = SYSCALL_PROPERTY_NAMES.map((name) => ({
        name,
        description: SYSCALL_PROPERTIES[name].description,
      }));
      if (o.reporter === 'json') {
        process.stdout.write(
          `${JSON.stringify({ designs, properties, syscallDesigns, syscallProperties }, null, 2)}\n`,
        );
        return;
      }
      const w =
        Math.max(...[...designs, ...properties, ...syscallDesigns, ...syscallProperties].map((x) => x.name.length)) + 2;
      const lines = ['designs (* checked by default):'];
      for (const d of designs) lines.push(`  ${(d.default ? '* ' : '  ') + d.name.padEnd(w)}${d.description}`);
      lines.push('', 'properties:');
      for (const p of properties) lines.push(`    ${p.name.padEnd(w)}${p.description}`);
      lines.push('', 'system-call-level designs (check them by name with --design):');
      for (const d of syscallDesigns) lines.push(`    ${d.name.padEnd(w)}${d.description}`);
      lines.push('', 'system-call-level properties:');
      for (const p of syscallProperties) lines.push(`    ${p.name.padEnd(w)}${p.description}`);
      process.stdout.write(`${lines.join('\n')}\n`);
    });
  program
    .command('classify')
    .description('the Popek–Goldberg classification of the ISA, computed from the semantics')
    .option('--samples <n>', 'sampled executions per instruction', intOption('--samples', 1, 100_000), 300)
    .option('--seed <n>', 'seed', intOption('--seed', 0, 2 ** 31 - 1), 1974)
    .addOption(new Option('--reporter <r>', 'output format').choices(['text', 'json']).default('text'))
    .action((o: { samples: number; seed: number; reporter: 'text' | 'json' }) => {
      const table = classify({ samples: o.samples, seed: o.seed });
      process.stdout.write(
        o.reporter === 'json' ? `${JSON.stringify(table, null, 2)}\n` : `${renderClassification(table)}\n`,
      );
    });
};

/** The counterexample files' JSON Schema (either level's format), as published in counterexamples/schema.json. */
export const schemaText = async (): Promise<string> => {
  const { counterexampleFileJsonSchema } = await import('./syscall-counterexample.ts');
  return `${JSON.stringify(counterexampleFileJsonSchema(), null, 2)}\n`;
};

export const registerSchema = (program: Command): void => {
  program
    .command('schema')
    .description('the JSON Schema of counterexample files (counterexamples/schema.json)')
    .option('--write <file>', 'write it to this file instead of standard output')
    .action(async (o: { write?: string }) => {
      if (o.write !== undefined) checkOutputFile(o.write, '--write');
      const text = await schemaText();
      if (o.write) writeFileSync(o.write, text);
      else process.stdout.write(text);
    });
};
