/**
 * The contract between the core and a coordinator of several instances (processes) sharing one
 * store: who owns each live session (a lease with a fencing token) and how an instance asks the
 * owner to hand a session over. See docs/several-instances.md for the whole design.
 *
 * Besides leases, a coordinator keeps an index of the idle deadlines of leased sessions (a Redis
 * sorted set, an indexed Postgres column): when an instance dies, a survivor finds there the
 * sessions whose visitors never came back ({@link SessionCoordinator.adoptable}), and runs their
 * closing hooks once (adoption), without a scan of every key.
 */

/** An instance's ownership of one live session. */
export interface Lease {
  /** The session's id. */
  readonly sessionId: string;
  /** The `instanceId` of the owner. */
  readonly owner: string;
  /**
   * The fencing token: a positive safe integer, strictly greater than every token issued before for
   * this session, whoever held it, for at least the coordinator's token retention (days). Writes made
   * under a lease carry versions built from it, so a stale owner's late write is refused by the store.
   */
  readonly token: number;
}

/**
 * A lease to extend ({@link SessionCoordinator.renew}), with the session's idle deadline to index,
 * when it is known.
 */
export interface LeaseRenewal extends Lease {
  /**
   * When the session expires if it stays idle, in ms since the epoch (the owner's clock). Indexed for
   * adoption; `undefined` keeps the deadline indexed before.
   */
  readonly deadline?: number | undefined;
}

/** What a {@link SessionCoordinator.claim} got: the lease, or the instance that holds it. */
export type Claim = { readonly held: true; readonly lease: Lease } | { readonly held: false; readonly owner: string };

/** How a hand-over request ended: the owner released the lease, or no answer came in time. */
export type HandoverOutcome = 'released' | 'timeout';

/** What a coordinator calls on the instance that joined through it. */
export interface CoordinatorMember {
  /**
   * Instance `from` asks for `sessionId`: close it here with `'handover'` (hooks run, snapshot
   * written) and release its lease. Resolves when that is done, or at once when this instance does
   * not hold the session. The coordinator then tells `from` that it may claim the session.
   */
  handover(sessionId: string, from: string): Promise<void>;
}

/**
 * Leases and hand-over messages for several instances sharing one store. Implemented by
 * `RedisCoordinator` (`@reprise/redis`) and `PostgresCoordinator` (`@reprise/postgres`); a custom one
 * passes the conformance suite of `@reprise/adapter-tests` (`runCoordinatorTests`).
 *
 * Every call rejects with an `Error` when the store cannot be reached (no call waits for it to come
 * back), and none of them may be made before {@link join} resolved or after {@link leave}.
 */
export interface SessionCoordinator {
  /** A short name for reports (for example `'redis'`). */
  readonly name: string;
  /** Joins as `instanceId` (letters, digits, `-`, `_`; 1 to 64 characters) and starts taking hand-over requests for it. */
  join(instanceId: string, member: CoordinatorMember): Promise<void>;
  /**
   * Claims `sessionId` for `leaseMs` ms (a positive integer). Held when no other instance holds a
   * live lease on it: a new lease with a new token, or, when this instance already holds it, the same
   * lease extended (same token). Of concurrent claims on a free session, exactly one is held.
   * When held and `deadline` (ms since the epoch) is given, it becomes the session's indexed idle
   * deadline (see {@link adoptable}); otherwise the one indexed before stays.
   */
  claim(sessionId: string, leaseMs: number, deadline?: number): Promise<Claim>;
  /**
   * Extends, by `leaseMs` ms from now, each of `leases` that this instance still holds with that
   * token, in one round trip, and indexes the `deadline` of each that has one; resolves the ids of
   * those it no longer holds (lapsed and claimed elsewhere, or released). An empty list resolves `[]`
   * without touching the store.
   */
  renew(leases: readonly LeaseRenewal[], leaseMs: number): Promise<string[]>;
  /** Ends `lease` if this instance still holds it with that token, and drops its deadline from the index; `true` when it did. */
  release(lease: Lease): Promise<boolean>;
  /**
   * Up to `limit` (a positive integer) ids of sessions whose indexed deadline has passed (on the
   * store's clock) and whose lease is not live: their owner died or lost them without releasing.
   * Oldest deadline first. A caller adopts one by claiming it (exactly one claim wins); once released,
   * it leaves the index. An id claimed by a live lease is never listed.
   */
  adoptable(limit: number): Promise<string[]>;
  /** The live lease on `sessionId`, whoever holds it, or `undefined`. */
  owner(sessionId: string): Promise<Lease | undefined>;
  /**
   * Asks `owner` to hand `sessionId` over (see {@link CoordinatorMember.handover}); resolves
   * `'released'` when it answered, `'timeout'` when no answer came within `timeoutMs` ms (a dead or
   * partitioned owner: its lease lapses by itself).
   */
  requestHandover(sessionId: string, owner: string, timeoutMs: number): Promise<HandoverOutcome>;
  /** Stops taking hand-over requests and releases what the coordinator opened. Leases are left to lapse. Idempotent. */
  leave(): Promise<void>;
}
