import type { Server } from 'node:http';
import type Koa from 'koa';
import type { SessionAdapter, SessionData } from '@reprise/core';
import type { SessionMiddleware } from '@reprise/koa';
import type { StoreCase } from './adapter-stores.js';
import { closeServer, listen } from './http.js';
import { within } from './wait.js';

/** A Koa app on a store's adapter, listening, and what a test reads of it. */
export interface Served<TData extends SessionData> {
  readonly adapter: SessionAdapter;
  /** Keys a memory adapter dropped to honour `maxEntries` (always empty for the other stores). */
  readonly dropped: string[];
  readonly middleware: SessionMiddleware<TData>;
  readonly server: Server;
}

/**
 * One server per test on a store case, inside a `describe`: registers a `before` hook that requires
 * the store's service and an `afterEach` that closes the server, shuts the manager down (bounded),
 * closes the adapter and removes the run's keys or table. `start(build)` opens the store, builds the
 * app on its adapter and listens.
 */
export function servedStore<TData extends SessionData>(
  store: StoreCase,
): { start(build: (adapter: SessionAdapter) => { app: Koa; middleware: SessionMiddleware<TData> }): Promise<Served<TData>> } {
  let opened: ReturnType<StoreCase['open']> | undefined;
  let server: Server | undefined;
  let middleware: SessionMiddleware<TData> | undefined;

  before(async function () {
    await store.require?.(this);
  });

  afterEach(async function () {
    if (server !== undefined) await closeServer(server);
    if (middleware !== undefined) await within('shutdown() in cleanup', 30_000, middleware.manager.shutdown()).catch(() => undefined);
    await opened?.adapter.close?.();
    await opened?.cleanup();
    opened = server = middleware = undefined;
  });

  return {
    async start(build) {
      opened = store.open();
      const built = build(opened.adapter);
      middleware = built.middleware;
      server = await listen(built.app);
      return { adapter: opened.adapter, dropped: opened.dropped, middleware, server };
    },
  };
}
