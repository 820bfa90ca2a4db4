import { AdapterError, OptionError, RepriseError } from '@reprise/core';
import { HandoverExchange, adapterError as coreAdapterError } from '@reprise/core/adapter-kit';
import type { Claim, CoordinatorMember, HandoverOutcome, Lease, LeaseRenewal, SessionCoordinator } from '@reprise/core';
import type { HandoverMessage } from '@reprise/core/adapter-kit';
import { checkKey, describe } from './arguments.js';
import { Connection } from './connection.js';
import { ADOPTABLE, CLAIM, RELEASE, RENEW } from './coordinator-scripts.js';
import { withDeadline } from './deadline.js';
import type { DeadlineSignal } from './deadline.js';
import { operationError } from './failures.js';
import { resolveCoordinatorOptions, resolveOptions } from './options.js';
import type { RedisAdapterOptions, RedisClient, RedisCoordinatorOptions, ResolvedOptions } from './options.js';
import { replyToString } from './replies.js';
import { runScriptPipeline } from './script-pipeline.js';
import type { ScriptCall } from './script-pipeline.js';
import type { ScriptClient } from './script-runner.js';
import type { LuaScript } from './scripts.js';

/** Leases the batch renewal script takes per run (two keys each: the lease and its token counter). */
const KEYS_PER_RENEW = 50;
const MAX_TIMER_MS = 2 ** 31 - 1;
/** The most ids one `adoptable` call returns (its script looks at up to 4 times as many entries). */
const MAX_ADOPTABLE = 10_000;
const INSTANCE_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** What the coordinator uses of a node-redis client beyond scripts. */
interface PubSubClient {
  subscribe(channel: string, listener: (message: string) => void): Promise<unknown>;
  unsubscribe(channel?: string): Promise<unknown>;
  publish(channel: string, message: string): Promise<unknown>;
  duplicate(): RedisClient;
}

/** An `ERR_REPRISE_ADAPTER` error whose message starts with `RedisCoordinator: `. */
function adapterError(message: string, cause?: unknown, transient = true): AdapterError {
  return coreAdapterError('RedisCoordinator', message, cause, transient);
}

/**
 * The same error in the coordinator's name: the connection and the failure classification are the
 * adapter's (shared code), whose messages start with `RedisAdapter: `.
 */
function renamed(error: RepriseError): RepriseError {
  if (!(error instanceof AdapterError) || !error.message.startsWith('RedisAdapter: ')) return error;
  return new AdapterError(
    error.code as 'ERR_REPRISE_ADAPTER' | 'ERR_REPRISE_ADAPTER_TIMEOUT',
    `RedisCoordinator: ${error.message.slice('RedisAdapter: '.length)}`,
    { cause: error.cause, transient: error.transient, unsent: error.unsent },
  );
}

/** A bad argument or a call out of order: `transient: false` (trying again cannot help). */
function argumentError(message: string): AdapterError {
  return adapterError(message, undefined, false);
}

/** Checks a session id (the adapter's key rules), in the coordinator's name. */
function checkSessionId(sessionId: unknown): string {
  try {
    checkKey(sessionId);
  } catch (error) {
    throw renamed(error as RepriseError);
  }
  return sessionId as string;
}

function optionError(message: string): OptionError {
  return new OptionError(`RedisCoordinator: ${message}`);
}

function positiveMs(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > MAX_TIMER_MS) {
    throw argumentError(`${name} must be a positive integer of ms up to ${MAX_TIMER_MS}, got ${describe(value)}`);
  }
  return value;
}

/**
 * The {@link SessionCoordinator} on Redis 6.2+ (standalone, as the adapter): leases are hashes with a
 * TTL claimed and renewed by Lua scripts (the compare-and-set `SET NX PX` would be, plus a fencing
 * token from a per-session counter in the same step), and hand-over requests travel on Redis
 * pub/sub, one channel per instance (`<prefix>instance:<instanceId>`), on a second connection.
 *
 * - `new RedisCoordinator({ url })` opens its own two clients (offline queue off, reconnection
 *   forever, as the adapter's); `leave()` destroys them.
 * - `new RedisCoordinator({ client })` uses the caller's client for commands and a duplicate of it for
 *   pub/sub; `leave()` destroys the duplicate only.
 * - Failures are fast: while Redis is down every call rejects at once with `ERR_REPRISE_ADAPTER`;
 *   `commandTimeout` (default 5 s) bounds each call.
 */
export class RedisCoordinator implements SessionCoordinator {
  /** `'redis'`, for reports. */
  readonly name = 'redis';
  readonly #options: ResolvedOptions;
  readonly #prefix: string;
  readonly #tokenRetention: number;
  readonly #commands: Connection;
  readonly #subscriber: Connection;
  /** Whether the subscriber's client is a duplicate this coordinator made (destroyed at leave). */
  readonly #ownsSubscriber: boolean;
  #instanceId: string | undefined;
  #member: CoordinatorMember | undefined;
  /** Hand-over requests and answers, sent on the instances' channels. */
  readonly #exchange = new HandoverExchange(
    (to, message) => this.#publish('requestHandover', to, message),
    () => (this.#left ? undefined : this.#member),
  );
  #left: Promise<void> | undefined;

