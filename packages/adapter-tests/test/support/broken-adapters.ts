import { connect } from 'node:net';
import type { Socket } from 'node:net';
import type { Fence, SessionAdapter, VersionedValue, VersionedWrite } from '@reprise/core';
import { MemoryAdapter } from '@reprise/memory';

/**
 * Adapters with one subtle defect each, built on the reference MemoryAdapter, for proving that the
 * suite catches them. Each overrides only what its name says.
 */

/** `take()` reads but does not delete. */
export class TakeWithoutDelete extends MemoryAdapter {
  override async take(key: string): Promise<string | undefined> {
    return this.load(key);
  }
}

/** `save()` ignores the TTL: values never expire. */
export class TtlNeverExpires extends MemoryAdapter {
  override save(key: string, value: string): Promise<void> {
    return super.save(key, value);
  }
}

/** `delete()` returns true whether or not anything was deleted. */
export class DeleteAlwaysTrue extends MemoryAdapter {
  override async delete(key: string): Promise<boolean> {
    await super.delete(key);
    return true;
  }
}

/** `save()` of an existing key keeps the first value (an insert that ignores conflicts). */
export class UpsertKeepsFirst extends MemoryAdapter {
  override async save(key: string, value: string, ttlMs?: number): Promise<void> {
    if ((await this.load(key)) === undefined) await super.save(key, value, ttlMs);
  }
}

/** `save()` strips NUL characters (what a naive Postgres `text` column forces). */
export class NulMangling extends MemoryAdapter {
  override save(key: string, value: string, ttlMs?: number): Promise<void> {
    return super.save(key, value.replaceAll('\u0000', ''), ttlMs);
  }
}

/** `load()` returns `null` for a missing key (a raw Redis reply passed through). */
export class NullForMissing extends MemoryAdapter {
  override async load(key: string): Promise<string | undefined> {
    return (await super.load(key)) ?? (null as unknown as undefined);
  }
}

/** `load()` treats the empty string as missing (`value || undefined`). */
export class EmptyIsMissing extends MemoryAdapter {
  override async load(key: string): Promise<string | undefined> {
    return (await super.load(key)) || undefined;
  }
}

/** `key` lower-cased when it is a string (a wrong key is left for the argument checks to reject). */
function lower(key: string): string {
  return typeof key === 'string' ? key.toLowerCase() : key;
}

/** `key` cut to 255 characters when it is a string. */
function cut(key: string): string {
  return typeof key === 'string' ? key.slice(0, 255) : key;
}

/** Keys are lower-cased (a case-insensitive collation). */
export class CaseFoldingKeys extends MemoryAdapter {
  override save(key: string, value: string, ttlMs?: number): Promise<void> {
    return super.save(lower(key), value, ttlMs);
  }
  override load(key: string): Promise<string | undefined> {
    return super.load(lower(key));
  }
  override take(key: string): Promise<string | undefined> {
    return super.take(lower(key));
  }
  override delete(key: string): Promise<boolean> {
    return super.delete(lower(key));
  }
  override saveIfNewer(key: string, value: string, version: number, ttlMs?: number): Promise<boolean> {
    return super.saveIfNewer(lower(key), value, version, ttlMs);
  }
  override takeVersioned(key: string, fence?: Fence): Promise<VersionedValue | undefined> {
    return super.takeVersioned(lower(key), fence);
  }
  override saveManyIfNewer(writes: readonly VersionedWrite[]): Promise<boolean[]> {
    return super.saveManyIfNewer(
      Array.isArray(writes)
        ? writes.map((w) => (w !== null && typeof w === 'object' && !Array.isArray(w) ? { ...w, key: lower(w.key) } : w))
        : writes,
    );
  }
}

