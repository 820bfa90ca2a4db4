import { randomBytes } from 'node:crypto';
import type { SessionCoordinator } from '@reprise/core';
import { PostgresCoordinator } from '@reprise/postgres';
import { RedisCoordinator } from '@reprise/redis';
import { ADAPTER_DEFAULTS, redact, type AdapterKind } from './adapter.js';

/** The coordinator chosen from the environment (several instances), and a description for the logs. */
export interface CoordinatorChoice {
  readonly coordinator: SessionCoordinator;
  /** This process's name among the instances (`REPRISE_INSTANCE_ID`, else random). */
  readonly instanceId: string;
  /** For example `redis coordinator, prefix "reprise:shop:"` (never a password). */
  readonly description: string;
}

const ON = new Set(['1', 'on', 'true', 'yes']);
const OFF = new Set(['', '0', 'off', 'false', 'no']);
const INSTANCE_ID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Builds the coordinator of several instances when `REPRISE_COORDINATOR` is on (`1`, `on`, `true`,
 * `yes`; off when unset, `0`, `off`, `false`, `no`), on the store the adapter uses:
 * - `redis`: a `RedisCoordinator` on `REDIS_URL`, keys and channels under `REPRISE_PREFIX` (the
 *   adapter's prefix: the coordinator's names, `lease:`, `token:`, `instance:`, cannot collide with
 *   the adapter's);
 * - `postgres`: a `PostgresCoordinator` on `DATABASE_URL`, leases in table `REPRISE_LEASE_TABLE`
 *   (default: the adapter's table name + `_leases`), created with its indexes on first use.
 *
 * `REPRISE_INSTANCE_ID` names the process (1 to 64 letters, digits, `-` or `_`; default random).
 * Returns `undefined` when coordination is off. Throws (a message for the operator) on a wrong
 * value, or when the adapter is the memory one: instances coordinate through a store they share.
 * Opens no connection before the manager joins. The caller owns it: `await coordinator.leave()`
 * after `manager.shutdown()` (which releases the leases), before closing the adapter.
 */
export function coordinatorFromEnv(env: NodeJS.ProcessEnv, kind: AdapterKind): CoordinatorChoice | undefined {
  const flag = (env.REPRISE_COORDINATOR ?? '').trim().toLowerCase();
  if (OFF.has(flag)) {
    if (env.REPRISE_INSTANCE_ID) throw new Error('REPRISE_INSTANCE_ID needs REPRISE_COORDINATOR=1 (several instances)');
    return undefined;
  }
  if (!ON.has(flag)) throw new Error(`REPRISE_COORDINATOR must be 1 or 0, got ${JSON.stringify(env.REPRISE_COORDINATOR)}`);
  if (kind === 'memory') {
    throw new Error('REPRISE_COORDINATOR=1 needs a store the instances share: REPRISE_ADAPTER=redis or postgres');
  }
  const instanceId = env.REPRISE_INSTANCE_ID || `shop-${randomBytes(6).toString('base64url')}`;
  if (!INSTANCE_ID.test(instanceId))
    throw new Error(`REPRISE_INSTANCE_ID must be 1 to 64 letters, digits, - or _, got ${JSON.stringify(instanceId)}`);
  const read = (name: keyof typeof ADAPTER_DEFAULTS): string => env[name] || ADAPTER_DEFAULTS[name];
  if (kind === 'redis') {
    const url = read('REDIS_URL');
    const prefix = read('REPRISE_PREFIX');
    return {
      coordinator: new RedisCoordinator({ url }, { prefix }),
      instanceId,
      description: `redis coordinator at ${redact(url)}, prefix ${JSON.stringify(prefix)}`,
    };
  }
  const url = read('DATABASE_URL');
  const table = env.REPRISE_LEASE_TABLE || `${read('REPRISE_TABLE')}_leases`;
  return {
    coordinator: new PostgresCoordinator({ connectionString: url }, { table }),
    instanceId,
    description: `postgres coordinator at ${redact(url)}, lease table ${JSON.stringify(table)}`,
  };
}