  /**
   * @param connection `{ url, commandTimeout?, connectTimeout?, maxReconnectDelay? }` or `{ client, commandTimeout? }` (as `RedisAdapter`'s).
   * @param options `{ prefix?, tokenRetention? }` (see {@link RedisCoordinatorOptions}).
   * @throws RepriseError `ERR_REPRISE_OPTION` on a wrong or unknown option.
   */
  constructor(connection: Omit<RedisAdapterOptions, 'prefix'>, options?: RedisCoordinatorOptions) {
    if (connection !== null && typeof connection === 'object' && 'prefix' in connection)
      throw optionError('give prefix in the second argument');
    this.#options = resolveOptions(connection, 'RedisCoordinator');
    const { prefix, tokenRetention } = resolveCoordinatorOptions(options);
    this.#prefix = prefix;
    this.#tokenRetention = tokenRetention;
    if (this.#options.kind === 'url') {
      this.#commands = Connection.owned(this.#options);
      this.#subscriber = Connection.owned(this.#options);
      this.#ownsSubscriber = false;
    } else {
      this.#commands = Connection.borrowed(this.#options.client);
      this.#subscriber = Connection.borrowed((this.#options.client as unknown as PubSubClient).duplicate());
      this.#ownsSubscriber = true;
    }
  }

  async join(instanceId: string, member: CoordinatorMember): Promise<void> {
    if (typeof instanceId !== 'string' || !INSTANCE_ID.test(instanceId))
      throw argumentError(`instanceId must be 1 to 64 letters, digits, - or _, got ${describe(instanceId)}`);
    if (this.#instanceId !== undefined) throw argumentError(`join() was already called (as ${this.#instanceId})`);
    if (this.#left) throw argumentError('join() after leave()');
    this.#instanceId = instanceId;
    this.#member = member;
    try {
      await this.#call('join', async () => {
        await this.#subscriber.ready();
        await (this.#subscriber.client as unknown as PubSubClient).subscribe(this.#channel(instanceId), (message) =>
          this.#exchange.receive(message),
        );
      });
    } catch (error) {
      // Not joined: the caller may try again (the manager does, at its next claim).
      this.#instanceId = undefined;
      this.#member = undefined;
      throw error;
    }
  }

  async claim(sessionId: string, leaseMs: number, deadline?: number): Promise<Claim> {
    const owner = this.#me('claim');
    checkSessionId(sessionId);
    const ms = positiveMs('leaseMs', leaseMs);
    const keys = [this.#leaseKey(sessionId), this.#tokenKey(sessionId), this.#deadlinesKey()];
    const reply = await this.#script('claim', CLAIM, keys, [
      owner,
      String(ms),
      String(this.#tokenRetention),
      sessionId,
      deadlineArg(deadline, 'deadline'),
    ]);
    if (!Array.isArray(reply) || reply.length !== 2) throw adapterError(`Redis returned ${describe(reply)} for a claim`);
    const value = replyToString(reply[1]) ?? '';
    if (Number(reply[0]) === 1) return { held: true, lease: { sessionId, owner, token: tokenOf(value) } };
    return { held: false, owner: value };
  }

  async renew(leases: readonly LeaseRenewal[], leaseMs: number): Promise<string[]> {
    const owner = this.#me('renew');
    const ms = positiveMs('leaseMs', leaseMs);
    if (!Array.isArray(leases)) throw argumentError(`leases must be an array, got ${describe(leases)}`);
    if (leases.length === 0) return [];
    const calls: ScriptCall[] = [];
    for (let start = 0; start < leases.length; start += KEYS_PER_RENEW) {
      const chunk = leases.slice(start, start + KEYS_PER_RENEW);
      for (const lease of chunk) checkSessionId(lease?.sessionId);
      calls.push({
        keys: [this.#deadlinesKey(), ...chunk.flatMap((lease) => [this.#leaseKey(lease.sessionId), this.#tokenKey(lease.sessionId)])],
        args: [
          owner,
          String(ms),
          String(this.#tokenRetention),
          ...chunk.flatMap((lease) => [lease.sessionId, String(lease.token), deadlineArg(lease.deadline, 'leases[].deadline')]),
        ],
      });
    }
    const outcomes = await this.#send('renew', (client, signal) => runScriptPipeline(client, RENEW, calls, signal));
    const lost: string[] = [];
    outcomes.forEach((outcome, run) => {
      if (outcome.status === 'rejected') throw operationError('renew', outcome.reason);
      const replies = outcome.value as unknown[];
      replies.forEach((reply, i) => {
        if (Number(reply) !== 1) lost.push(leases[run * KEYS_PER_RENEW + i]!.sessionId);
      });
    });
    return lost;
  }

  async release(lease: Lease): Promise<boolean> {
    const owner = this.#me('release');
    checkSessionId(lease?.sessionId);
    const reply = await this.#script(
      'release',
      RELEASE,
      [this.#leaseKey(lease.sessionId), this.#deadlinesKey()],
      [owner, String(lease.token), lease.sessionId],
    );
    return Number(reply) === 1;
  }

  /** One script run: the sorted set of deadlines read from the oldest, on Redis's clock (`TIME`). */
  async adoptable(limit: number): Promise<string[]> {
    this.#me('adoptable');
    if (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 1 || limit > MAX_ADOPTABLE)
      throw argumentError(`limit must be an integer from 1 to ${MAX_ADOPTABLE}, got ${describe(limit)}`);
    const reply = await this.#script('adoptable', ADOPTABLE, [this.#deadlinesKey()], [String(limit), this.#leaseKey('')]);
    if (!Array.isArray(reply)) throw adapterError(`Redis returned ${describe(reply)} for adoptable`);
    return reply.map((id) => replyToString(id) ?? '');
  }

  async owner(sessionId: string): Promise<Lease | undefined> {
    this.#me('owner');
    checkSessionId(sessionId);
    const fields = await this.#send('owner', async (client) =>
      (client as unknown as { hmGet(key: string, fields: string[]): Promise<unknown[]> }).hmGet(this.#leaseKey(sessionId), [
        'owner',
        'token',
      ]),
    );
    const owner = replyToString(fields[0]);
    const token = replyToString(fields[1]);
    return owner === undefined || token === undefined ? undefined : { sessionId, owner, token: tokenOf(token) };
  }

