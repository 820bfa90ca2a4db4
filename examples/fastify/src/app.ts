import cookie from '@fastify/cookie';
import Fastify, { type FastifyInstance } from 'fastify';
import reprise, { type CloseReason, type LiveSessionView, type RepriseData, type SessionAdapter } from '@reprise/fastify';
import { MemoryAdapter } from '@reprise/memory';

declare module '@reprise/fastify' {
  interface SessionDataMap {
    /** Item names in the visitor's cart. */
    cart?: string[];
    /** Set at login. */
    user?: string;
  }
}

/** Options of {@link createApp}. Unset options take Reprise's defaults. */
export interface CartAppOptions {
  /** Cap on live sessions (small in the example, so eviction and restore are easy to see). Default 3. */
  maxSessions?: number | undefined;
  /** ms of inactivity before a session expires. Default 60 s. */
  idleTimeout?: number | undefined;
  /** Where snapshots go. Default a `MemoryAdapter` (lost at restart). */
  adapter?: SessionAdapter | undefined;
  /** Cookie signing secret (at least 32 characters). Default a development secret. */
  secret?: string | undefined;
  /** Where the hooks log. Default `console.log`. */
  log?: (line: string) => void;
}

const DEVELOPMENT_SECRET = 'development-secret-change-me-please-32+';

/**
 * A small cart app on Fastify with Reprise sessions: the cart lives in the session, the closing hook
 * says what happens to a cart at each ending (abandoned at logout, kept at eviction, expiry and
 * shutdown), and a returning visitor whose session was closed gets the cart back under the same cookie.
 * Not listening: call `app.listen()`, and `app.close()` at the end (every session's closing hook runs).
 */
export async function createApp(options: CartAppOptions = {}): Promise<FastifyInstance> {
  const log = options.log ?? ((line: string) => console.log(line));
  const app = Fastify();
  await app.register(cookie);
  await app.register(reprise, {
    secret: options.secret ?? DEVELOPMENT_SECRET,
    adapter: options.adapter ?? new MemoryAdapter(),
    maxSessions: options.maxSessions ?? 3,
    idleTimeout: options.idleTimeout ?? 60_000,
    // Runs at every ending, with the context intact; the snapshot is written after it.
    onClose: (session, reason) => onSessionClose(session, reason, log),
    onRestore: (session) => log(`restored ${short(session.id)}: cart of ${cartOf(session).length}`),
  });

  app.get('/', async () => ({
    routes: ['GET /cart', 'POST /cart {item}', 'POST /login {user}', 'POST /logout', 'GET /stats'],
  }));

  // Reading never creates a session: a visitor who only looks gets no cookie.
  app.get('/cart', async (request) => ({ cart: request.session.cart ?? [], user: request.session.user ?? null }));

  app.post<{ Body: { item?: unknown } }>('/cart', async (request, reply) => {
    const item = request.body?.item;
    if (typeof item !== 'string' || item === '' || item.length > 100)
      return reply.code(400).send({ error: 'item must be a non-empty string' });
    // The first write creates the session and sets its cookie.
    request.session.cart = [...(request.session.cart ?? []), item];
    return { cart: request.session.cart };
  });

  app.post<{ Body: { user?: unknown } }>('/login', async (request, reply) => {
    const user = request.body?.user;
    if (typeof user !== 'string' || user === '') return reply.code(400).send({ error: 'user must be a non-empty string' });
    // A new id at login (no session fixation); the live context, cart included, moves along.
    request.liveSession.regenerate();
    request.session.user = user;
    return { user, cart: request.session.cart ?? [] };
  });

  app.post('/logout', async (request) => {
    // Closes the session (reason 'closed': the hook runs before this answer) and clears the cookie.
    await request.session.destroy();
    return { ok: true };
  });

  app.get('/stats', async () => {
    const { live, created, restored, closed } = app.sessionManager.stats();
    return { live, created, restored, closed };
  });

  return app;
}

/** The start of a session id, for logs (an id is a credential: never logged whole). */
export function short(id: string): string {
  return `${id.slice(0, 6)}…`;
}

function cartOf(session: LiveSessionView<RepriseData>): string[] {
  return session.data.cart ?? [];
}

function onSessionClose(session: LiveSessionView<RepriseData>, reason: CloseReason, log: (line: string) => void): void {
  const items = cartOf(session).length;
  const who = session.data.user ?? 'a visitor';
  if (reason === 'closed') log(`${who} logged out of ${short(session.id)}: cart of ${items} abandoned`);
  else log(`${who}'s session ${short(session.id)} closed (${reason}): cart of ${items} kept for their return`);
}
