import Koa, { type Context, type Next } from 'koa';
import type Router from '@koa/router';
import { session, type CloseReason, type SessionAdapter, type SessionMiddleware, type Snapshot } from '@reprise/koa';
import type { LiveSessionView, SessionCoordinator } from '@reprise/core';
import { MemoryAdapter } from '@reprise/memory';
import { activityOf } from './activity.js';
import { accountRouter } from './routes/account.js';
import { adminRouter } from './routes/admin.js';
import { liveRouter } from './live-page/live-router.js';
import { metricsRouter } from './routes/metrics.js';
import { cartRouter } from './routes/cart.js';
import { cartSize, plural, short, type ShopData, type ShopEnv } from './session-data.js';

export type { ShopData, Prefs, ShopEnv } from './session-data.js';
export { short, userKey } from './session-data.js';
export { ActivityLog } from './activity.js';
export { adapterFromEnv, redact, ADAPTER_KINDS, ADAPTER_DEFAULTS } from './adapter.js';
export type { AdapterChoice, AdapterKind, AdapterFromEnvOptions } from './adapter.js';
export { coordinatorFromEnv } from './coordinator.js';
export type { CoordinatorChoice } from './coordinator.js';

/** Options of {@link createApp}. Unset options take Reprise's defaults. */
export interface ShopOptions {
  /** Cap on live sessions (4D "Web max sessions"). */
  maxSessions?: number | undefined;
  /** ms of inactivity before a session expires (4D "Web inactive process timeout"). */
  idleTimeout?: number | undefined;
  /** Where snapshots go; default a `MemoryAdapter` on the same clock. */
  adapter?: SessionAdapter | undefined;
  /** Clock in ms since the epoch (inject one in tests); default `Date.now`. */
  now?: () => number;
  /** Where the closing and restore hooks log; default `console.log`. */
  log?: (line: string) => void;
  /** `app.keys` (the session cookie is signed with them); default a development key. */
  keys?: string[] | undefined;
  /** ms between checkpoints of changed live sessions (Reprise's default: 5 s on Redis and Postgres). */
  checkpointInterval?: number | undefined;
  /**
   * Several instances: leases and hand-overs (`RedisCoordinator`, `PostgresCoordinator`). With it,
   * every response carries `X-Shop-Instance` and `GET /admin/sessions` names the instance.
   */
  coordinator?: SessionCoordinator | undefined;
  /** With `coordinator`: this process's name among the instances (default random). */
  instanceId?: string | undefined;
  /** With `coordinator`: ms a lease lives without renewal (Reprise's default 15 s). */
  leaseMs?: number | undefined;
  /** With `coordinator`: ms a request waits for another instance to hand a session over (default 2 s). */
  handoverTimeout?: number | undefined;
}

/** The shop, built but not listening. */
export interface Shop {
  readonly app: Koa;
  /** The session middleware; `middleware.manager` is its `SessionManager` (stats, close, shutdown). */
  readonly middleware: SessionMiddleware<ShopData>;
}

/** Builds the shop: a Koa app with Reprise sessions, a cart, login/logout with preferences, and an admin view. */
export function createApp(options: ShopOptions = {}): Shop {
  const now = options.now ?? (() => Date.now());
  const log = options.log ?? ((line: string) => console.log(line));
  const adapter = options.adapter ?? new MemoryAdapter({ now });
  const coordinated = options.coordinator !== undefined;
  const instanceId = coordinated ? (options.instanceId ?? `shop-${process.pid}`) : undefined;
  const env: ShopEnv = { log, now, inProcessSnapshots: adapter.name === 'memory', instanceId };

  const middleware = session<ShopData>({
    adapter,
    maxSessions: options.maxSessions,
    idleTimeout: options.idleTimeout,
    now,
    checkpointInterval: options.checkpointInterval,
    ...(coordinated
      ? { coordinator: options.coordinator, instanceId, leaseMs: options.leaseMs, handoverTimeout: options.handoverTimeout }
      : {}),
    // "On Web Legacy Close Session": runs at every close with the context intact. The snapshot
    // itself is written by Reprise after the hooks; this hook decides what a logout keeps and says
    // what is saved.
    onClose: (closing, reason) => onSessionClose(closing, reason, env),
    // Live resources are never persisted: rebuild them when a snapshot comes back.
    onRestore: (restored, snapshot) => onSessionRestore(restored, snapshot, env),
  });
  const { manager } = middleware;
  manager.on('error', (error) => log(`[reprise] ${error.code}: ${error.message}`));
  manager.on('persistFailed', (snapshot, error) => log(`[reprise] snapshot "${snapshot.key}" not saved: ${error.message}`));

  const app = new Koa();
  app.keys = options.keys ?? ['reprise-shop-development-key'];
  if (instanceId !== undefined) app.use(instanceHeader(instanceId));
  app.use(jsonErrors);
  app.use(middleware);
  const routers: Router[] = [
    cartRouter(env),
    accountRouter(env),
    adminRouter(env, manager),
    liveRouter(env, manager),
    metricsRouter(manager),
  ];
  for (const router of routers) app.use(router.routes()).use(router.allowedMethods());
  return { app, middleware };
}

