import { createHmac, randomBytes } from 'node:crypto';
import Router from '@koa/router';
import type { LiveSession, SessionManager } from '@reprise/core';
import { httpError } from '../http-error.js';
import type { ShopData, ShopEnv } from '../session-data.js';
import { CloseHistory, HISTORY_MINUTES } from './close-history.js';
import { approximateDataBytes } from './data-size.js';
import { LIVE_PAGE_HTML } from './page.js';

/** Rows the page lists at most (the most recently active first); the totals count every session. */
export const MAX_ROWS = 500;

/** One live session as the page shows it: never its id (a credential), only a handle and a prefix. */
export interface LiveRow {
  /** Opaque handle for the close button: an HMAC of the id under a key that never leaves the process. */
  readonly ref: string;
  /** The id's first 6 characters, to tell rows apart. */
  readonly idPrefix: string;
  readonly user: string | null;
  readonly ageMs: number;
  readonly idleMs: number;
  readonly expiresInMs: number | null;
  readonly dataBytes: number;
  readonly busy: boolean;
}

/**
 * The live-sessions page (an admin view; unprotected here: a real app puts it behind authentication):
 * - `GET /admin/live`: the page (it polls the JSON below every 2 s);
 * - `GET /admin/live.json`: live sessions (age, idle time, data size), closes by reason over the last
 *   {@link HISTORY_MINUTES} minutes, the cap and the manager's stats;
 * - `POST /admin/live/close?ref=…`: closes that session (reason `'closed'`, as a logout: its hooks
 *   run and its cookie no longer restores it).
 * None of them creates a session.
 */
export function liveRouter(env: ShopEnv, manager: SessionManager<ShopData>): Router {
  const history = new CloseHistory(env.now);
  manager.on('close', (_session, reason) => history.record(reason));
  const key = randomBytes(32);
  const refOf = (id: string): string => createHmac('sha256', key).update(id).digest('base64url').slice(0, 22);
  const router = new Router({ prefix: '/admin/live' });

  router.get('/', (ctx) => {
    ctx.type = 'html';
    ctx.set('Content-Security-Policy', "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'");
    ctx.body = LIVE_PAGE_HTML;
  });

  router.get('.json', (ctx) => {
    const now = env.now();
    const sessions = manager.sessions();
    const rows = sessions
      .sort((a, b) => b.lastActiveAt - a.lastActiveAt)
      .slice(0, MAX_ROWS)
      .map((session) => rowOf(session, now, refOf(session.id), manager.getExpiration(session.id)));
    ctx.set('Cache-Control', 'no-store');
    ctx.body = {
      now: new Date(now).toISOString(),
      live: sessions.length,
      shown: rows.length,
      maxSessions: manager.getOption('maxSessions'),
      idleTimeoutMs: manager.getOption('idleTimeout'),
      sessions: rows,
      closesPerMinute: history.recent().map(({ minute, counts }) => ({ minute: new Date(minute).toISOString(), counts })),
      historyMinutes: HISTORY_MINUTES,
      stats: manager.stats(),
    };
  });

  router.post('/close', async (ctx) => {
    const ref = String(ctx.query.ref ?? '');
    const session = manager.sessions().find((candidate) => refOf(candidate.id) === ref);
    if (session === undefined) throw httpError(404, 'no live session with that ref (closed already?)');
    ctx.body = { closed: await manager.close(session.id, 'closed') };
  });

  return router;
}

function rowOf(session: LiveSession<ShopData>, now: number, ref: string, expiresAt: number | undefined): LiveRow {
  return {
    ref,
    idPrefix: session.id.slice(0, 6),
    user: session.data.user ?? null,
    ageMs: now - session.createdAt,
    idleMs: now - session.lastActiveAt,
    expiresInMs: expiresAt === undefined ? null : expiresAt - now,
    dataBytes: approximateDataBytes(session.data),
    busy: session.busy,
  };
}
