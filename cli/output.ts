/**
 * Where the command writes, checked before any work starts (a report lost at the end of a long run,
 * or an exit 2 hiding a real exit 1, is worse than a usage error at once).
 */
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { UsageError } from './designs.ts';
import { visible } from './escape.ts';

const writable = (p: string): boolean => {
  try {
    accessSync(p, constants.W_OK);
    return true;
  } catch {
    return false;
  }
};

/** `file` can be written (created, or replaced): its folder exists and is writable; it is not a folder. */
export const checkOutputFile = (file: string, option: string): void => {
  const abs = resolve(file);
  if (existsSync(abs)) {
    if (statSync(abs).isDirectory()) throw new UsageError(`${option} ${visible(file)}: is a folder, not a file`);
    if (!writable(abs)) throw new UsageError(`${option} ${visible(file)}: not writable`);
    return;
  }
  const dir = dirname(abs);
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new UsageError(`${option} ${visible(file)}: its folder ${visible(dirname(file))} does not exist`);
  if (!writable(dir)) throw new UsageError(`${option} ${visible(file)}: its folder is not writable`);
};

/** `dir` is a writable folder, or can be made one (its nearest existing ancestor is a writable folder). */
export const checkOutputDir = (dir: string, option: string): void => {
  let p = resolve(dir);
  while (!existsSync(p)) {
    const up = dirname(p);
    if (up === p) break;
    p = up;
  }
  if (!statSync(p).isDirectory())
    throw new UsageError(
      `${option} ${visible(dir)}: ${p === resolve(dir) ? 'is a file, not a folder' : 'lies under a file'}`,
    );
  if (!writable(p)) throw new UsageError(`${option} ${visible(dir)}: not writable`);
};
