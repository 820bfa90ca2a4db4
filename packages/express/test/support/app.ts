import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { sign as signValue } from 'cookie-signature';
import request from 'supertest';
import type { RepriseError, SessionManager } from '@reprise/core';
import { MemoryAdapter } from '@reprise/memory';
import { session, type RepriseData, type SessionOptions } from '../../src/index.js';

/** The default cookie name (DESIGN.md "Defaults and 4D names"). */
export const SID = 'reprise.sid';
export const SECRET = 'keyboard cat';
export const OTHER_SECRET = 'another keyboard cat';

/** A route handler mounted with GET at one path. */
export type Route = (req: Request, res: Response, next: NextFunction) => unknown;

/** The session data as an untyped bag (tests write keys the typed SessionDataMap does not declare). */
export function bag(req: Request): Record<string, unknown> {
  return req.session as unknown as Record<string, unknown>;
}

/**
 * The default routes: `/read` never writes, `/inc` counts views, `/set?k=v` writes query values,
 * `/replace?json=...` assigns `req.session`, `/logout` assigns `null`, `/id` reads
 * `req.liveSession`, `/boom` writes then throws.
 */
export const DEFAULT_ROUTES: Record<string, Route> = {
  '/read': (req, res) => res.json({ data: req.session, sessionID: req.sessionID ?? null }),
  '/inc': (req, res) => {
    const data = bag(req);
    data.views = ((data.views as number | undefined) ?? 0) + 1;
    res.json({ views: data.views, id: req.liveSession.id, isNew: req.liveSession.isNew });
  },
  '/set': (req, res) => {
    for (const [key, value] of Object.entries(req.query as Record<string, string>)) bag(req)[key] = value;
    res.json({ id: req.liveSession.id, data: req.session });
  },
  '/replace': (req, res) => {
    req.session = JSON.parse(String(req.query.json)) as RepriseData;
    res.json({ id: req.liveSession.id, data: req.session });
  },
  '/logout': (req, res) => {
    req.session = null;
    res.json({ ok: true });
  },
  '/id': (req, res) => res.json({ id: req.liveSession.id, isNew: req.liveSession.isNew, data: req.session }),
  '/boom': (req) => {
    bag(req).x = 1;
    throw new Error('boom');
  },
};

export interface AppOptions {
  /** Options of `session()`; the adapter defaults to the app's own `MemoryAdapter` (exposed as `adapter`). */
  session?: SessionOptions;
  /** Routes by path, merged over the default ones. */
  routes?: Record<string, Route>;
  /** Called before the middleware is mounted (`app.set('trust proxy', ...)`, a probe). */
  setup?: (app: Express) => void;
}

export interface TestApp {
  readonly app: Express;
  readonly manager: SessionManager<RepriseData>;
  readonly adapter: MemoryAdapter;
  /** The manager's `'error'` events (so they are asserted on, never printed). */
  readonly errors: RepriseError[];
  /** A client with its own cookie jar. */
  browser(): Browser;
}

const managers = new Set<SessionManager<RepriseData>>();

afterEach(async () => {
  await Promise.all([...managers].map((manager) => manager.shutdown()));
  managers.clear();
});

/** An Express app with `session()` and the default (plus given) routes, and Express's default error handler. */
export function buildApp(options: AppOptions = {}): TestApp {
  const app = express();
  app.set('env', 'test'); // Express's default error handler then does not print the errors the tests provoke
  options.setup?.(app);
  const given = (options.session ?? {}) as SessionOptions & { adapter?: unknown; manager?: SessionManager<RepriseData> };
  const adapter =
    given.manager !== undefined
      ? (given.manager.adapter as MemoryAdapter)
      : ((given.adapter as MemoryAdapter | undefined) ?? new MemoryAdapter());
  const middleware = session(given.manager !== undefined ? given : ({ ...given, adapter } as SessionOptions));
  app.use(middleware);
  for (const [path, route] of Object.entries({ ...DEFAULT_ROUTES, ...options.routes })) app.get(path, route);
  const errors: RepriseError[] = [];
  middleware.manager.on('error', (error) => errors.push(error));
  managers.add(middleware.manager);
  return { app, manager: middleware.manager, adapter, errors, browser: () => new Browser(app) };
}

