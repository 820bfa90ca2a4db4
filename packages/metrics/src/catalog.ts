import type { ManagerStats } from '@reprise/core';

/** A gauge read from `manager.stats()` at each scrape. */
export interface GaugeSpec {
  readonly name: string;
  readonly help: string;
  readonly read: (stats: ManagerStats) => number;
}

/** A counter read from `manager.stats()` at each scrape (it counts since the manager was built). */
export type CounterSpec = GaugeSpec;

/**
 * The gauges: what is true now. Names without the prefix (default `reprise_`); the OpenTelemetry
 * name of each is in the README.
 */
export const GAUGES: readonly GaugeSpec[] = Object.freeze([
  { name: 'sessions_live', help: 'Live sessions now (closing ones excluded).', read: (s) => s.live },
  { name: 'sessions_busy', help: 'Live sessions with a request in flight.', read: (s) => s.busy },
  { name: 'sessions_closing', help: 'Sessions whose close is running (hooks, snapshot, disposal).', read: (s) => s.closing },
  {
    name: 'sessions_over_cap',
    help: 'Live sessions beyond maxSessions (admitted because every session was busy).',
    read: (s) => s.overCap,
  },
  {
    name: 'sessions_probation',
    help: 'Idle sessions whose visitor never came back after the creating request (evicted first).',
    read: (s) => s.probation,
  },
  { name: 'writes_pending', help: 'Writes not yet accepted by the store (first attempts included).', read: (s) => s.pendingPersists },
  { name: 'writes_retrying', help: 'Writes waiting for a retry (what maxPendingPersists bounds).', read: (s) => s.retryingPersists },
  { name: 'leases', help: 'Several instances: leases this instance holds.', read: (s) => s.leases },
]);

/** The counters, each with `_total` (Prometheus naming). */
export const COUNTERS: readonly CounterSpec[] = Object.freeze([
  { name: 'sessions_created_total', help: 'Sessions created (restores excluded).', read: (s) => s.created },
  { name: 'sessions_restored_total', help: 'Snapshots restored, from a cookie or by restore(key).', read: (s) => s.restored },
  {
    name: 'restore_failures_total',
    help: 'Restores that failed (store error, corrupt or refused snapshot).',
    read: (s) => s.restoreFailures,
  },
  { name: 'hook_errors_total', help: 'Closing and restore hooks (and disposals) that threw or timed out.', read: (s) => s.hookErrors },
  { name: 'snapshots_written_total', help: 'Close snapshots the store accepted.', read: (s) => s.persisted },
  { name: 'checkpoints_written_total', help: 'Checkpoints the store accepted.', read: (s) => s.checkpoints },
  {
    name: 'checkpoint_failures_total',
    help: 'Checkpoints given up by the write queue (written again at the next pass).',
    read: (s) => s.checkpointFailures,
  },
  { name: 'write_failures_total', help: 'Failed write attempts, and snapshots that could not be encoded.', read: (s) => s.persistFailures },
  { name: 'snapshots_given_up_total', help: "Snapshots given up and handed to 'persistFailed' (lost).", read: (s) => s.persistGivenUp },
  {
    name: 'snapshots_superseded_total',
    help: 'Snapshots the store refused because it held a newer one of the same key.',
    read: (s) => s.superseded,
  },
  { name: 'writes_after_close_total', help: 'Writes to sessions after their close (ignored).', read: (s) => s.writesAfterClose },
  { name: 'handovers_in_total', help: 'Several instances: sessions handed over to this instance.', read: (s) => s.handoversIn },
  { name: 'handovers_out_total', help: 'Several instances: sessions this instance handed over.', read: (s) => s.handoversOut },
  {
    name: 'takeovers_total',
    help: 'Several instances: sessions restored here from a checkpoint after their owner died.',
    read: (s) => s.takeovers,
  },
  {
    name: 'adoptions_total',
    help: "Several instances: a dead instance's idle sessions closed here ('expired').",
    read: (s) => s.adoptions,
  },
  {
    name: 'leases_lost_total',
    help: 'Several instances: live sessions dropped here because their lease went to another instance.',
    read: (s) => s.leasesLost,
  },
]);

/** Closes by reason: one counter with a `reason` label. */
export const CLOSED = Object.freeze({
  name: 'sessions_closed_total',
  help: 'Sessions closed, by reason (evicted, expired, closed, shutdown, handover).',
});

/** Seconds the hooks of one close or restore took, by `kind` (close, restore) and `reason`. */
export const HOOK_DURATION = Object.freeze({
  name: 'hook_duration_seconds',
  help: 'Seconds the closing hooks of one close, or the restore hooks of one restore, took.',
});

/** Seconds each call to the store took, by `operation` (save, load, take, delete, ...) and `outcome` (ok, error). */
export const STORE_DURATION = Object.freeze({
  name: 'store_operation_duration_seconds',
  help: 'Seconds each call to the store took (save: a snapshot, checkpoint or batch written).',
});

/** Histogram buckets of both durations, in seconds: 0.5 ms to 10 s. */
export const DURATION_BUCKETS: readonly number[] = Object.freeze([
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
]);
