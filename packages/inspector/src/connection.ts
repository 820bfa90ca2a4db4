import { DEFAULTS as REDIS_DEFAULTS } from '@reprise/redis';
import { DEFAULTS as POSTGRES_DEFAULTS, parseTableName } from '@reprise/postgres';
import type { TableName } from '@reprise/postgres';
import { usageError } from './errors.js';
import type { Invocation } from './arguments.js';
import { PostgresStore } from './stores/postgres-store.js';
import { RedisStore } from './stores/redis-store.js';
import type { SnapshotStore } from './stores/store.js';

/** Environment variables the inspector reads when the options do not say. */
export const ENVIRONMENT = Object.freeze({
  redis: 'REPRISE_REDIS_URL',
  postgres: 'REPRISE_POSTGRES_URL',
  redisPrefix: 'REPRISE_REDIS_PREFIX',
  table: 'REPRISE_POSTGRES_TABLE',
});

/** Which store to open, resolved from the options and the environment. */
export type Target =
  | { readonly kind: 'redis'; readonly url: string; readonly prefix: string }
  | { readonly kind: 'postgres'; readonly url: string; readonly table: string };

/**
 * The store of `--redis <url>` or `--postgres <url>`, else of `REPRISE_REDIS_URL` or
 * `REPRISE_POSTGRES_URL` (an option wins over the environment; one store per run).
 * @throws InspectorError `ERR_REPRISE_INSPECTOR_USAGE` when none or both are given, on a URL of the
 *   wrong scheme, or on an option of the other store.
 */
export function resolveTarget(options: Invocation, env: NodeJS.ProcessEnv): Target {
  if (options.redis !== undefined && options.postgres !== undefined) throw usageError('give --redis or --postgres, not both');
  const fromEnv = (name: string): string | undefined => (env[name] === '' ? undefined : env[name]);
  let redis = options.redis;
  let postgres = options.postgres;
  if (redis === undefined && postgres === undefined) {
    redis = fromEnv(ENVIRONMENT.redis);
    postgres = fromEnv(ENVIRONMENT.postgres);
    if (redis !== undefined && postgres !== undefined) {
      throw usageError(`both ${ENVIRONMENT.redis} and ${ENVIRONMENT.postgres} are set: choose one with --redis or --postgres`);
    }
  }
  if (redis !== undefined) {
    if (options.table !== undefined) throw usageError('--table applies to --postgres; for Redis give --redis-prefix');
    checkScheme(redis, ['redis:', 'rediss:'], '--redis');
    return { kind: 'redis', url: redis, prefix: options.redisPrefix ?? fromEnv(ENVIRONMENT.redisPrefix) ?? REDIS_DEFAULTS.prefix };
  }
  if (postgres !== undefined) {
    if (options.redisPrefix !== undefined) throw usageError('--redis-prefix applies to --redis; for Postgres give --table');
    checkScheme(postgres, ['postgres:', 'postgresql:'], '--postgres');
    return { kind: 'postgres', url: postgres, table: options.table ?? fromEnv(ENVIRONMENT.table) ?? POSTGRES_DEFAULTS.table };
  }
  throw usageError(`no store given: use --redis <url> or --postgres <url> (or set ${ENVIRONMENT.redis} or ${ENVIRONMENT.postgres})`);
}

/**
 * Opens the store.
 * @throws InspectorError `ERR_REPRISE_INSPECTOR_USAGE` on a malformed table name,
 *   `ERR_REPRISE_INSPECTOR_STORE` when the store cannot be reached or is not a Reprise store.
 */
export async function openStore(target: Target, timeout: number): Promise<SnapshotStore> {
  const safeUrl = hidePassword(target.url);
  if (target.kind === 'redis') return RedisStore.open({ url: target.url, prefix: target.prefix, timeout, safeUrl });
  let table: TableName;
  try {
    table = parseTableName(target.table);
  } catch (error) {
    throw usageError(`--table: ${(error as Error).message.replace(/^PostgresAdapter: /, '')}`, error);
  }
  return PostgresStore.open({ url: target.url, table, timeout, safeUrl });
}

function checkScheme(url: string, schemes: readonly string[], option: string): void {
  let protocol: string;
  try {
    protocol = new URL(url).protocol;
  } catch (error) {
    throw usageError(`${option} must be a URL (${schemes.map((s) => `${s}//`).join(' or ')}), got something else`, error);
  }
  if (!schemes.includes(protocol))
    throw usageError(`${option} must be a ${schemes.map((s) => `${s}//`).join(' or ')} URL, got ${protocol}//`);
}

/** The URL for messages: its password replaced by `***` (a URL is often a secret too). */
export function hidePassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable URL)';
  }
}
