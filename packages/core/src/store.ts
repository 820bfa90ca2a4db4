import { AdapterError, CodecError, RepriseError } from './errors.js';
import { storeCallEnd, storeCallStart } from './instrumentation.js';
import type { SessionAdapter, VersionedValue, VersionedWrite } from './types.js';

/**
 * The core's view of the adapter: every call bounded by `adapterTimeout` (a call still running then
 * is abandoned and rejects with a transient `ERR_REPRISE_ADAPTER_TIMEOUT`; its write may still land,
 * which ordered writes make harmless), failures wrapped as {@link AdapterError}, and the ordered-write
 * operations with their fallback for adapters that lack them (`ordered` false: plain `save`/`take`).
 */
export class Store {
  readonly adapter: SessionAdapter;
  /** Whether the adapter offers conditional writes (`saveIfNewer` and `takeVersioned`). */
  readonly ordered: boolean;
  readonly #timeout: () => number;
  /**
   * Gets what a take abandoned at the timeout took after all (the store performed it late): nobody
   * else holds that value then, so it must be put back. Set by the manager.
   */
  lateTake: ((key: string, taken: VersionedValue, needed?: () => Promise<boolean>) => void) | undefined;
  /**
   * Writes abandoned at the timeout and not settled yet: by key, how many of each version. Such a
   * write may still land, also after its value was taken (see {@link mayLand}).
   */
  readonly #abandoned = new Map<string, Map<number, number>>();
  /** The manager this store serves, named in the timings it publishes (`reprise:store`). Set by the manager. */
  owner: object | undefined;

  /** @param timeout ms each adapter call may take (read at each call, so `setOption` applies at once). */
  constructor(adapter: SessionAdapter, timeout: () => number) {
    this.adapter = adapter;
    this.ordered = typeof adapter.saveIfNewer === 'function' && typeof adapter.takeVersioned === 'function';
    this.#timeout = timeout;
  }

  get name(): string {
    return this.adapter.name;
  }

  /** Whether the adapter writes a batch in one call (`saveManyIfNewer`, ordered adapters only). */
  get batches(): boolean {
    return this.ordered && typeof this.adapter.saveManyIfNewer === 'function';
  }

  /**
   * Writes a batch (distinct keys): one `saveManyIfNewer` call bounded by `adapterTimeout` when the
   * adapter has it (its failure is every entry's), else one {@link write} per entry, all at once.
   * Resolves, per entry and in order, whether the store took it, or the error it failed with.
   */
  async writeMany(writes: readonly VersionedWrite[]): Promise<(boolean | Error)[]> {
    if (!this.batches) {
      return Promise.all(writes.map((w) => this.write(w.key, w.value, w.version, w.ttlMs!).catch((error: Error) => error)));
    }
    const abandon = (running: Promise<unknown>): void => {
      for (const w of writes) this.#abandon(w.key, w.version, running);
    };
    try {
      const stored = await this.#call('save', () => this.adapter.saveManyIfNewer!(writes), undefined, abandon, writes.length);
      if (!Array.isArray(stored) || stored.length !== writes.length || stored.some((s) => typeof s !== 'boolean')) {
        throw new AdapterError(
          'ERR_REPRISE_ADAPTER',
          `adapter ${this.name}: saveManyIfNewer resolved ${describeResults(stored)} for ${writes.length} writes (want one boolean per write)`,
          { transient: false },
        );
      }
      return stored;
    } catch (error) {
      return writes.map(() => error as Error);
    }
  }

