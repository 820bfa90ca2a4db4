import { SessionManager } from '../../src/session-manager.js';
import type { SessionManagerOptions } from '../../src/options.js';
import type { SessionData } from '../../src/types.js';
import { OrderedTestAdapter, TestAdapter } from './test-adapter.js';
import { record, type Recorded } from './events.js';

export interface Harness<TData extends SessionData, TAdapter extends TestAdapter = TestAdapter> {
  manager: SessionManager<TData>;
  adapter: TAdapter;
  events: Recorded<TData>;
}

/** A manager on a TestAdapter (unordered) with every event recorded. */
export function makeManager<TData extends SessionData = SessionData>(options: Partial<SessionManagerOptions<TData>> = {}): Harness<TData> {
  const adapter = (options.adapter as TestAdapter | undefined) ?? new TestAdapter(options.now);
  const manager = new SessionManager<TData>({ ...options, adapter });
  const events = record(manager);
  return { manager, adapter, events };
}

/** A manager on an {@link OrderedTestAdapter} (conditional writes) with every event recorded. */
export function makeOrderedManager<TData extends SessionData = SessionData>(
  options: Partial<SessionManagerOptions<TData>> = {},
): Harness<TData, OrderedTestAdapter> {
  const adapter = new OrderedTestAdapter(options.now);
  const manager = new SessionManager<TData>({ ...options, adapter });
  const events = record(manager);
  return { manager, adapter, events };
}

/** One of the two kinds of adapter the core must work with. */
export interface AdapterKind {
  readonly name: string;
  readonly ordered: boolean;
  make<TData extends SessionData = SessionData>(options?: Partial<SessionManagerOptions<TData>>): Harness<TData>;
}

/** Both adapters, for suites that must hold with and without conditional writes. */
export const ADAPTER_KINDS: readonly AdapterKind[] = [
  { name: 'unordered adapter (save/take)', ordered: false, make: (options) => makeManager(options) },
  { name: 'ordered adapter (saveIfNewer/takeVersioned)', ordered: true, make: (options) => makeOrderedManager(options) },
];

/**
 * `manager.resume(id)` for a caller that only looks: releases the session it was handed (if any)
 * at once and returns the resumption.
 */
export async function resumeAndRelease<TData extends SessionData>(manager: SessionManager<TData>, id: string) {
  const found = await manager.resume(id);
  if (found.kind === 'live' || found.kind === 'restored') manager.release(found.session);
  return found;
}
