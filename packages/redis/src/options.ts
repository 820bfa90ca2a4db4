import { OptionError } from '@reprise/core';
import {
  MAX_TIMER_DELAY,
  TIMER_LIMIT_REASON,
  anyStringField,
  customField,
  msField,
  notInThisForm,
  optionsSchema,
  parseOptions,
  type ParsedOptions,
} from '@reprise/core/adapter-kit';
import { describe } from './arguments.js';

/**
 * A standalone node-redis 5 client, as `createClient` re-exported by `@keyv/redis` makes it (not a
 * cluster or sentinel client). Typed by the members the adapter uses, so any such client fits
 * whatever its modules, RESP version or type mapping.
 */
export interface RedisClient {
  readonly isOpen: boolean;
  readonly isReady: boolean;
  connect(): Promise<unknown>;
  destroy(): void;
  evalSha(sha1: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  // biome-ignore lint/suspicious/noExplicitAny: a client's listeners take event-specific arguments; any is what lets each fit
  on(event: string, listener: (...args: any[]) => void): unknown;
  // biome-ignore lint/suspicious/noExplicitAny: as on()
  off(event: string, listener: (...args: any[]) => void): unknown;
}

/** Options both forms share. */
export interface RedisAdapterCommonOptions {
  /** Prepended to every key (`reprise:` + key). Any string, `''` for none. Default `'reprise:'`. */
  prefix?: string | undefined;
  /**
   * ms one call may take in all, waiting for the first connection included, before it rejects with
   * `ERR_REPRISE_ADAPTER`: the bound for a server that accepts connections but does not answer.
   * Positive integer; default 5000.
   */
  commandTimeout?: number | undefined;
}

/** `{ url }`: the adapter creates, owns and closes its client. */
export interface RedisAdapterUrlOptions extends RedisAdapterCommonOptions {
  /** `redis://[[user]:password@]host[:port][/db]`, or `rediss://` for TLS. */
  url: string;
  /** ms one connection attempt may take. Positive integer; default 5000. */
  connectTimeout?: number | undefined;
  /**
   * Cap of the reconnect backoff in ms (exponential from 50 ms, with jitter, retried forever).
   * It is also the longest a `close()` during an outage waits for the pending retry. Positive integer; default 1000.
   */
  maxReconnectDelay?: number | undefined;
  client?: never;
}

/** `{ client }`: the caller's client; the adapter connects it if needed and never closes it. */
export interface RedisAdapterClientOptions extends RedisAdapterCommonOptions {
  /** A standalone client from `createClient` re-exported by `@keyv/redis` (same @redis/client major). */
  client: RedisClient;
  url?: never;
  connectTimeout?: never;
  maxReconnectDelay?: never;
}

export type RedisAdapterOptions = RedisAdapterUrlOptions | RedisAdapterClientOptions;

/** Where a `RedisCoordinator` keeps its keys and channels, and how long tokens are remembered. */
export interface RedisCoordinatorOptions {
  /** Prefix of every key and channel (default `'reprise:'`, the adapter's: the names cannot collide). */
  prefix?: string | undefined;
  /** ms a session's token counter outlives its last claim. Positive integer; default 30 days (past the snapshots' life). */
  tokenRetention?: number | undefined;
}

const COMMON_DEFAULTS = Object.freeze({ prefix: 'reprise:', commandTimeout: 5000 });

/** The defaults of {@link RedisAdapterOptions}: prefix `'reprise:'`, and in ms commandTimeout 5000, connectTimeout 5000, maxReconnectDelay 1000. Frozen. */
export const DEFAULTS = Object.freeze({ ...COMMON_DEFAULTS, connectTimeout: 5000, maxReconnectDelay: 1000 });

/** Defaults of {@link RedisCoordinatorOptions}: prefix `'reprise:'`, tokenRetention 30 days (in ms). Frozen. */
export const COORDINATOR_DEFAULTS = Object.freeze({ prefix: 'reprise:', tokenRetention: 30 * 24 * 3_600_000 });

/** Whole ms a Node timer holds. */
const timerMs = msField({ integer: true, max: MAX_TIMER_DELAY, limit: TIMER_LIMIT_REASON });

const urlField = customField<string>(
  (value) => typeof value === 'string' && /^rediss?:\/\//.test(value),
  // Never the url itself: it may carry a password.
  (value) => `must be a redis:// or rediss:// URL string, got ${typeof value === 'string' ? 'another scheme' : describe(value)}`,
);

/** What is wrong with `value` as the client, if anything. */
function clientProblem(value: unknown): string | undefined {
  const c = value as Record<string, unknown> | null;
  if (c === null || typeof c !== 'object') return `must be a node-redis client, got ${describe(value)}`;
  if (c.slots !== undefined || typeof c.getSentinelNode === 'function') {
    return 'must be a standalone node-redis client: cluster and sentinel clients are not supported';
  }
  const missing = ['connect', 'destroy', 'eval', 'evalSha', 'on', 'off'].find((method) => typeof c[method] !== 'function');
  if (missing !== undefined) return `must be a node-redis 5 client (createClient from @keyv/redis): it has no ${missing}()`;
  if (typeof c.isOpen !== 'boolean' || typeof c.isReady !== 'boolean') {
    return 'must be a node-redis 5 client (createClient from @keyv/redis): it has no isOpen/isReady';
  }
  return undefined;
}

const clientField = customField<RedisClient>(
  (value) => clientProblem(value) === undefined,
  (value) => clientProblem(value) ?? '',
);

const urlOnly = notInThisForm('applies to { url } only: configure your own client instead');

const URL_OPTIONS = optionsSchema<RedisAdapterUrlOptions>()(
  {
    url: urlField,
    prefix: anyStringField,
    commandTimeout: timerMs,
    connectTimeout: timerMs,
    maxReconnectDelay: timerMs,
    client: notInThisForm('cannot go with url'),
  },
  DEFAULTS,
);

const CLIENT_OPTIONS = optionsSchema<RedisAdapterClientOptions>()(
  {
    client: clientField,
    prefix: anyStringField,
    commandTimeout: timerMs,
    url: notInThisForm('cannot go with client'),
    connectTimeout: urlOnly,
    maxReconnectDelay: urlOnly,
  },
  COMMON_DEFAULTS,
);

const COORDINATOR_OPTIONS = optionsSchema<RedisCoordinatorOptions>()(
  { prefix: anyStringField, tokenRetention: msField({ integer: true }) },
  COORDINATOR_DEFAULTS,
);

/** The validated options, with defaults. */
export type ResolvedOptions =
  | Readonly<{ kind: 'url' } & ParsedOptions<typeof URL_OPTIONS>>
  | Readonly<{ kind: 'client' } & ParsedOptions<typeof CLIENT_OPTIONS>>;

/**
 * Validates `new RedisAdapter(options)` (and a coordinator's connection, `what` naming it in messages).
 * @throws OptionError (`ERR_REPRISE_OPTION`) on a wrong type or value, an unknown option, both or
 *   neither of `url` and `client`, or a url-only option (`connectTimeout`, `maxReconnectDelay`) with `client`.
 */
export function resolveOptions(options: unknown, what = 'RedisAdapter'): ResolvedOptions {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new OptionError(`${what}: options must be an object with a url or a client, got ${describe(options)}`);
  }
  const given = options as Record<string, unknown>;
  const hasUrl = given.url !== undefined;
  if (hasUrl === (given.client !== undefined))
    throw new OptionError(`${what}: ${hasUrl ? 'give either url or client, not both' : 'give a url or a client'}`);
  if (hasUrl) return Object.freeze({ kind: 'url', ...parseOptions(URL_OPTIONS, given, { what }) });
  return Object.freeze({ kind: 'client', ...parseOptions(CLIENT_OPTIONS, given, { what }) });
}

/** Validates the options of `new RedisCoordinator(connection, options)` (`undefined`: every default). */
export function resolveCoordinatorOptions(options: unknown): Readonly<ParsedOptions<typeof COORDINATOR_OPTIONS>> {
  return Object.freeze(parseOptions(COORDINATOR_OPTIONS, options === undefined ? {} : options, { what: 'RedisCoordinator' }));
}
