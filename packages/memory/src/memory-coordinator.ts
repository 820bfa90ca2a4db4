import { AdapterError, OptionError } from '@reprise/core';
import type { Claim, CoordinatorMember, HandoverOutcome, Lease, LeaseRenewal, SessionCoordinator } from '@reprise/core';
import { resolveClusterOptions, type MemoryClusterOptions } from './options.js';

const INSTANCE_ID = /^[A-Za-z0-9_-]{1,64}$/;
const MAX_TIMER_MS = 2 ** 31 - 1;

interface LeaseRecord {
  readonly owner: string;
  readonly token: number;
  /** ms since the epoch (the cluster's clock) after which the lease has lapsed. */
  until: number;
}

/**
 * What the instances of one process share: leases, token counters and members, as Redis or Postgres
 * would hold them for instances in several processes. Give every {@link MemoryCoordinator} of one
 * simulated cluster the same `MemoryCluster`.
 */
export class MemoryCluster {
  readonly #now: () => number;
  readonly #leases = new Map<string, LeaseRecord>();
  /** Last token issued per session; never forgotten (a test cluster lives as long as its process). */
  readonly #tokens = new Map<string, number>();
  readonly #members = new Map<string, CoordinatorMember>();
  /** The idle deadlines of leased sessions (ms since the epoch), until their lease is released. */
  readonly #deadlines = new Map<string, number>();

  /** @param options see {@link MemoryClusterOptions}. */
  constructor(options?: MemoryClusterOptions) {
    this.#now = resolveClusterOptions(options).now;
  }

  /**
   * For tests of crashes: every lease `owner` holds lapses now, as if that instance had stalled or
   * died past them (its tokens are kept: the next claims get greater ones). Returns how many lapsed.
   */
  lapse(owner: string): number {
    let lapsed = 0;
    for (const [sessionId, record] of this.#leases) {
      if (record.owner !== owner) continue;
      this.#leases.delete(sessionId);
      lapsed += 1;
    }
    return lapsed;
  }

