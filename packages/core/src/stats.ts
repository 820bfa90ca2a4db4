import type { CloseReason } from './types.js';

/** Counters and gauges of a `SessionManager`. Counters count since the manager was built. */
export interface ManagerStats {
  /** Live sessions now (closing ones excluded). */
  live: number;
  /** Live sessions with a request in flight. */
  busy: number;
  /** Sessions whose close is running (hooks, snapshot, disposal). */
  closing: number;
  /** Live sessions beyond `maxSessions` (admitted because every session was busy). */
  overCap: number;
  /**
   * Idle live sessions whose visitor never came back after the creating request (the probation
   * segment): the cap evicts these first, least recently active first.
   */
  probation: number;
  /** Sessions created (restores excluded). */
  created: number;
  /** Snapshots restored, from a cookie or by `restore(key)`. */
  restored: number;
  /** Restores that failed (adapter error, corrupt or refused snapshot). */
  restoreFailures: number;
  /** Closes by reason. */
  closed: Record<CloseReason, number>;
  /** Closing and restore hooks (and disposals) that threw or timed out. */
  hookErrors: number;
  /** Snapshots the adapter accepted (checkpoints excluded). */
  persisted: number;
  /** Checkpoints the adapter accepted. */
  checkpoints: number;
  /** Checkpoints given up by the write queue (each is written again at the next pass while its session lives). */
  checkpointFailures: number;
  /** Failed write attempts, and snapshots that could not be encoded. */
  persistFailures: number;
  /** Snapshots given up and handed to `'persistFailed'`. */
  persistGivenUp: number;
  /** Snapshots the adapter refused because it held a newer one of the same key (ordered adapters). */
  superseded: number;
  /** Writes not yet accepted by the adapter now (first attempts included). */
  pendingPersists: number;
  /** Writes waiting for a retry now (what `maxPendingPersists` bounds). */
  retryingPersists: number;
  /** Writes to sessions after their close (ignored). */
  writesAfterClose: number;
  /** Several instances: sessions restored here after another live instance handed them over (out: `closed.handover`). */
  handoversIn: number;
  /** Several instances: sessions closed here with `'handover'` because another instance asked for them (also in `closed.handover`). */
  handoversOut: number;
  /** Several instances: sessions restored from a checkpoint, their owner having died (its lease lapsed). */
  takeovers: number;
  /**
   * Several instances: sessions of a dead instance whose visitors never came back, restored here from
   * their checkpoint once their idle deadline passed, and closed with `'expired'` (their closing hooks
   * ran here; also counted in `restored` and `closed.expired`).
   */
  adoptions: number;
  /** Several instances: live sessions dropped here, without hooks or writes, because their lease was lost to another instance. */
  leasesLost: number;
  /** Several instances: leases this instance holds now (live sessions, and closed ones whose writes are not settled). */
  leases: number;
}

/** The counters a manager keeps itself (the gauges are read when `stats()` is called). */
export type Counters = Omit<
  ManagerStats,
  'live' | 'busy' | 'closing' | 'overCap' | 'probation' | 'pendingPersists' | 'retryingPersists' | 'leases'
>;

/** Fresh, zeroed counters. */
export function newCounters(): Counters {
  return {
    created: 0,
    restored: 0,
    restoreFailures: 0,
    closed: { evicted: 0, expired: 0, closed: 0, shutdown: 0, handover: 0 },
    hookErrors: 0,
    persisted: 0,
    checkpoints: 0,
    checkpointFailures: 0,
    persistFailures: 0,
    persistGivenUp: 0,
    superseded: 0,
    writesAfterClose: 0,
    handoversIn: 0,
    handoversOut: 0,
    takeovers: 0,
    adoptions: 0,
    leasesLost: 0,
  };
}