/**
 * The closing hook. A logout (an explicit close whose `persistKey` was set to the user's key) keeps
 * only the user's preferences: they follow the user to any browser, the cart stays with the
 * browser's session and ends with it. An involuntary close (eviction, expiry, shutdown) saves the
 * whole context (cart included) under the session id, restored under that same id when the visitor's
 * cookie comes back. Any other explicit close saves nothing: Reprise writes an explicitly closed
 * session only when it has a `persistKey` of its own, since no cookie and no key could reach it otherwise.
 */
export function onSessionClose(closing: LiveSessionView<ShopData>, reason: CloseReason, env: ShopEnv): void {
  const logout = reason === 'closed' && closing.persistKey.startsWith('user:');
  if (logout) closing.data = { prefs: closing.data.prefs ?? {} };
  const { lines, units } = cartSize(closing.data.cart);
  const parts = [`cart=${plural(lines, 'item')} (${plural(units, 'unit')})`];
  if (closing.data.user !== undefined) parts.push(`user=${closing.data.user}`);
  if (closing.data.prefs !== undefined) parts.push(`prefs=${JSON.stringify(closing.data.prefs)}`);
  const ownKey = closing.persistKey !== closing.id;
  if (reason === 'closed' && !ownKey) {
    env.log(
      `[reprise] closing ${short(closing.id)} reason=closed: dropping ${parts.join(' ')} (explicit close: nothing could bring it back, so nothing is saved)`,
    );
    return;
  }
  const key = ownKey ? `"${closing.persistKey}"` : short(closing.id);
  const next = logout
    ? 'restored at its next login'
    : reason === 'handover'
      ? 'another instance asked for it: restored there under the same id'
      : reason === 'closed'
        ? 'explicit close: restored only by that key'
        : reason === 'shutdown' && env.inProcessSnapshots
          ? 'lost at exit: the memory adapter does not outlive the process'
          : 'restored when its cookie comes back';
  env.log(`[reprise] closing ${short(closing.id)} reason=${reason}: saving ${parts.join(' ')} under ${key} (${next})`);
}

/**
 * The restore hook: a restored context gets a fresh live activity log, which records where it came
 * from. A returning cookie restores its session under the same id; a login merges the user's
 * snapshot into the current session.
 */
export function onSessionRestore(restored: LiveSessionView<ShopData>, snapshot: Snapshot<ShopData>, env: ShopEnv): void {
  const from = snapshot.key === snapshot.sessionId ? short(snapshot.sessionId) : `"${snapshot.key}"`;
  activityOf(restored, env).add(`restored ${from} (closed: ${snapshot.reason})`);
  const { lines } = cartSize(restored.data.cart);
  const into = snapshot.sessionId === restored.id ? 'under the same id' : `into ${short(restored.id)}`;
  const how =
    snapshot.reason === 'handover'
      ? ' (handed over by another instance)'
      : snapshot.reason === 'checkpoint'
        ? ' (from its last checkpoint: the process that had it live died)'
        : '';
  env.log(`[reprise] restored ${from} (closed: ${snapshot.reason}) ${into}: cart=${plural(lines, 'item')}${how}`);
}

/** Several instances: names the instance that answered (`X-Shop-Instance`), also on errors. */
function instanceHeader(instanceId: string): (ctx: Context, next: Next) => Promise<void> {
  return async (ctx, next) => {
    ctx.set('X-Shop-Instance', instanceId);
    await next();
  };
}

/**
 * Errors as JSON: `{ error }` with the status; 500s are also reported to the app. A write to a
 * session that cannot be had now (its store cannot be read, or the server is stopping) is answered
 * by Reprise with 503 and `Retry-After`, the visitor's cookie kept: here it becomes JSON too.
 */
async function jsonErrors(ctx: Context, next: Next): Promise<void> {
  try {
    await next();
    if (ctx.status === 404 && ctx.body === undefined) ctx.body = { error: 'not found' };
    if (ctx.status === 503 && typeof ctx.body === 'string')
      ctx.body = { error: ctx.body, retryAfter: Number(ctx.response.get('Retry-After')) };
  } catch (error) {
    const status = typeof (error as { status?: unknown }).status === 'number' ? (error as { status: number }).status : 500;
    ctx.status = status;
    ctx.body = { error: status < 500 ? (error as Error).message : 'internal error' };
    if (status >= 500) ctx.app.emit('error', error, ctx);
  }
}
