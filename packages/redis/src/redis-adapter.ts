import { RepriseError } from '@reprise/core';
import type { Fence, SessionAdapter, VersionedValue, VersionedWrite } from '@reprise/core';
import { adapterError, checkFence, checkKey, checkValue, checkVersion, checkWrites, redisTtl } from './arguments.js';
import { Connection } from './connection.js';
import { withDeadline } from './deadline.js';
import type { DeadlineSignal } from './deadline.js';
import { batchError, operationError } from './failures.js';
import { resolveOptions } from './options.js';
import type { RedisAdapterOptions, ResolvedOptions } from './options.js';
import { replyToBatch, replyToBoolean, replyToString, replyToVersioned } from './replies.js';
import { runScriptPipeline } from './script-pipeline.js';
import type { ScriptCall } from './script-pipeline.js';
import { runScript } from './script-runner.js';
import { TurnGate } from './turn-gate.js';
import { WriteMerger } from './write-merger.js';
import type { ScriptClient } from './script-runner.js';
import { DELETE, KEYS_PER_BATCH_SCRIPT, LOAD, NOT_A_SNAPSHOT, SAVE, SAVE_IF_NEWER, SAVE_MANY_IF_NEWER, TAKE } from './scripts.js';
import type { LuaScript } from './scripts.js';

/** Turns of the event loop a batch of fewer than {@link COALESCE_BELOW} writes waits for other batches to go out merged with. */
export const COALESCE_TURNS = 4;
/** A batch of at least this many writes leaves at once: it fills a socket write on its own. */
export const COALESCE_BELOW = 64;

/** The runs of the batch script for `writes`: {@link KEYS_PER_BATCH_SCRIPT} keys each (prefixed), three arguments per key. */
function batchCalls(writes: readonly VersionedWrite[], prefix: string): ScriptCall[] {
  const calls: ScriptCall[] = [];
  for (let start = 0; start < writes.length; start += KEYS_PER_BATCH_SCRIPT) {
    const keys: string[] = [];
    const args: string[] = [];
    for (const { key, value, version, ttlMs } of writes.slice(start, start + KEYS_PER_BATCH_SCRIPT)) {
      keys.push(prefix + key);
      args.push(value, String(version), redisTtl(ttlMs));
    }
    calls.push({ keys, args });
  }
  return calls;
}

/** A prepared call: which script, with which arguments (the key is added by the adapter). */
interface Command {
  readonly script: LuaScript;
  readonly args: string[];
}

/**
 * The Redis {@link SessionAdapter}, on the node-redis 5 client of @keyv/redis. Every call is one
 * Lua script (`EVALSHA`), so every call is atomic, and it is *ordered* (`saveIfNewer`,
 * `takeVersioned`; see "Ordered writes" on {@link SessionAdapter}), with the batch
 * `saveManyIfNewer`: one pipeline of the `saveIfNewer` script, one round trip. Needs Redis 6.2 or newer.
 *
 * - `new RedisAdapter({ url })` creates its own client: offline queue disabled, a connect timeout,
 *   and reconnection forever with capped, jittered backoff. `close()` destroys it and returns only
 *   when no socket and no timer of it is left.
 * - `new RedisAdapter({ client })` uses the caller's client, connects it if it is not open, and
 *   never closes it (`close()` only removes the listeners the adapter added).
 * - Keys are `prefix + key` (default prefix `'reprise:'`). Each holds a hash `{ value, version }`,
 *   or `{ version }` alone for a floor (what a take leaves), with the value's TTL on the key (`PX`
 *   precision, TTLs rounded up to whole ms). A plain string (written by 0.1) is read as a value at
 *   version 0. See scripts.ts.
 * - Failure is fast and typed: while Redis is down every call rejects at once with a `RepriseError`
 *   of code `ERR_REPRISE_ADAPTER` (`cause`: the connection error); a server that accepts but does
 *   not answer is cut off by `commandTimeout`. Refused credentials or permissions (`NOAUTH`,
 *   `WRONGPASS`, `NOPERM`) are `transient: false`. No call ever waits for Redis to come back, and
 *   the same adapter works again once it is back. Messages never contain keys or values.
 */
export class RedisAdapter implements SessionAdapter {
  /** `'redis'`, for reports. */
  readonly name = 'redis';
  /** `true`: every call is one script, so of concurrent takes exactly one gets the value. */
  readonly atomic = true;

