/**
 * Limits shared by the command's options and the counterexample schemas, in one place so they agree.
 */
import { MAX_GUESTS } from '../model/host/layout.ts';

/** Seeds: what `--seed` accepts and what a counterexample file may record (fast-check's 31-bit seeds). */
export const SEED_MAX = 2 ** 31 - 1;
/** Guests a counterexample may have: as many as a hosted machine runs (model/host/layout.ts). */
export const MAX_FILE_GUESTS = MAX_GUESTS;
/** Seconds one operation of a design (or a design file's load) may run before the watchdog stops it. */
export const DEFAULT_STEP_TIMEOUT_SECONDS = 30;
