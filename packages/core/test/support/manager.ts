import { SessionManager } from '../../src/session-manager.js';
import type { SessionManagerOptions } from '../../src/options.js';
import type { SessionData } from '../../src/types.js';
import { TestAdapter } from './test-adapter.js';
import { record, type Recorded } from './events.js';

export interface Harness<TData extends SessionData> {
  manager: SessionManager<TData>;
  adapter: TestAdapter;
  events: Recorded<TData>;
}

/** A manager on a TestAdapter with every event recorded. */
export function makeManager<TData extends SessionData = SessionData>(
  options: Partial<SessionManagerOptions<TData>> = {},
): Harness<TData> {
  const adapter = (options.adapter as TestAdapter | undefined) ?? new TestAdapter(options.now);
  const manager = new SessionManager<TData>({ ...options, adapter });
  const events = record(manager);
  return { manager, adapter, events };
}
