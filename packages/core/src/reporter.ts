import type { EventEmitter } from 'node:events';
import { ListenerError, PersistError, type RepriseError } from './errors.js';
import type { LiveSession } from './live-session.js';
import { describeKey, redactId } from './redact.js';
import type { Counters } from './stats.js';
import type { CloseReason, SessionData, Snapshot } from './types.js';
import { WarningThrottle } from './warning-throttle.js';

/** The events of a `SessionManager` and their arguments. */
export interface ManagerEvents<TData extends SessionData> {
  /** A close finished (hooks ran, snapshot handed to the queue, live resources disposed). */
  close: [session: LiveSession<TData>, reason: CloseReason];
  /** A snapshot was restored into a live session (after the restore hooks). */
  restore: [session: LiveSession<TData>, snapshot: Snapshot<TData>];
  /** Something went wrong and was handled; without a listener it goes to `process.emitWarning`. */
  error: [error: RepriseError];
  /** A snapshot that could not be written (too large, refused for good, or given up by the retry queue). */
  persistFailed: [snapshot: Snapshot<TData>, error: RepriseError];
}

/**
 * How a manager tells the application what happened: events that never throw into a close or a
 * restore (a listener that throws is reported), errors to the `'error'` event or, with no listener,
 * to `process.emitWarning`, and the counters that go with each report.
 */
export class Reporter<TData extends SessionData> {
  readonly #emitter: EventEmitter<ManagerEvents<TData>>;
  readonly #counters: Counters;
  /** This manager's process warnings, aggregated per code and window. */
  readonly #warnings = new WarningThrottle();

  constructor(emitter: EventEmitter<ManagerEvents<TData>>, counters: Counters) {
    this.#emitter = emitter;
    this.#counters = counters;
  }

  /**
   * A handled problem: an `'error'` event, or a process warning when nobody listens (aggregated per
   * code and 10 s window: see `WarningThrottle`). Never throws.
   */
  report(error: RepriseError): void {
    if (this.#emitter.listenerCount('error') === 0) {
      this.#warnings.warn(error);
      return;
    }
    try {
      this.#emitter.emit('error', error);
    } catch (thrown) {
      this.#warnings.warn(new ListenerError('error', thrown));
    }
  }

  /** Emits an event; a listener that throws is reported, never allowed to break a close or a restore. */
  emit<K extends 'close' | 'restore' | 'persistFailed'>(event: K, ...args: ManagerEvents<TData>[K]): void {
    try {
      (this.#emitter.emit as (name: K, ...rest: ManagerEvents<TData>[K]) => boolean).call(this.#emitter, event, ...args);
    } catch (thrown) {
      this.report(new ListenerError(event, thrown));
    }
  }

  /** A hook or a disposal threw or passed its time. */
  hookFailed(error: RepriseError): void {
    this.#counters.hookErrors += 1;
    this.report(error);
  }

  /** A write attempt failed (reported on the first failure of each write only). */
  persistFailed(error: PersistError, first: boolean): void {
    this.#counters.persistFailures += 1;
    if (first) this.report(error);
  }

  /** A snapshot will not be written: `'persistFailed'` gets it, or it is reported lost. A pointer's failure is only reported. */
  gaveUp(snapshot: Snapshot<TData> | undefined, error: RepriseError): void {
    if (snapshot === undefined) {
      this.report(error);
      return;
    }
    this.#counters.persistGivenUp += 1;
    if (this.#emitter.listenerCount('persistFailed') > 0) this.emit('persistFailed', snapshot, error);
    else
      this.report(
        new PersistError(
          describeKey(snapshot.key),
          `snapshot of session ${redactId(snapshot.sessionId)} lost (no 'persistFailed' listener): ${error.message}`,
          { cause: error },
        ),
      );
  }
}