  readonly #options: ResolvedOptions;
  readonly #connection: Connection;
  readonly #inFlight = new Set<Promise<unknown>>();
  /** Calls of {@link #send} not settled yet; `close()` waits until none is left (woken by `#drained`). */
  #calls = 0;
  #drained: (() => void) | undefined;
  /** Small batches wait a few turns for company and go out as one (see {@link WriteMerger}). */
  readonly #merger = new WriteMerger<VersionedWrite>(
    new TurnGate(COALESCE_TURNS),
    (entries) => this.#writeBatch(entries),
    (work) => this.#trackCall(work),
  );
  #closed: Promise<void> | undefined;

  /**
   * @param options `{ url, prefix?, commandTimeout?, connectTimeout?, maxReconnectDelay? }` or
   *   `{ client, prefix?, commandTimeout? }`; see {@link RedisAdapterOptions}. Opens no connection:
   *   the first call does.
   * @throws RepriseError `ERR_REPRISE_OPTION` on a wrong, unknown or conflicting option.
   */
  constructor(options: RedisAdapterOptions) {
    const resolved = resolveOptions(options);
    this.#options = resolved;
    this.#connection = resolved.kind === 'url' ? Connection.owned(resolved) : Connection.borrowed(resolved.client);
  }

  /** The key prefix in use (default `'reprise:'`). */
  get prefix(): string {
    return this.#options.prefix;
  }

  /**
   * Stores `value` at version 0, replacing whatever the key held (a floor included).
   * @param ttlMs positive finite ms the value stays readable (rounded up to whole ms); `undefined` = no expiry.
   */
  async save(key: string, value: string, ttlMs?: number): Promise<void> {
    await this.#run('save', key, () => {
      checkValue(value);
      return { script: SAVE, args: [value, redisTtl(ttlMs)] };
    });
  }

  /** The value, or `undefined` when missing, expired or only a floor. */
  async load(key: string): Promise<string | undefined> {
    return replyToString(await this.#run('load', key, () => ({ script: LOAD, args: [] })));
  }

  /**
   * Stores `value` at `version` when the key holds a value of a lower version, or no value and a
   * version at most `version`; resolves whether it stored.
   * @param version non-negative safe integer.
   * @param ttlMs positive finite ms the value stays readable (rounded up to whole ms); `undefined` = no expiry.
   */
  async saveIfNewer(key: string, value: string, version: number, ttlMs?: number): Promise<boolean> {
    const reply = await this.#run('saveIfNewer', key, () => {
      checkValue(value);
      checkVersion(version);
      return { script: SAVE_IF_NEWER, args: [value, String(version), redisTtl(ttlMs)] };
    });
    return replyToBoolean(reply);
  }

  /**
   * A batch of conditional writes in one round trip: the `saveIfNewer` rule on every entry, by a
   * script of up to {@link KEYS_PER_BATCH_SCRIPT} keys per run, all runs in one pipeline (not a
   * MULTI transaction: each entry is atomic on its own key, and a refused entry does not stop the
   * others). Resolves one boolean per entry, in the order given: whether it was stored. An empty
   * batch resolves `[]` without touching Redis. Keys get the prefix, TTLs are rounded up to whole
   * ms, as for `saveIfNewer`. A run blocks Redis for its keys only (~0.5 ms for 100 small writes).
   * A batch of fewer than {@link COALESCE_BELOW} writes first waits {@link COALESCE_TURNS} turns of
   * the event loop and goes out merged with the other small batches of those turns (one pipeline,
   * one deadline), so that the batches of a burst (one eviction per request) share a script run and
   * a socket write: the wait is microseconds on an idle loop, a few requests' time on a busy one.
   * @param writes `{ key, value, version, ttlMs? }` each, no key twice.
   * Rejects as a whole with `ERR_REPRISE_ADAPTER`: naming the index of the first bad entry (nothing
   * sent); `unsent` when Redis is unreachable (nothing sent); after `commandTimeout` for the whole
   * batch; when a run failed, or an entry's key holds something that is not a snapshot (`WRONGTYPE`,
   * that key left as it was): the other entries may then have been stored, and a retry is harmless.
   */
  async saveManyIfNewer(writes: readonly VersionedWrite[]): Promise<boolean[]> {
    if (this.#closed) throw adapterError('saveManyIfNewer after close()');
    const entries = checkWrites(writes);
    if (entries.length === 0) return [];
    const replies = entries.length < COALESCE_BELOW ? await this.#merger.write(entries) : await this.#writeBatch(entries);
    if (replies.includes(NOT_A_SNAPSHOT)) {
      throw batchError(
        'saveManyIfNewer',
        [new Error('WRONGTYPE a key of the batch holds something that is not a Reprise snapshot (left as it was)')],
        false,
      );
    }
    return replies.map((reply) => reply === 1);
  }

  /** Runs the batch script over `entries` in one pipeline; resolves one reply per entry (1, 0 or {@link NOT_A_SNAPSHOT}). */
  async #writeBatch(entries: readonly VersionedWrite[]): Promise<number[]> {
    const operation = 'saveManyIfNewer';
    const calls = batchCalls(entries, this.#options.prefix);
    const outcomes = await this.#send(operation, (client, signal) => runScriptPipeline(client, SAVE_MANY_IF_NEWER, calls, signal));
    const failed = outcomes.flatMap((outcome) => (outcome.status === 'rejected' ? [outcome.reason as unknown] : []));
    if (failed.length > 0) throw batchError(operation, failed, failed.length === outcomes.length);
    return outcomes.flatMap((outcome, i) => replyToBatch((outcome as PromiseFulfilledResult<unknown>).value, calls[i]!.keys.length));
  }

  /** Reads and removes the value in one script, leaving a floor at its version: of concurrent takes exactly one gets it. */
  take(key: string): Promise<string | undefined> {
    return this.#take('take', key, undefined).then((taken) => taken?.value);
  }

  /**
   * Takes the value with its version, leaving a floor; with `fence`, takes only a value of a
   * version up to `fence.version` and raises the key's version to at least it (a floor it creates
   * lives `fence.ttlMs`, rounded up to whole ms; `undefined`: until `delete`).
   */
  takeVersioned(key: string, fence?: Fence): Promise<VersionedValue | undefined> {
    return this.#take('takeVersioned', key, fence);
  }

  /** Removes the key (value and floor); `true` when it held a value. */
  async delete(key: string): Promise<boolean> {
    return replyToBoolean(await this.#run('delete', key, () => ({ script: DELETE, args: [] })));
  }

  /**
   * Waits for the calls in flight (each bounded by `commandTimeout`), then stops: the client of
   * `{ url }` is destroyed and its reconnect timer waited out; a caller's `{ client }` stays open.
   * Later calls reject with `ERR_REPRISE_ADAPTER`. Idempotent.
   */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      await Promise.allSettled([...this.#inFlight]);
      while (this.#calls > 0) await new Promise<void>((resolve) => (this.#drained = resolve));
      await this.#connection.close();
    })();
    return this.#closed;
  }

  #take(operation: string, key: string, fence: unknown): Promise<VersionedValue | undefined> {
    return this.#run(operation, key, () => {
      const checked = checkFence(fence);
      return { script: TAKE, args: checked === undefined ? ['', ''] : [String(checked.version), redisTtl(checked.ttlMs)] };
    }).then(replyToVersioned);
  }

  /**
   * One call: validates synchronously (`prepare` throws on bad arguments and returns the script to
   * run), then runs the script on `prefix + key` through {@link #send}.
   */
  #run(operation: string, key: string, prepare: () => Command): Promise<unknown> {
    if (this.#closed) return Promise.reject(adapterError(`${operation} after close()`));
    let command: Command;
    try {
      checkKey(key);
      command = prepare();
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#send(operation, (client, signal) => runScript(client, command.script, this.#options.prefix + key, command.args, signal));
  }

  /**
   * Sends `work` to Redis: waits for a ready client, starts `work` in the same tick as the readiness
   * check, bounds the whole call by `commandTimeout`, and turns every failure into
   * `ERR_REPRISE_ADAPTER`. A call that times out before it was sent never sends it; one that times
   * out after (a server that stopped answering) may still be carried out by the server if it ever
   * answers. `close()` waits for the calls in flight.
   */
  #send<T>(operation: string, work: (client: ScriptClient, signal: DeadlineSignal) => Promise<T>): Promise<T> {
    const connection = this.#connection;
    const send = (signal: DeadlineSignal): Promise<T> => work(connection.client as unknown as ScriptClient, signal);
    this.#calls += 1;
    const call = withDeadline(
      // Ready (the usual case): sent in this very tick, so that the calls of one tick share a socket write.
      (signal) =>
        connection.isReady
          ? send(signal)
          : connection.ready().then(() => {
              // Timed out while waiting for the connection: the caller has its rejection, so the script
              // must not go out now (a late take would consume a value nobody receives).
              if (signal.aborted) throw adapterError(`${operation} abandoned after its deadline`);
              return send(signal);
            }),
      this.#options.commandTimeout,
      () => adapterError(`${operation} timed out after ${this.#options.commandTimeout} ms (Redis did not answer)`),
      (error) => (error instanceof RepriseError ? error : operationError(operation, error)),
    );
    call.then(this.#onSettled, this.#onSettled);
    return call;
  }

  /** One call of {@link #send} settled. */
  readonly #onSettled = (): void => {
    this.#calls -= 1;
    if (this.#calls === 0 && this.#drained !== undefined) {
      const drained = this.#drained;
      this.#drained = undefined;
      drained();
    }
  };

  /** Registers a call in flight until it settles: `close()` waits for it. */
  #trackCall(call: Promise<unknown>): void {
    this.#inFlight.add(call);
    const forget = (): void => void this.#inFlight.delete(call);
    call.then(forget, forget);
  }
}