/** One `Set-Cookie` header, parsed. Attribute names are lower case; flags are `true`. */
export interface SetCookie {
  readonly name: string;
  readonly value: string;
  readonly attributes: Readonly<Record<string, string | true>>;
  readonly raw: string;
}

type Headers = Record<string, string | string[] | undefined>;

/** The `Set-Cookie` headers of a response, parsed. */
export function setCookies(res: { headers: Headers }): SetCookie[] {
  const header = res.headers['set-cookie'];
  const lines = header === undefined ? [] : Array.isArray(header) ? header : [header];
  return lines.map((raw) => {
    const [pair = '', ...rest] = raw.split(';');
    const at = pair.indexOf('=');
    const attributes: Record<string, string | true> = {};
    for (const part of rest) {
      const eq = part.indexOf('=');
      if (eq < 0) attributes[part.trim().toLowerCase()] = true;
      else attributes[part.slice(0, eq).trim().toLowerCase()] = part.slice(eq + 1).trim();
    }
    return { name: pair.slice(0, at).trim(), value: decodeURIComponent(pair.slice(at + 1).trim()), attributes, raw };
  });
}

/** The `Set-Cookie` of `name` in a response, or `undefined`. Fails when there are several. */
export function cookieIn(res: { headers: Headers }, name = SID): SetCookie | undefined {
  const found = setCookies(res).filter((cookie) => cookie.name === name);
  if (found.length > 1) throw new Error(`${found.length} Set-Cookie headers for ${name}`);
  return found[0];
}

/** Whether a `Set-Cookie` deletes its cookie (empty value, expires at the epoch). */
export function isClearing(cookie: SetCookie | undefined): boolean {
  if (cookie === undefined) return false;
  const expires = cookie.attributes.expires;
  return cookie.value === '' && typeof expires === 'string' && Date.parse(expires) <= 0;
}

/** The session id a cookie value carries (without `s:` and the signature). */
export function idOf(value: string): string {
  const bare = value.startsWith('s:') ? value.slice(2) : value;
  const dot = bare.lastIndexOf('.');
  return dot < 0 ? bare : bare.slice(0, dot);
}

/** The cookie value express-session would give `id` under `secret`: `s:<id>.<signature>`. */
export function signed(id: string, secret: string): string {
  return `s:${signValue(id, secret)}`;
}

/** A response as the tests read it. */
export interface Reply {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  readonly body: Record<string, unknown> & { data?: unknown; id?: string };
}

/** A client with a cookie jar managed by hand (tests replay, drop or tamper with cookies, and ignore Secure). */
export class Browser {
  readonly jar = new Map<string, string>();
  readonly #app: Express;

  constructor(app: Express) {
    this.#app = app;
  }

  /** The session id in the jar (without its signature). */
  get sid(): string | undefined {
    const value = this.jar.get(SID);
    return value === undefined ? undefined : idOf(value);
  }

  /** GETs `path` with the jar's cookies (and `headers`), then stores the response's cookies in the jar. */
  async get(path: string, headers: Record<string, string> = {}): Promise<Reply> {
    let call = request(this.#app).get(path);
    const cookie = [...this.jar].map(([name, value]) => `${name}=${encodeURIComponent(value)}`).join('; ');
    if (cookie !== '') call = call.set('Cookie', cookie);
    for (const [name, value] of Object.entries(headers)) call = call.set(name, value);
    const res = await call;
    for (const set of setCookies(res)) {
      if (isClearing(set)) this.jar.delete(set.name);
      else this.jar.set(set.name, set.value);
    }
    return { status: res.status, headers: res.headers as Headers, text: res.text, body: (res.body ?? {}) as Reply['body'] };
  }
}

/** Resolves once `check` is true (polled on each turn of the event loop), or fails after `ms`. */
export async function until(check: () => boolean, ms = 2_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setImmediate(resolve));
  }
}
