import type { CoordinationSettings } from './options.js';
import type { CoordinatorMember, Lease, LeaseRenewal } from './coordinator.js';
import { LeaseVersions } from './lease-versions.js';
import type { VersionClock } from './version-clock.js';

/** What {@link Coordination} needs of its manager. */
export interface CoordinationContext {
  readonly settings: CoordinationSettings;
  /** Versions of keys this instance holds no lease on (`persistKey`s). */
  readonly clock: VersionClock;
  /** Reports a coordinator failure (an `'error'` event). */
  report(error: unknown): void;
  /** Another instance asks for `sessionId`: close it here with `'handover'` (resolves when its close ended). */
  handover(sessionId: string, from: string): Promise<void>;
  /** The lease of the live session `sessionId` was lost to another instance: drop it here, without hooks or writes. */
  lost(sessionId: string): void;
  /** Resolves once no write of `key` is waiting or in flight in the write queue. */
  settled(key: string): Promise<void>;
  /**
   * The idle deadline to index for `sessionId` (ms since the epoch): the live session's, or what a
   * session restored now would get.
   */
  deadline(sessionId: string): number;
  /**
   * Adopts `sessionId`, a session of a dead instance past its idle deadline: restores it from its
   * checkpoint and closes it with `'expired'` (see {@link Coordination.claimFree}). Resolves when done.
   */
  adopt(sessionId: string): Promise<void>;
}

/** What this instance knows of one session id it leases (or tries to). */
interface Entry {
  /** A live session of this id is here. Otherwise the lease waits for the writes of its close to settle. */
  live: boolean;
  lease: Lease | undefined;
  /** Versions of the writes under this id: the lease's term, or token 0 while no lease could be had. */
  versions: LeaseVersions;
  /** A claim in flight: writes wait for it, so that their versions are the lease's. */
  claiming: Promise<void> | undefined;
  /** The release waiting for the close's writes to settle. */
  releasing: Promise<void> | undefined;
}

/** How many times a restore asks a holder for a session before it gives up (hand-overs can chain). */
const MAX_HANDOVER_ROUNDS = 3;
/** Orphans one adoption pass asks for; a full batch starts the next pass at once. */
const ADOPTION_BATCH = 100;
/** Batches one pass takes at most (the next pass, a lease later, goes on). */
const ADOPTION_ROUNDS = 10;
/** Orphans adopted at once (each is a restore, closing hooks and a write). */
const ADOPTION_CONCURRENCY = 4;

/**
 * The leases of one manager's sessions (several instances; see docs/several-instances.md): claims
 * at create and before a restore by cookie (asking the holder to hand the session over), versions
 * built from the lease's token for every write under the session id, releases once a close's
 * writes have settled, and renewals every third of the lease.
 */
export class Coordination {
  readonly #c: CoordinationContext;
  readonly #entries = new Map<string, Entry>();
  /**
   * Releases sent and not answered yet, by session id. A claim of the same id by this instance waits
   * for them: this instance's claim keeps the lease's token, so a release landing after it would
   * delete the lease just claimed again, and another instance could then claim the id and restore it
   * too (two live copies).
   */
  readonly #releases = new Map<string, Promise<unknown>>();
  #joined: Promise<void> | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  #adoptionTimer: ReturnType<typeof setInterval> | undefined;
  #adopting = false;
  #renewing = false;
  #stopped = false;
  /** Whether the last renewal failed (reported once per streak). */
  #failing = false;
  /** When a renewal round last succeeded (or the coordination started), ms on the local clock. */
  #renewedAt = Date.now();

  constructor(context: CoordinationContext) {
    this.#c = context;
  }

  /** ms a request waits for another instance to hand a session over. */
  get handoverTimeout(): number {
    return this.#c.settings.handoverTimeout;
  }

  /**
   * Whether this instance may lose its leases without knowing it: no renewal succeeded for half of
   * `leaseMs` (the coordinator unreachable, or this process stalled; renewals run every third). The
   * leases may lapse and other instances take the sessions over, so the sessions here are not served
   * meanwhile. The other half is the margin for clock drift between hosts. The next successful
   * renewal (one is due before the leases lapse) tells which are still held.
   */
  get suspended(): boolean {
    return Date.now() - this.#renewedAt > this.#c.settings.leaseMs / 2;
  }

