import { OptionError } from '@reprise/core';
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
  on(event: string, listener: (...args: any[]) => void): unknown;
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

/** The validated options, with defaults. */
export type ResolvedOptions =
  | { readonly kind: 'url'; readonly url: string; readonly prefix: string; readonly commandTimeout: number; readonly connectTimeout: number; readonly maxReconnectDelay: number }
  | { readonly kind: 'client'; readonly client: RedisClient; readonly prefix: string; readonly commandTimeout: number };

export const DEFAULTS = Object.freeze({
  prefix: 'reprise:',
  commandTimeout: 5000,
  connectTimeout: 5000,
  maxReconnectDelay: 1000,
});

/** Longest delay a Node timer takes (2^31 - 1 ms). */
const MAX_TIMER_MS = 2 ** 31 - 1;

const URL_OPTIONS: ReadonlySet<string> = new Set(['url', 'prefix', 'commandTimeout', 'connectTimeout', 'maxReconnectDelay']);
const CLIENT_OPTIONS: ReadonlySet<string> = new Set(['client', 'prefix', 'commandTimeout']);

function optionError(message: string): OptionError {
  return new OptionError(`RedisAdapter: ${message}`);
}

function milliseconds(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > MAX_TIMER_MS) {
    throw optionError(`${name} must be a positive integer of ms up to ${MAX_TIMER_MS}, got ${describe(value)}`);
  }
  return value;
}

function checkClient(client: unknown): RedisClient {
  const c = client as Record<string, unknown> | null;
  if (c === null || typeof c !== 'object') throw optionError(`client must be a node-redis client, got ${describe(client)}`);
  if (c['slots'] !== undefined || typeof c['getSentinelNode'] === 'function') {
    throw optionError('client must be a standalone node-redis client: cluster and sentinel clients are not supported');
  }
  for (const method of ['connect', 'destroy', 'eval', 'evalSha', 'on', 'off']) {
    if (typeof c[method] !== 'function') {
      throw optionError(`client must be a node-redis 5 client (createClient from @keyv/redis): it has no ${method}()`);
    }
  }
  if (typeof c['isOpen'] !== 'boolean' || typeof c['isReady'] !== 'boolean') {
    throw optionError('client must be a node-redis 5 client (createClient from @keyv/redis): it has no isOpen/isReady');
  }
  return client as RedisClient;
}

/**
 * Validates `new RedisAdapter(options)`.
 * @throws OptionError (`ERR_REPRISE_OPTION`) on a wrong type or value, an unknown option, both or
 *   neither of `url` and `client`, or a url-only option (`connectTimeout`, `maxReconnectDelay`) with `client`.
 */
export function resolveOptions(options: unknown): ResolvedOptions {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw optionError(`options must be an object with a url or a client, got ${describe(options)}`);
  }
  const given = options as Record<string, unknown>;
  const hasUrl = given['url'] !== undefined;
  const hasClient = given['client'] !== undefined;
  if (hasUrl === hasClient) throw optionError(hasUrl ? 'give either url or client, not both' : 'give a url or a client');
  const allowed = hasUrl ? URL_OPTIONS : CLIENT_OPTIONS;
  for (const name of Object.keys(given)) {
    if (allowed.has(name) || given[name] === undefined) continue;
    throw optionError(
      URL_OPTIONS.has(name)
        ? `${name} applies to { url } only: configure your own client instead`
        : `unknown option ${JSON.stringify(name)}`,
    );
  }
  const prefix = given['prefix'] ?? DEFAULTS.prefix;
  if (typeof prefix !== 'string') throw optionError(`prefix must be a string, got ${describe(prefix)}`);
  const commandTimeout = milliseconds('commandTimeout', given['commandTimeout'], DEFAULTS.commandTimeout);
  if (hasClient) return Object.freeze({ kind: 'client', client: checkClient(given['client']), prefix, commandTimeout });
  const url = given['url'];
  if (typeof url !== 'string' || !/^rediss?:\/\//.test(url)) {
    throw optionError(`url must be a redis:// or rediss:// URL string, got ${typeof url === 'string' ? 'another scheme' : describe(url)}`);
  }
  return Object.freeze({
    kind: 'url',
    url,
    prefix,
    commandTimeout,
    connectTimeout: milliseconds('connectTimeout', given['connectTimeout'], DEFAULTS.connectTimeout),
    maxReconnectDelay: milliseconds('maxReconnectDelay', given['maxReconnectDelay'], DEFAULTS.maxReconnectDelay),
  });
}
