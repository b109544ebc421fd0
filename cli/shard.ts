/**
 * Which shard of the work this machine runs: `--shard K/N`, or else the environment of the common CI
 * runners, so that one command line serves every machine of a parallel job:
 *
 * - GitLab CI's `parallel:` sets `CI_NODE_INDEX` (1-based) and `CI_NODE_TOTAL`;
 * - a Kubernetes Indexed Job sets `JOB_COMPLETION_INDEX` (0-based); the number of shards (the Job's
 *   `completions`) is not in the pod's environment, so it comes from `--shard-count N` or
 *   `HYPERPROP_SHARD_COUNT`.
 *
 * GitHub Actions has no such variable: a matrix passes `--shard ${{ matrix.shard }}/N`.
 */
import { UsageError } from './designs.ts';
import { visible } from './escape.ts';
import { parseShard, type Shard } from './work.ts';

/** Where the shard came from, for the report's reader. */
export type ShardSource = '--shard' | 'CI_NODE_INDEX' | 'JOB_COMPLETION_INDEX';

const integer = (v: string | undefined): number | undefined =>
  v !== undefined && /^\d{1,6}$/.test(v.trim()) ? Number(v.trim()) : undefined;

/**
 * The shard: `--shard K/N` first, then GitLab's variables, then a Kubernetes Indexed Job's index with
 * `count` (or `HYPERPROP_SHARD_COUNT`); none of them: the whole work. Throws UsageError (one line)
 * when a value is malformed or out of range.
 */
export const resolveShard = (
  flag: string | undefined,
  count: number | undefined,
  env: Readonly<Record<string, string | undefined>>,
): { readonly shard: Shard; readonly source: ShardSource } | undefined => {
  const r = fromFlagOrEnvironment(flag, count, env);
  if (count !== undefined && r?.source !== 'JOB_COMPLETION_INDEX')
    throw new UsageError(
      '--shard-count N goes with a Kubernetes Indexed Job (JOB_COMPLETION_INDEX); elsewhere use --shard K/N',
    );
  return r;
};

const fromFlagOrEnvironment = (
  flag: string | undefined,
  count: number | undefined,
  env: Readonly<Record<string, string | undefined>>,
): { readonly shard: Shard; readonly source: ShardSource } | undefined => {
  if (flag !== undefined) {
    const shard = parseShard(flag);
    if (!shard) throw new UsageError(`--shard must be K/N with 1 <= K <= N, not '${visible(flag)}'`);
    return { shard, source: '--shard' };
  }
  if (env.CI_NODE_INDEX !== undefined || env.CI_NODE_TOTAL !== undefined) {
    const index = integer(env.CI_NODE_INDEX);
    const total = integer(env.CI_NODE_TOTAL);
    if (index === undefined || total === undefined || index < 1 || index > total)
      throw new UsageError(
        `CI_NODE_INDEX=${visible(env.CI_NODE_INDEX ?? '')} and CI_NODE_TOTAL=${visible(env.CI_NODE_TOTAL ?? '')} (GitLab's parallel jobs) must be integers with 1 <= index <= total`,
      );
    return { shard: { index, count: total }, source: 'CI_NODE_INDEX' };
  }
  if (env.JOB_COMPLETION_INDEX !== undefined) {
    let n = count;
    if (n === undefined && env.HYPERPROP_SHARD_COUNT !== undefined) {
      n = integer(env.HYPERPROP_SHARD_COUNT);
      if (n === undefined || n < 1)
        throw new UsageError(
          `HYPERPROP_SHARD_COUNT must be a positive integer, not '${visible(env.HYPERPROP_SHARD_COUNT)}'`,
        );
    }
    if (n === undefined)
      throw new UsageError(
        `JOB_COMPLETION_INDEX=${visible(env.JOB_COMPLETION_INDEX)} is set (a Kubernetes Indexed Job): give the number of shards (the Job's completions) with --shard-count N or HYPERPROP_SHARD_COUNT`,
      );
    const index = integer(env.JOB_COMPLETION_INDEX);
    if (index === undefined || index >= n)
      throw new UsageError(
        `JOB_COMPLETION_INDEX=${visible(env.JOB_COMPLETION_INDEX)} must be an integer in 0..${n - 1} (${n} shards)`,
      );
    return { shard: { index: index + 1, count: n }, source: 'JOB_COMPLETION_INDEX' };
  }
  return undefined;
};
