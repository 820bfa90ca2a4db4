import type { RepriseError } from '../../src/errors.js';
import type { SessionManager } from '../../src/session-manager.js';
import type { LiveSession } from '../../src/live-session.js';
import type { CloseReason, SessionData, Snapshot } from '../../src/types.js';

/** Everything a manager emitted, recorded in order. */
export interface Recorded<TData extends SessionData> {
  errors: RepriseError[];
  closes: { session: LiveSession<TData>; id: string; reason: CloseReason }[];
  restores: { session: LiveSession<TData>; snapshot: Snapshot<TData> }[];
  persistFailed: { snapshot: Snapshot<TData>; error: RepriseError }[];
}

/** Listens to every event of `manager` (so no error goes to process.emitWarning). */
export function record<TData extends SessionData>(manager: SessionManager<TData>): Recorded<TData> {
  const recorded: Recorded<TData> = { errors: [], closes: [], restores: [], persistFailed: [] };
  manager.on('error', (error) => recorded.errors.push(error));
  manager.on('close', (session, reason) => recorded.closes.push({ session, id: session.id, reason }));
  manager.on('restore', (session, snapshot) => recorded.restores.push({ session, snapshot }));
  manager.on('persistFailed', (snapshot, error) => recorded.persistFailed.push({ snapshot, error }));
  return recorded;
}

/** Collects process 'warning' events until `stop()` is called. */
export function captureWarnings(): { warnings: Error[]; stop(): void } {
  const warnings: Error[] = [];
  const listener = (warning: Error): void => {
    warnings.push(warning);
  };
  process.on('warning', listener);
  return { warnings, stop: () => process.off('warning', listener) };
}