  /** Leases held now (live sessions, and closed ones whose writes are not settled). */
  get held(): number {
    let n = 0;
    for (const entry of this.#entries.values()) if (entry.lease !== undefined) n += 1;
    return n;
  }

  /** Joins the coordinator and starts the renewals (every `leaseMs / 3`) and the adoption passes (every `leaseMs`), unref'd. */
  start(): void {
    void this.#join().catch((error: unknown) => this.#c.report(error));
    this.#timer = setInterval(() => void this.#renew(), Math.max(1, Math.floor(this.#c.settings.leaseMs / 3)));
    this.#timer.unref?.();
    this.#adoptionTimer = setInterval(() => void this.adoptOrphans(), this.#c.settings.leaseMs);
    this.#adoptionTimer.unref?.();
  }

  /**
   * One adoption pass (the timer runs one every `leaseMs`): the sessions of dead instances whose idle
   * deadline passed, as the coordinator's index lists them, adopted a few at a time, until a batch
   * comes back short (at most 1,000 per pass). Skipped while renewals fail (this instance may be the one cut off) and when a
   * pass is running. Resolves how many sessions it adopted or tried to.
   */
  async adoptOrphans(): Promise<number> {
    if (this.#adopting || this.#stopped || this.suspended) return 0;
    this.#adopting = true;
    let tried = 0;
    try {
      await this.#join();
      for (let round = 0; round < ADOPTION_ROUNDS; round++) {
        const ids = (await this.#c.settings.coordinator.adoptable(ADOPTION_BATCH)).filter((id) => !this.#entries.has(id));
        tried += ids.length;
        await inSlices(ids, ADOPTION_CONCURRENCY, (id) => this.#c.adopt(id));
        if (ids.length < ADOPTION_BATCH || this.#stopped) break;
      }
      return tried;
    } catch (error) {
      this.#c.report(error);
      return tried;
    } finally {
      this.#adopting = false;
    }
  }

  /**
   * Claims `sessionId` without asking anyone to hand it over (a session of a dead instance to adopt,
   * or the id of a snapshot restored by key): `true` when this instance holds its lease now (exactly
   * one claimer wins; the others, and a claim racing its visitor elsewhere, get `false`; so does an id
   * this instance already leases). The caller restores it, or calls {@link closed} when it does not.
   */
  async claimFree(sessionId: string): Promise<boolean> {
    if (this.#entries.has(sessionId)) return false;
    await this.#releaseLanded(sessionId);
    if (this.#entries.has(sessionId)) return false;
    const claim = await this.#c.settings.coordinator.claim(sessionId, this.#c.settings.leaseMs);
    if (!claim.held || this.#entries.has(sessionId)) return false;
    this.#hold(sessionId, claim.lease);
    return true;
  }

  /** A session became live here without a claim (created, restored by key): its id is claimed in the background. */
  adopt(sessionId: string): void {
    const entry = this.#entries.get(sessionId);
    if (entry !== undefined) {
      entry.live = true;
      return;
    }
    const fresh: Entry = { live: true, lease: undefined, versions: new LeaseVersions(0), claiming: undefined, releasing: undefined };
    this.#entries.set(sessionId, fresh);
    fresh.claiming = this.#claimQuietly(sessionId, fresh);
  }

  /**
   * Before a restore by cookie: the lease on `sessionId`, asking the instance that holds it to hand
   * the session over (up to {@link MAX_HANDOVER_ROUNDS} times, then `'elsewhere'`). `'held'`: this
   * instance holds it now (the entry is live). Rejects when the coordinator cannot be reached.
   */
  async acquire(sessionId: string): Promise<{ held: boolean; handedOver: boolean }> {
    const { coordinator, leaseMs, handoverTimeout } = this.#c.settings;
    await this.#join();
    let handedOver = false;
    let timedOut = false;
    for (let round = 0; ; round++) {
      await this.#releaseLanded(sessionId);
      const claim = await coordinator.claim(sessionId, leaseMs, this.#c.deadline(sessionId));
      if (claim.held) {
        this.#hold(sessionId, claim.lease);
        return { held: true, handedOver };
      }
      if (round === MAX_HANDOVER_ROUNDS || timedOut) return { held: false, handedOver };
      const outcome = await coordinator.requestHandover(sessionId, claim.owner, handoverTimeout);
      handedOver ||= outcome === 'released';
      // An owner that did not answer (dead, cut off) is not asked again: one more claim (its lease
      // may have lapsed meanwhile), then unavailable, so a request waits about handoverTimeout, not
      // once per round.
      timedOut = outcome === 'timeout';
    }
  }

  /** The version of the next write under `key`: its lease's term when this instance leases `key`, else the clock's. */
  version(key: string): number | Promise<number> {
    const entry = this.#entries.get(key);
    if (entry === undefined) return this.#c.clock.next();
    if (entry.claiming !== undefined) return entry.claiming.then(() => this.version(key));
    if (!entry.versions.exhausted) return entry.versions.next();
    // 2^20 writes in one term: a new term (release, then claim a new token).
    entry.claiming = this.#newTerm(key, entry);
    return entry.claiming.then(() => this.version(key));
  }

  /**
   * The session `sessionId` left here (closed, dropped, or a restore that found nothing): its lease is
   * released once its writes have settled, unless it is live here again by then.
   */
  closed(sessionId: string): void {
    const entry = this.#entries.get(sessionId);
    if (entry === undefined) return;
    entry.live = false;
    entry.releasing ??= this.#releaseWhenSettled(sessionId, entry);
  }

  /**
   * The claim of `sessionId` in flight here, resolving once it settled (held, refused and dropped,
   * or failed: then its writes go on with token 0); `undefined` when none is in flight. Never rejects.
   */
  leased(sessionId: string): Promise<void> | undefined {
    return this.#entries.get(sessionId)?.claiming;
  }

  /** Resolves once `sessionId`'s lease was released here (at once when this instance holds none). */
  async released(sessionId: string): Promise<void> {
    await this.#entries.get(sessionId)?.releasing;
    await this.#releaseLanded(sessionId); // the entry goes before its release is sent
  }

  /** The member the coordinator calls: hand-over requests go to the manager. */
  member(): CoordinatorMember {
    return { handover: (sessionId, from) => this.#handover(sessionId, from) };
  }

  /**
   * Stops the renewals after the releases in flight ended (or after `timeoutMs`). Leases still held
   * then are left to lapse. The coordinator stays joined: leaving it is its owner's call.
   */
  async stop(timeoutMs: number): Promise<void> {
    const releases = [...this.#entries.values()].flatMap((entry) => (entry.releasing === undefined ? [] : [entry.releasing]));
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([Promise.allSettled(releases), new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
    this.#stopped = true;
    clearInterval(this.#timer);
    clearInterval(this.#adoptionTimer);
  }

  /**
   * A hand-over request from `from`. The lease is confirmed first (a renewal of that one lease): a
   * request can arrive late, after a partition healed, when another instance holds the session
   * already. Then the copy here is stale and is dropped without hooks, as a lost lease. When the
   * lease cannot be confirmed (the store unreachable), nothing is done: the requester times out.
   */
  async #handover(sessionId: string, from: string): Promise<void> {
    const entry = this.#entries.get(sessionId);
    if (entry?.live === true && entry.lease !== undefined) {
      let lost: string[];
      try {
        lost = await this.#c.settings.coordinator.renew(
          [{ ...entry.lease, deadline: this.#c.deadline(sessionId) }],
          this.#c.settings.leaseMs,
        );
      } catch (error) {
        this.#c.report(error);
        return;
      }
      if (lost.length > 0) {
        if (this.#entries.get(sessionId) === entry) this.#forget(sessionId, entry);
        return;
      }
    }
    await this.#c.handover(sessionId, from);
    await this.released(sessionId);
  }

  /** Sends the release of `lease`, known to claims of the same id until it is answered (see {@link #releases}). */
  async #release(lease: Lease): Promise<boolean> {
    const sent = this.#c.settings.coordinator.release(lease);
    const landed = sent.catch(() => undefined);
    this.#releases.set(lease.sessionId, landed);
    try {
      return await sent;
    } finally {
      if (this.#releases.get(lease.sessionId) === landed) this.#releases.delete(lease.sessionId);
    }
  }

  /** Resolves once no release of `sessionId` by this instance is in flight (at once when none is). */
  async #releaseLanded(sessionId: string): Promise<void> {
    for (let pending = this.#releases.get(sessionId); pending !== undefined; pending = this.#releases.get(sessionId)) await pending;
  }

  /** A lease found lost: the entry goes, and a session live here under it is dropped (no hooks, no writes). */
  #forget(sessionId: string, entry: Entry): void {
    this.#entries.delete(sessionId);
    if (entry.live) this.#c.lost(sessionId);
  }

  #join(): Promise<void> {
    this.#joined ??= this.#c.settings.coordinator.join(this.#c.settings.instanceId, this.member()).catch((error: unknown) => {
      this.#joined = undefined; // tried again by the next claim
      throw error;
    });
    return this.#joined;
  }

  /** Records a lease this instance holds for a live session; a renewed one keeps its term's versions. */
  #hold(sessionId: string, lease: Lease): void {
    const entry = this.#entries.get(sessionId);
    if (entry === undefined) {
      this.#entries.set(sessionId, {
        live: true,
        lease,
        versions: new LeaseVersions(lease.token),
        claiming: undefined,
        releasing: undefined,
      });
      return;
    }
    entry.live = true;
    if (entry.lease?.token !== lease.token) entry.versions = new LeaseVersions(lease.token);
    entry.lease = lease;
  }

  /**
   * A claim in the background, for a session live here (created, restored by key): its writes wait
   * for it, so nothing of it reaches the store before this instance holds its lease. When another
   * instance holds the id (its visitor raced the creating response: a restore there found nothing
   * yet), that instance is asked to let go, and the claim is tried again until `handoverTimeout`;
   * past it the session is dropped here (a lost lease). When the coordinator cannot be reached, the
   * writes go on with token 0 (weaker than every real owner) and the claim is tried again at each
   * renewal.
   */
  async #claimQuietly(sessionId: string, entry: Entry): Promise<void> {
    const { coordinator, leaseMs, handoverTimeout } = this.#c.settings;
    const deadline = Date.now() + handoverTimeout;
    try {
      await this.#join();
      for (let pause = 1; ; pause = Math.min(pause * 2, 50)) {
        await this.#releaseLanded(sessionId);
        const claim = await coordinator.claim(sessionId, leaseMs, this.#c.deadline(sessionId));
        if (this.#entries.get(sessionId) !== entry) return;
        if (claim.held) {
          if (entry.lease?.token !== claim.lease.token) entry.versions = new LeaseVersions(claim.lease.token);
          entry.lease = claim.lease;
          return;
        }
        if (Date.now() >= deadline) {
          this.#entries.delete(sessionId);
          if (entry.live) this.#c.lost(sessionId);
          return;
        }
        await coordinator.requestHandover(sessionId, claim.owner, Math.max(1, deadline - Date.now()));
        await new Promise((resolve) => setTimeout(resolve, pause));
      }
    } catch (error) {
      this.#c.report(error);
    } finally {
      if (this.#entries.get(sessionId) === entry) entry.claiming = undefined;
    }
  }

  async #newTerm(sessionId: string, entry: Entry): Promise<void> {
    try {
      if (entry.lease !== undefined) await this.#release(entry.lease);
      const claim = await this.#c.settings.coordinator.claim(sessionId, this.#c.settings.leaseMs);
      if (!claim.held) throw new Error(`session ${sessionId.slice(0, 6)}… was claimed by ${claim.owner} while its term was renewed`);
      entry.lease = claim.lease;
      entry.versions = new LeaseVersions(claim.lease.token);
    } catch (error) {
      this.#c.report(error);
      entry.versions = new LeaseVersions(0);
    } finally {
      entry.claiming = undefined;
    }
  }

  async #releaseWhenSettled(sessionId: string, entry: Entry): Promise<void> {
    try {
      await entry.claiming;
      await this.#c.settled(sessionId);
      if (entry.live || this.#entries.get(sessionId) !== entry) return;
      this.#entries.delete(sessionId);
      if (entry.lease !== undefined) await this.#release(entry.lease);
    } catch (error) {
      this.#c.report(error); // the lease lapses by itself
    } finally {
      entry.releasing = undefined;
    }
  }

  /** One renewal of every lease held; leases lost are dropped, sessions without one are claimed again. */
  async #renew(): Promise<void> {
    if (this.#renewing || this.#stopped) return;
    this.#renewing = true;
    try {
      // Live sessions report their idle deadline; closed ones (writes unsettled) keep the one indexed.
      const held: LeaseRenewal[] = [];
      for (const [sessionId, { lease, live }] of this.#entries) {
        if (lease !== undefined) held.push(live ? { ...lease, deadline: this.#c.deadline(sessionId) } : lease);
      }
      const startedAt = Date.now();
      const lost = held.length === 0 ? [] : await this.#c.settings.coordinator.renew(held, this.#c.settings.leaseMs);
      this.#failing = false;
      // Measured from when the round started: the leases were extended from then at the latest.
      this.#renewedAt = startedAt;
      for (const sessionId of lost) {
        const entry = this.#entries.get(sessionId);
        if (entry !== undefined) this.#forget(sessionId, entry);
      }
      for (const [sessionId, entry] of this.#entries) {
        if (entry.lease === undefined && entry.claiming === undefined && entry.live) entry.claiming = this.#claimQuietly(sessionId, entry);
      }
    } catch (error) {
      if (!this.#failing) this.#c.report(error);
      this.#failing = true;
    } finally {
      this.#renewing = false;
    }
  }
}

/** Runs `work` on every item, at most `concurrency` at once; a failure is the work's own to report. */
async function inSlices<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}