/** Keys are cut to 255 characters (a `varchar(255)` column that truncates). */
export class TruncatedKeys extends MemoryAdapter {
  override save(key: string, value: string, ttlMs?: number): Promise<void> {
    return super.save(cut(key), value, ttlMs);
  }
  override load(key: string): Promise<string | undefined> {
    return super.load(cut(key));
  }
  override take(key: string): Promise<string | undefined> {
    return super.take(cut(key));
  }
  override delete(key: string): Promise<boolean> {
    return super.delete(cut(key));
  }
  override saveIfNewer(key: string, value: string, version: number, ttlMs?: number): Promise<boolean> {
    return super.saveIfNewer(cut(key), value, version, ttlMs);
  }
  override takeVersioned(key: string, fence?: Fence): Promise<VersionedValue | undefined> {
    return super.takeVersioned(cut(key), fence);
  }
  override saveManyIfNewer(writes: readonly VersionedWrite[]): Promise<boolean[]> {
    return super.saveManyIfNewer(
      Array.isArray(writes)
        ? writes.map((w) => (w !== null && typeof w === 'object' && !Array.isArray(w) ? { ...w, key: cut(w.key) } : w))
        : writes,
    );
  }
}

/** `take()` as a read, a round trip, then a delete: not atomic, though `atomic` says it is. */
export class RacyTake extends MemoryAdapter {
  override async take(key: string): Promise<string | undefined> {
    const value = await this.load(key);
    await new Promise((resolve) => setImmediate(resolve));
    if (value !== undefined) await this.delete(key);
    return value;
  }
}

/** The same racy `take()`, honestly declared: `atomic` is false (an adapter that wraps one). */
export class HonestRacyTake implements SessionAdapter {
  readonly name = 'honest-racy-take';
  readonly atomic = false;
  readonly #inner = new RacyTake();
  save(key: string, value: string, ttlMs?: number): Promise<void> {
    return this.#inner.save(key, value, ttlMs);
  }
  load(key: string): Promise<string | undefined> {
    return this.#inner.load(key);
  }
  take(key: string): Promise<string | undefined> {
    return this.#inner.take(key);
  }
  delete(key: string): Promise<boolean> {
    return this.#inner.delete(key);
  }
  close(): Promise<void> {
    return this.#inner.close();
  }
}

/** Intervals started by {@link LeakyClose} adapters; the test clears them when it is done. */
export const leakedIntervals = new Set<NodeJS.Timeout>();

/** Starts a sweep interval and never clears it: `close()` leaves a timer behind. */
export class LeakyClose extends MemoryAdapter {
  constructor() {
    super();
    leakedIntervals.add(setInterval(() => undefined, 60_000));
  }
}

/** `close()` never settles (a client's `quit()` waiting for a reply that never comes). */
export class CloseNeverResolves extends MemoryAdapter {
  override close(): Promise<void> {
    return new Promise(() => undefined);
  }
}

/**
 * A MemoryAdapter that also holds a TCP connection, opened on its first call (like a store client),
 * to the server at `port`. `close()` ends the connection and resolves at once, before the socket has
 * actually closed, like a client's `quit()`.
 */
export class SocketAdapter extends MemoryAdapter {
  readonly #port: number;
  #socket: Promise<Socket> | undefined;

  constructor(port: number) {
    super();
    this.#port = port;
  }

  protected connection(): Promise<Socket> {
    this.#socket ??= new Promise((resolve, reject) => {
      const socket = connect(this.#port, '127.0.0.1', () => resolve(socket)).once('error', reject);
    });
    return this.#socket;
  }

  override async save(key: string, value: string, ttlMs?: number): Promise<void> {
    await this.connection();
    return super.save(key, value, ttlMs);
  }

  override async close(): Promise<void> {
    (await this.#socket)?.end();
    await super.close();
  }
}

/** The same, but `close()` forgets the connection: the socket stays open. */
export class LeakySocketAdapter extends SocketAdapter {
  override async close(): Promise<void> {
    await MemoryAdapter.prototype.close.call(this);
  }
}
