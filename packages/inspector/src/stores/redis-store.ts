import { createClient, RESP_TYPES } from '@redis/client';
import { storeError } from '../errors.js';
import { redisMatch, matches } from '../pattern.js';
import type { KeyPattern } from '../pattern.js';
import type { Layout, SnapshotStore, StoredEntry } from './store.js';

/** Keys asked for per `SCAN` call (a hint to Redis), and read per pipeline. */
const SCAN_COUNT = 250;
/** Keys per `UNLINK`. */
const DELETE_BATCH = 500;
/** Replies of bulk strings as Buffers: values are read as the exact bytes stored. */
const AS_BUFFERS = { [RESP_TYPES.BLOB_STRING]: Buffer };

/** What the store uses of a node-redis 5 client. */
interface Client {
  connect(): Promise<unknown>;
  destroy(): void;
  sendCommand<T>(args: ReadonlyArray<string | Buffer>, options?: { typeMapping?: unknown; timeout?: number }): Promise<T>;
  on(event: 'error', listener: (error: unknown) => void): unknown;
}

/** Where to connect and what to read. */
export interface RedisStoreOptions {
  /** `redis://` or `rediss://` URL. */
  readonly url: string;
  /** The adapter's key prefix (default of `RedisAdapter`: `'reprise:'`). */
  readonly prefix: string;
  /** ms to connect, and for each command. */
  readonly timeout: number;
  /** The URL for messages (password hidden). */
  readonly safeUrl: string;
}

/**
 * Reads the keys `RedisAdapter` and `RedisCoordinator` write under a prefix. Keys are found with
 * `SCAN … MATCH` and read in pipelines (`TYPE` and `PTTL`, then the contents by type), so a scan of
 * a large keyspace never blocks Redis the way `KEYS` would.
 */
export class RedisStore implements SnapshotStore {
  readonly description: string;
  readonly #client: Client;
  readonly #options: RedisStoreOptions;
  #closed = false;

  private constructor(client: Client, options: RedisStoreOptions) {
    this.#client = client;
    this.#options = options;
    this.description = `Redis ${options.safeUrl}, prefix ${JSON.stringify(options.prefix)}`;
  }

  /** Connects (one attempt, no reconnection). @throws InspectorError `ERR_REPRISE_INSPECTOR_STORE` when Redis cannot be reached. */
  static async open(options: RedisStoreOptions): Promise<RedisStore> {
    const client = createClient({
      url: options.url,
      disableOfflineQueue: true,
      socket: { connectTimeout: options.timeout, reconnectStrategy: false },
    }) as unknown as Client;
    client.on('error', () => {}); // every failure also rejects the call that met it
    try {
      await withDeadline(client.connect(), options.timeout, `no answer within ${options.timeout} ms`);
    } catch (error) {
      try {
        client.destroy();
      } catch {
        // a client that never connected may refuse destroy()
      }
      throw storeError(`cannot reach Redis at ${options.safeUrl}`, error);
    }
    return new RedisStore(client, options);
  }

