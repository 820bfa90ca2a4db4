import express, { type Express } from 'express';
import {
  session,
  type CloseReason,
  type LiveSessionView,
  type RepriseData,
  type SessionAdapter,
  type SessionManager,
} from '@reprise/express';
import { MemoryAdapter } from '@reprise/memory';

declare module '@reprise/express' {
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
  /** Cookie signing secret. Default a development secret. */
  secret?: string | undefined;
  /** Where the hooks log. Default `console.log`. */
  log?: (line: string) => void;
}

/** The app and the session manager behind it (shut it down when the server stops: every closing hook runs). */
export interface CartApp {
  readonly app: Express;
  readonly manager: SessionManager<RepriseData>;
}

const DEVELOPMENT_SECRET = 'development secret, change me';

/**
 * A small cart app on Express with Reprise sessions: the cart lives in the session, the closing hook
 * says what happens to a cart at each ending (abandoned at logout, kept at eviction, expiry and
 * shutdown), and a returning visitor whose session was closed gets the cart back under the same cookie.
 * Not listening: call `app.listen()`, and `manager.shutdown()` at the end.
 */
export function createApp(options: CartAppOptions = {}): CartApp {
  const log = options.log ?? ((line: string) => console.log(line));
  const app = express();
  app.use(express.json());
  const sessions = session({
    secret: options.secret ?? DEVELOPMENT_SECRET,
    adapter: options.adapter ?? new MemoryAdapter(),
    maxSessions: options.maxSessions ?? 3,
    idleTimeout: options.idleTimeout ?? 60_000,
    // Runs at every ending, with the context intact; the snapshot is written after it.
    onClose: (s, reason) => onSessionClose(s, reason, log),
    onRestore: (s) => log(`restored ${short(s.id)}: cart of ${(s.data.cart ?? []).length}`),
  });
  app.use(sessions);

  // Reading never creates a session: a visitor who only looks gets no cookie.
  app.get('/cart', (req, res) => {
    res.json({ cart: req.session.cart ?? [], user: req.session.user ?? null });
  });
  app.post('/cart', (req, res) => {
    const item = (req.body as { item?: unknown } | undefined)?.item;
    if (typeof item !== 'string' || item === '') {
      res.status(400).json({ error: 'give { "item": "<name>" }' });
      return;
    }
    req.session.cart = [...(req.session.cart ?? []), item];
    res.json({ cart: req.session.cart });
  });
  app.post('/login', (req, res, next) => {
    // express-session habit: a new id at login, so a cookie planted before login is worthless.
    const cart = req.session.cart;
    req.session.regenerate((error) => {
      if (error !== undefined) return next(error);
      req.session.user = String((req.body as { user?: unknown } | undefined)?.user ?? 'guest');
      if (cart !== undefined) req.session.cart = cart;
      res.json({ user: req.session.user, cart: req.session.cart ?? [] });
    });
  });
  app.post('/logout', (req, res) => {
    req.session = null; // closes the session: the hook runs before the response; the cookie is cleared
    res.json({ ok: true });
  });
  return { app, manager: sessions.manager };
}

function onSessionClose(s: LiveSessionView<RepriseData>, reason: CloseReason, log: (line: string) => void): void {
  const items = (s.data.cart ?? []).length;
  if (reason === 'closed') log(`logout ${short(s.id)}: cart of ${items} abandoned`);
  else log(`${reason} ${short(s.id)}: cart of ${items} kept for the visitor's return`);
}

function short(id: string): string {
  return `${id.slice(0, 6)}…`;
}
