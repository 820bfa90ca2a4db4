import Router from '@koa/router';
import type { CloseReason, SessionManager } from '@reprise/core';
import { httpError } from '../http-error.js';
import { hasSession, type ShopData, type ShopEnv } from '../session-data.js';

const REASONS: readonly CloseReason[] = ['evicted', 'expired', 'closed', 'shutdown'];

/**
 * A window on the session manager (unprotected: a real app puts this behind authentication).
 * - `GET /admin/sessions`: live sessions, the cap and timeout, the manager's stats (closes by
 *   reason, restores, hand-overs, takeovers, ...), the current session's id and expiry, and with
 *   several instances the instance that answered. Creates no session.
 * - `POST /admin/close?reason=evicted|expired|closed|shutdown`: closes the current session with that
 *   reason (default `closed`): involuntary reasons are restored when the cookie comes back, `closed` is not.
 * - `POST /admin/options?maxSessions=N&idleTimeout=MS`: changes the options at run time (4D WEB SET
 *   OPTION); lowering the cap evicts at once.
 */
export function adminRouter(env: ShopEnv, manager: SessionManager<ShopData>): Router {
  const router = new Router({ prefix: '/admin' });

  router.get('/sessions', (ctx) => {
    let current = null;
    if (hasSession(ctx)) {
      const live = ctx.liveSession;
      const expiresAt = manager.getExpiration(live.id);
      current = {
        id: live.id,
        persistKey: live.persistKey,
        user: ctx.session.user ?? null,
        createdAt: new Date(live.createdAt).toISOString(),
        // When it expires if it stays idle (4D WEB LEGACY GET SESSION EXPIRATION); slides on every request.
        expiresAt: expiresAt === undefined ? null : new Date(expiresAt).toISOString(),
      };
    }
    ctx.body = {
      // Several instances: which process answered (each request may land on another one).
      ...(env.instanceId === undefined ? {} : { instance: { id: env.instanceId, pid: process.pid } }),
      live: manager.size,
      maxSessions: manager.getOption('maxSessions'),
      idleTimeoutMs: manager.getOption('idleTimeout'),
      stats: manager.stats(),
      current,
      now: new Date(env.now()).toISOString(),
    };
  });

  router.post('/close', async (ctx) => {
    const reason = (ctx.query.reason ?? 'closed') as CloseReason;
    if (!REASONS.includes(reason)) throw httpError(400, `reason must be one of ${REASONS.join(', ')}`);
    if (!hasSession(ctx)) throw httpError(404, 'no session to close');
    const id = ctx.liveSession.id;
    // Waits for the closing hooks and the snapshot (4D WEB LEGACY CLOSE SESSION).
    const closed = await manager.close(id, reason);
    ctx.body = { closed, reason, restorableFromCookie: reason !== 'closed' };
  });

  router.post('/options', (ctx) => {
    const changed: Record<string, number> = {};
    for (const name of ['maxSessions', 'idleTimeout'] as const) {
      const raw = ctx.query[name];
      if (raw === undefined) continue;
      const value = Number(raw);
      try {
        manager.setOption(name, value);
      } catch (error) {
        throw httpError(400, (error as Error).message);
      }
      changed[name] = value;
    }
    if (Object.keys(changed).length === 0) throw httpError(400, 'nothing to set: use ?maxSessions=N and/or ?idleTimeout=MS');
    ctx.body = { changed, live: manager.size, stats: manager.stats() };
  });

  return router;
}