  /** @internal */
  join(instanceId: string, member: CoordinatorMember): void {
    if (this.#members.has(instanceId)) throw coordinatorError(`instance ${instanceId} already joined this cluster`);
    this.#members.set(instanceId, member);
  }

  /** @internal */
  leave(instanceId: string): void {
    this.#members.delete(instanceId);
  }

  /** @internal */
  member(instanceId: string): CoordinatorMember | undefined {
    return this.#members.get(instanceId);
  }

  /** @internal The live lease on `sessionId` (a lapsed one is forgotten here). */
  live(sessionId: string): LeaseRecord | undefined {
    const record = this.#leases.get(sessionId);
    if (record === undefined) return undefined;
    if (record.until > this.#now()) return record;
    this.#leases.delete(sessionId);
    return undefined;
  }

  /** @internal */
  claim(sessionId: string, owner: string, leaseMs: number, deadline: number | undefined): Claim {
    const current = this.live(sessionId);
    if (current !== undefined && current.owner !== owner) return { held: false, owner: current.owner };
    if (deadline !== undefined) this.#deadlines.set(sessionId, deadline);
    if (current !== undefined) {
      current.until = this.#now() + leaseMs;
      return { held: true, lease: { sessionId, owner, token: current.token } };
    }
    const token = (this.#tokens.get(sessionId) ?? 0) + 1;
    this.#tokens.set(sessionId, token);
    this.#leases.set(sessionId, { owner, token, until: this.#now() + leaseMs });
    return { held: true, lease: { sessionId, owner, token } };
  }

  /** @internal Extends the lease if `owner` holds it with `token`; whether it did. */
  renew(sessionId: string, owner: string, token: number, leaseMs: number, deadline: number | undefined): boolean {
    const current = this.live(sessionId);
    if (current === undefined || current.owner !== owner || current.token !== token) return false;
    current.until = this.#now() + leaseMs;
    if (deadline !== undefined) this.#deadlines.set(sessionId, deadline);
    return true;
  }

  /** @internal */
  release(sessionId: string, owner: string, token: number): boolean {
    const current = this.live(sessionId);
    if (current === undefined || current.owner !== owner || current.token !== token) return false;
    this.#leases.delete(sessionId);
    this.#deadlines.delete(sessionId);
    return true;
  }

  /** @internal Sessions past their indexed deadline without a live lease, oldest deadline first. */
  adoptable(limit: number): string[] {
    const now = this.#now();
    return [...this.#deadlines]
      .filter(([sessionId, deadline]) => deadline <= now && this.live(sessionId) === undefined)
      .sort((a, b) => a[1] - b[1])
      .slice(0, limit)
      .map(([sessionId]) => sessionId);
  }
}

function coordinatorError(message: string): AdapterError {
  return new AdapterError('ERR_REPRISE_ADAPTER', `MemoryCoordinator: ${message}`, { transient: false });
}

function checkMs(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > MAX_TIMER_MS) {
    throw coordinatorError(`${name} must be a positive integer of ms up to ${MAX_TIMER_MS}, got ${String(value)}`);
  }
  return value;
}

function checkDeadline(deadline: unknown): number | undefined {
  if (deadline === undefined) return undefined;
  if (typeof deadline !== 'number' || !Number.isSafeInteger(deadline) || deadline < 0)
    throw coordinatorError(`deadline must be ms since the epoch (a non-negative safe integer), got ${String(deadline)}`);
  return deadline;
}

function checkLimit(limit: unknown): number {
  if (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 1)
    throw coordinatorError(`limit must be a positive integer, got ${String(limit)}`);
  return limit;
}

function checkSessionId(sessionId: unknown): string {
  if (typeof sessionId !== 'string' || sessionId.length === 0) throw coordinatorError('sessionId must be a non-empty string');
  return sessionId;
}

/** A turn of the event loop, as a message between processes would take at least. */
const hop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * The in-process {@link SessionCoordinator}: several "instances" in one process sharing a
 * {@link MemoryCluster}. For tests of code that runs with a coordinator (and as the reference the
 * conformance suite of `@reprise/adapter-tests` is checked against); it coordinates nothing across
 * processes. Hand-over requests and answers each take a turn of the event loop, as messages would.
 */
export class MemoryCoordinator implements SessionCoordinator {
  /** `'memory'`, for reports. */
  readonly name = 'memory';
  readonly #cluster: MemoryCluster;
  #instanceId: string | undefined;
  #left = false;

  /** @param cluster the cluster this instance joins (shared with the other instances). */
  constructor(cluster: MemoryCluster) {
    if (!(cluster instanceof MemoryCluster)) throw new OptionError('MemoryCoordinator: give the MemoryCluster its instances share');
    this.#cluster = cluster;
  }

  async join(instanceId: string, member: CoordinatorMember): Promise<void> {
    if (typeof instanceId !== 'string' || !INSTANCE_ID.test(instanceId))
      throw coordinatorError(`instanceId must be 1 to 64 letters, digits, - or _, got ${String(instanceId)}`);
    if (this.#instanceId !== undefined) throw coordinatorError(`join() was already called (as ${this.#instanceId})`);
    if (this.#left) throw coordinatorError('join() after leave()');
    this.#cluster.join(instanceId, member);
    this.#instanceId = instanceId;
  }

  async claim(sessionId: string, leaseMs: number, deadline?: number): Promise<Claim> {
    const owner = this.#me('claim');
    return this.#cluster.claim(checkSessionId(sessionId), owner, checkMs('leaseMs', leaseMs), checkDeadline(deadline));
  }

  async renew(leases: readonly LeaseRenewal[], leaseMs: number): Promise<string[]> {
    const owner = this.#me('renew');
    const ms = checkMs('leaseMs', leaseMs);
    return leases
      .filter((lease) => !this.#cluster.renew(checkSessionId(lease.sessionId), owner, lease.token, ms, checkDeadline(lease.deadline)))
      .map((lease) => lease.sessionId);
  }

  async adoptable(limit: number): Promise<string[]> {
    this.#me('adoptable');
    return this.#cluster.adoptable(checkLimit(limit));
  }

  async release(lease: Lease): Promise<boolean> {
    const owner = this.#me('release');
    return this.#cluster.release(checkSessionId(lease.sessionId), owner, lease.token);
  }

  async owner(sessionId: string): Promise<Lease | undefined> {
    this.#me('owner');
    const record = this.#cluster.live(checkSessionId(sessionId));
    return record === undefined ? undefined : { sessionId, owner: record.owner, token: record.token };
  }

  async requestHandover(sessionId: string, owner: string, timeoutMs: number): Promise<HandoverOutcome> {
    const from = this.#me('requestHandover');
    checkSessionId(sessionId);
    const ms = checkMs('timeoutMs', timeoutMs);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<HandoverOutcome>((resolve) => (timer = setTimeout(() => resolve('timeout'), ms)));
    const answered = (async (): Promise<HandoverOutcome | undefined> => {
      await hop();
      const member = this.#cluster.member(owner);
      if (member === undefined) return undefined; // nobody listens: the request is lost, as on a network
      await member.handover(sessionId, from).catch(() => {});
      await hop();
      return 'released';
    })();
    try {
      return await Promise.race([answered.then((outcome) => outcome ?? timedOut), timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }

  async leave(): Promise<void> {
    if (this.#left) return;
    this.#left = true;
    if (this.#instanceId !== undefined) this.#cluster.leave(this.#instanceId);
  }

  #me(operation: string): string {
    if (this.#left) throw coordinatorError(`${operation} after leave()`);
    if (this.#instanceId === undefined) throw coordinatorError(`${operation} before join()`);
    return this.#instanceId;
  }
}
