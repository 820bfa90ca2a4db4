import type { SessionAdapter } from '@reprise/core';
import { MemoryAdapter } from '@reprise/memory';
import { PostgresAdapter } from '@reprise/postgres';
import { RedisAdapter } from '@reprise/redis';

/** The adapters the example can run on. */
export const ADAPTER_KINDS = ['memory', 'redis', 'postgres'] as const;
export type AdapterKind = (typeof ADAPTER_KINDS)[number];

/** Defaults of the environment variables {@link adapterFromEnv} reads. */
export const ADAPTER_DEFAULTS = Object.freeze({
  REPRISE_ADAPTER: 'memory',
  REDIS_URL: 'redis://127.0.0.1:6379',
  REPRISE_PREFIX: 'reprise:shop:',
  DATABASE_URL: 'postgres://127.0.0.1:5432/test',
  REPRISE_TABLE: 'reprise_shop_snapshots',
});

/** The adapter chosen from the environment, and a one-line description of it for the logs. */
export interface AdapterChoice {
  readonly kind: AdapterKind;
  readonly adapter: SessionAdapter;
  /** For example `redis adapter at redis://127.0.0.1:6379, prefix "reprise:shop:"` (never a password). */
  readonly description: string;
}

/** Options of {@link adapterFromEnv}. */
export interface AdapterFromEnvOptions {
  /** Clock of the memory adapter (the app's clock). */
  now?: () => number;
  /** Where the Postgres adapter reports failures no call can reject with (a failed background sweep). */
  log?: (line: string) => void;
}

/**
 * Builds the adapter that `REPRISE_ADAPTER` names (empty values count as unset):
 * - `memory` (default): a `MemoryAdapter`: snapshots die with the process;
 * - `redis`: a `RedisAdapter` on `REDIS_URL`, keys under `REPRISE_PREFIX`;
 * - `postgres`: a `PostgresAdapter` on `DATABASE_URL`, in table `REPRISE_TABLE` (created if missing).
 * Opens no connection (both adapters connect on their first call). Throws on an unknown adapter name.
 * The caller owns the adapter: `await adapter.close?.()` after `manager.shutdown()`.
 */
export function adapterFromEnv(env: NodeJS.ProcessEnv = process.env, options: AdapterFromEnvOptions = {}): AdapterChoice {
  const read = (name: keyof typeof ADAPTER_DEFAULTS): string => {
    const value = env[name];
    return value === undefined || value === '' ? ADAPTER_DEFAULTS[name] : value;
  };
  const kind = read('REPRISE_ADAPTER');
  switch (kind) {
    case 'memory':
      return { kind, adapter: new MemoryAdapter({ now: options.now }), description: 'memory adapter' };
    case 'redis': {
      const url = read('REDIS_URL');
      const prefix = read('REPRISE_PREFIX');
      return {
        kind,
        adapter: new RedisAdapter({ url, prefix }),
        description: `redis adapter at ${redact(url)}, prefix ${JSON.stringify(prefix)}`,
      };
    }
    case 'postgres': {
      const url = read('DATABASE_URL');
      const table = read('REPRISE_TABLE');
      const log = options.log ?? ((line: string) => console.error(line));
      const adapter = new PostgresAdapter(
        { connectionString: url },
        { table, onError: (error) => log(`[reprise] postgres: ${error.message}`) },
      );
      return { kind, adapter, description: `postgres adapter at ${redact(url)}, table ${JSON.stringify(table)}` };
    }
    default:
      throw new Error(`REPRISE_ADAPTER must be one of ${ADAPTER_KINDS.join(', ')}, got ${JSON.stringify(kind)}`);
  }
}

/** The URL without its password (it goes to logs). */
export function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString().replace(/\/$/, '');
  } catch {
    return '(an unparsable URL)';
  }
}
