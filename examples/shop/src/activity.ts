import type { LiveSessionView } from '@reprise/core';
import type { ShopData, ShopEnv } from './session-data.js';
import { plural, short } from './session-data.js';

const MAX_ENTRIES = 20;

/**
 * A live resource (the 4D "selection" side of a session): a per-session activity log. It lives in
 * `session.live`, so it is never persisted: when the session closes, Reprise calls its `close()`
 * after the closing hooks, and a restored session starts a fresh one (the restore hook does it).
 * A real app would keep a database cursor, a websocket or a cache here.
 */
export class ActivityLog {
  readonly #entries: string[] = [];
  readonly #now: () => number;
  readonly #onClose: (entries: number) => void;
  #closed = false;

  constructor(now: () => number, onClose: (entries: number) => void) {
    this.#now = now;
    this.#onClose = onClose;
  }

  /** The last entries, oldest first. */
  get entries(): readonly string[] {
    return this.#entries;
  }

  get closed(): boolean {
    return this.#closed;
  }

  add(what: string): void {
    if (this.#closed) return;
    this.#entries.push(`${new Date(this.#now()).toISOString()} ${what}`);
    if (this.#entries.length > MAX_ENTRIES) this.#entries.shift();
  }

  /** Called by Reprise when the session closes (live resources are disposed after the closing hooks). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#onClose(this.#entries.length);
  }
}

/** The activity log of `session`, created on first use. */
export function activityOf(session: LiveSessionView<ShopData>, env: ShopEnv): ActivityLog {
  let log = session.live.get('activity');
  if (!(log instanceof ActivityLog)) {
    log = new ActivityLog(env.now, (entries) =>
      env.log(`[reprise] disposed live activity log of ${short(session.id)} (${plural(entries, 'entry', 'entries')}, never persisted)`),
    );
    session.live.set('activity', log);
  }
  return log as ActivityLog;
}