  async requestHandover(sessionId: string, owner: string, timeoutMs: number): Promise<HandoverOutcome> {
    const from = this.#me('requestHandover');
    checkSessionId(sessionId);
    if (typeof owner !== 'string' || !INSTANCE_ID.test(owner)) throw argumentError(`owner must be an instanceId, got ${describe(owner)}`);
    return this.#exchange.request(sessionId, from, owner, positiveMs('timeoutMs', timeoutMs));
  }

  leave(): Promise<void> {
    this.#left ??= (async () => {
      const subscriber = this.#subscriber.client as unknown as PubSubClient & { isReady: boolean; destroy(): void };
      if (this.#instanceId !== undefined && subscriber.isReady) await subscriber.unsubscribe().catch(() => {});
      if (this.#ownsSubscriber) subscriber.destroy();
      await this.#subscriber.close();
      await this.#commands.close();
    })();
    return this.#left;
  }

  #publish(operation: string, instanceId: string, message: HandoverMessage): Promise<void> {
    return this.#send(operation, async (client) => {
      await (client as unknown as PubSubClient).publish(this.#channel(instanceId), JSON.stringify(message));
    });
  }

  #script(operation: string, script: LuaScript, keys: string[], args: string[]): Promise<unknown> {
    return this.#send(operation, async (client, signal) => {
      const [outcome] = await runScriptPipeline(client, script, [{ keys, args }], signal);
      if (outcome!.status === 'rejected') throw outcome!.reason;
      return outcome!.value;
    });
  }

  /** Runs `work` on the command connection once ready, bounded by `commandTimeout`, failures as `ERR_REPRISE_ADAPTER`. */
  #send<T>(operation: string, work: (client: ScriptClient, signal: DeadlineSignal) => Promise<T>): Promise<T> {
    return this.#call(operation, async (signal) => {
      await this.#commands.ready();
      if (signal.aborted) throw adapterError(`${operation} abandoned after its deadline`);
      return work(this.#commands.client as unknown as ScriptClient, signal);
    });
  }

  #call<T>(operation: string, work: (signal: DeadlineSignal) => Promise<T>): Promise<T> {
    const timeout = this.#options.commandTimeout;
    return withDeadline(work, timeout, () => adapterError(`${operation} timed out after ${timeout} ms (Redis did not answer)`)).catch(
      (error: unknown) => {
        throw renamed(error instanceof RepriseError ? error : operationError(operation, error));
      },
    );
  }

  #me(operation: string): string {
    if (this.#left) throw argumentError(`${operation} after leave()`);
    if (this.#instanceId === undefined) throw argumentError(`${operation} before join()`);
    return this.#instanceId;
  }

  #leaseKey(sessionId: string): string {
    return `${this.#prefix}lease:${sessionId}`;
  }

  /** The sorted set of idle deadlines (one per coordinator prefix). */
  #deadlinesKey(): string {
    return `${this.#prefix}deadlines`;
  }

  #tokenKey(sessionId: string): string {
    return `${this.#prefix}token:${sessionId}`;
  }

  #channel(instanceId: string): string {
    return `${this.#prefix}instance:${instanceId}`;
  }
}

/** A deadline as a script argument: '' for none. */
function deadlineArg(deadline: unknown, name: string): string {
  if (deadline === undefined) return '';
  if (typeof deadline !== 'number' || !Number.isSafeInteger(deadline) || deadline < 0)
    throw argumentError(`${name} must be ms since the epoch (a non-negative safe integer), got ${describe(deadline)}`);
  return String(deadline);
}

/** A token as Redis returns it (a decimal string) as a number. */
function tokenOf(text: string): number {
  const token = /^[1-9][0-9]{0,15}$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(token))
    throw adapterError('Redis returned a lease token that is not a positive safe integer (was the key written by something else?)');
  return token;
}