  /** Writes `text` as `version`; `false` when the store holds a newer version (ordered adapters only). */
  write(key: string, text: string, version: number, ttlMs: number): Promise<boolean> {
    if (this.ordered)
      return this.#call(
        'save',
        () => this.adapter.saveIfNewer!(key, text, version, ttlMs),
        undefined,
        (running) => this.#abandon(key, version, running),
      );
    return this.#call('save', () => this.adapter.save(key, text, ttlMs)).then(() => true);
  }

  load(key: string): Promise<string | undefined> {
    return this.#call('load', () => this.adapter.load(key));
  }

  /** Takes the value (leaving a floor on ordered adapters); version 0 on unordered ones. */
  take(key: string): Promise<VersionedValue | undefined> {
    const late = (taken: VersionedValue | undefined): void => {
      if (taken !== undefined) this.lateTake?.(key, taken);
    };
    if (this.ordered) return this.#call('take', () => this.adapter.takeVersioned!(key), late);
    const take = async (): Promise<VersionedValue | undefined> => {
      const value = await this.adapter.take(key);
      return value === undefined ? undefined : { value, version: 0 };
    };
    return this.#call('take', take, late);
  }

  /**
   * Fences `key` against a write of `version` (ordered adapters): a value of that version or older is
   * taken and returned, and no write of that version or older lands afterwards. The floor is put at
   * `version + 1`, an odd number no write ever gets (see `VersionClock`), so the write itself is refused
   * too and only a newer write, or {@link rewriteFenced}, lands over it. `undefined` on unordered adapters.
   * `late` gets what a fence abandoned at the timeout took after all.
   */
  fence(key: string, version: number, ttlMs: number, late?: (taken: VersionedValue) => void): Promise<VersionedValue | undefined> {
    if (!this.ordered) return Promise.resolve(undefined);
    const landed = late && ((taken: VersionedValue | undefined): void => void (taken !== undefined && late(taken)));
    return this.#call('fence', () => this.adapter.takeVersioned!(key, { version: version + 1, ttlMs }), landed);
  }

  /**
   * Whether an attempt of the write of `version` under `key`, abandoned at the timeout, may still land
   * (ordered adapters). A take leaves a floor open to its own version (that is how a put-back is
   * exact), so such an attempt would land after a take of the value it carries: the taker fences.
   */
  mayLand(key: string, version: number): boolean {
    return this.#abandoned.get(key)?.has(version) === true;
  }

  #abandon(key: string, version: number, running: Promise<unknown>): void {
    let versions = this.#abandoned.get(key);
    if (versions === undefined) {
      versions = new Map();
      this.#abandoned.set(key, versions);
    }
    versions.set(version, (versions.get(version) ?? 0) + 1);
    const settled = (): void => {
      const left = (versions.get(version) ?? 1) - 1;
      if (left > 0) versions.set(version, left);
      else versions.delete(version);
      if (versions.size === 0 && this.#abandoned.get(key) === versions) this.#abandoned.delete(key);
    };
    running.then(settled, settled);
  }

  /** Writes back, over its fence, a value that {@link fence} took (it had landed after all). */
  rewriteFenced(key: string, text: string, version: number, ttlMs: number): Promise<boolean> {
    return this.write(key, text, version + 1, ttlMs);
  }

  delete(key: string): Promise<boolean> {
    return this.#call('delete', () => this.adapter.delete(key));
  }

  /**
   * Runs `operation` within the timeout; `late` gets its result if it settles after the timeout, and
   * `abandoned` gets the operation still running when the timeout passes. One promise and one timer
   * per call (every restore and write goes through here).
   */
  #call<T>(
    what: string,
    operation: () => Promise<T>,
    late?: (result: T) => void,
    abandoned?: (running: Promise<T>) => void,
    records = 1,
  ): Promise<T> {
    const ms = this.#timeout();
    const started = storeCallStart();
    let running: Promise<T>;
    try {
      running = operation();
    } catch (error) {
      running = Promise.reject(error);
    }
    return new Promise<T>((resolve, reject) => {
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        abandoned?.(running);
        storeCallEnd(this.owner, what, records, true, started);
        reject(new AdapterError('ERR_REPRISE_ADAPTER_TIMEOUT', `adapter ${this.name}: ${what} passed ${ms} ms`));
      }, ms);
      timer.unref?.();
      running.then(
        (result) => {
          if (timedOut) {
            late?.(result);
            return;
          }
          clearTimeout(timer);
          storeCallEnd(this.owner, what, records, false, started);
          resolve(result);
        },
        (error: unknown) => {
          if (timedOut) return;
          clearTimeout(timer);
          storeCallEnd(this.owner, what, records, true, started);
          // A value that encryption at rest refuses (see sealed-adapter.ts) is a corrupt record, not a store failure.
          reject(error instanceof AdapterError || error instanceof CodecError ? error : wrap(this.name, what, error));
        },
      );
    });
  }
}

function describeResults(results: unknown): string {
  return Array.isArray(results) ? `an array of ${results.length}` : typeof results;
}

function wrap(name: string, what: string, cause: unknown): AdapterError {
  const message = cause instanceof RepriseError ? cause.message : `adapter ${name}: ${what} failed`;
  return new AdapterError('ERR_REPRISE_ADAPTER', message, { cause });
}

/** Whether a failed operation certainly never reached the store (an {@link AdapterError} marked `unsent` in its cause chain). */
export function isUnsent(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; current instanceof Error && depth < 5; depth++) {
    if (current instanceof AdapterError && current.unsent) return true;
    current = current.cause;
  }
  return false;
}

/** Whether a failed write may succeed later (outages, timeouts) rather than never (configuration errors). */
export function isTransient(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; current instanceof Error && depth < 5; depth++) {
    if (current instanceof AdapterError && !current.transient) return false;
    current = current.cause;
  }
  return true;
}