  async *scan(pattern: KeyPattern): AsyncIterable<StoredEntry[]> {
    const match = redisMatch(this.#options.prefix, pattern);
    const seen = new Set<string>();
    let cursor = '0';
    do {
      const [next, found] = await this.#send<[string, string[]]>(['SCAN', cursor, 'MATCH', match, 'COUNT', String(SCAN_COUNT)]);
      cursor = next;
      const keys = found.map((full) => full.slice(this.#options.prefix.length)).filter((key) => !seen.has(key) && matches(pattern, key));
      for (const key of keys) seen.add(key);
      if (keys.length > 0) yield await this.#read(keys);
    } while (cursor !== '0');
  }

  async get(key: string): Promise<StoredEntry | undefined> {
    const [entry] = await this.#read([key]);
    return entry;
  }

  async delete(entries: readonly StoredEntry[]): Promise<number> {
    let deleted = 0;
    for (let start = 0; start < entries.length; start += DELETE_BATCH) {
      const batch = entries.slice(start, start + DELETE_BATCH).map((entry) => entry.ref);
      deleted += await this.#send<number>(['UNLINK', ...batch]);
    }
    return deleted;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#client.destroy();
  }

  /** Reads the keys (two pipelined round trips); keys that vanished meanwhile are left out. */
  async #read(keys: readonly string[]): Promise<StoredEntry[]> {
    const full = keys.map((key) => this.#options.prefix + key);
    const [types, ttls] = await Promise.all([
      Promise.all(full.map((k) => this.#send<string>(['TYPE', k]))),
      Promise.all(full.map((k) => this.#send<number>(['PTTL', k]))),
    ]);
    const now = Date.now();
    const entries = await Promise.all(keys.map((key, i) => this.#entry(key, full[i]!, types[i]!, ttls[i]!, now)));
    return entries.filter((entry): entry is StoredEntry => entry !== undefined);
  }

  async #entry(key: string, full: string, type: string, pttl: number, now: number): Promise<StoredEntry | undefined> {
    if (type === 'none' || pttl === -2) return undefined;
    const contents = await this.#contents(key, full, type);
    if (contents === undefined) return undefined;
    const ttlMs = pttl >= 0 ? pttl : undefined;
    return {
      key,
      ref: full,
      layout: contents.layout,
      value: contents.value,
      bytes: contents.value?.length ?? 0,
      version: contents.version,
      expiresAt: ttlMs === undefined ? undefined : now + ttlMs,
      ttlMs,
      detail: contents.detail,
    };
  }

  /** What the key holds, by its type (see {@link Layout}). */
  async #contents(key: string, full: string, type: string): Promise<Contents | undefined> {
    switch (type) {
      case 'string':
        return this.#string(key, full);
      case 'hash':
        return this.#hash(full);
      case 'zset': {
        const members = await this.#send<number>(['ZCARD', full]);
        return key === 'deadlines'
          ? { layout: 'deadlines', detail: `sorted set of ${members} idle deadlines` }
          : { layout: 'foreign', detail: `a sorted set of ${members} members` };
      }
      default:
        return { layout: 'foreign', detail: `a Redis ${type}` };
    }
  }

  async #string(key: string, full: string): Promise<Contents | undefined> {
    const value = await this.#send<Buffer | null>(['GET', full], AS_BUFFERS);
    if (value === null) return undefined;
    if (key.startsWith('token:') && /^\d{1,16}$/.test(value.toString('latin1'))) {
      return { layout: 'token', detail: `lease token counter at ${value.toString('latin1')}` };
    }
    return { layout: 'value', value, version: '0' }; // a plain string: a snapshot of @reprise/redis 0.1
  }

  async #hash(full: string): Promise<Contents | undefined> {
    const [fields, count] = await Promise.all([
      this.#send<Array<Buffer | null>>(['HMGET', full, 'value', 'version', 'owner', 'token'], AS_BUFFERS),
      this.#send<number>(['HLEN', full]),
    ]);
    const [value, version, owner, token] = fields.map((field) => field ?? undefined);
    if (count === 0) return undefined;
    if (value !== undefined && version !== undefined) return { layout: 'value', value, version: version.toString('latin1') };
    if (version !== undefined && count === 1)
      return {
        layout: 'floor',
        version: version.toString('latin1'),
        detail: `version ${version.toString('latin1')}, no value (taken by a restore)`,
      };
    if (owner !== undefined && token !== undefined)
      return { layout: 'lease', detail: `held by ${JSON.stringify(owner.toString('utf8'))}, token ${token.toString('latin1')}` };
    return { layout: 'foreign', detail: `a hash of ${count} fields that is not a Reprise snapshot` };
  }

  async #send<T>(args: string[], typeMapping?: unknown): Promise<T> {
    try {
      return await this.#client.sendCommand<T>(args, {
        timeout: this.#options.timeout,
        ...(typeMapping === undefined ? {} : { typeMapping }),
      });
    } catch (error) {
      throw storeError(`Redis at ${this.#options.safeUrl} failed on ${args[0]}`, error);
    }
  }
}

/** `work`, or a rejection with `message` after `ms` (node-redis bounds the TCP connect, not the handshake after it). */
async function withDeadline<T>(work: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

interface Contents {
  readonly layout: Layout;
  readonly value?: Buffer;
  readonly version?: string;
  readonly detail?: string;
}
