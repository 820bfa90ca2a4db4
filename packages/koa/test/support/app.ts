import { createHmac } from 'node:crypto';
import { once } from 'node:events';
import Koa from 'koa';
import request from 'supertest';
import type { Response } from 'supertest';
import type { RepriseError, SessionData, Snapshot } from '@reprise/core';
import { decodeRecord } from '@reprise/core/adapter-kit';
import { MemoryAdapter } from '@reprise/memory';
import { session, type SessionMiddleware, type SessionOptions } from '../../src/index.js';

/** The default cookie name (DESIGN.md "Defaults and 4D names"). */
export const SID = 'reprise.sid';

/** A handler mounted at one path. */
export type Route = (ctx: Koa.Context) => unknown;

export interface AppOptions<TData extends SessionData = SessionData> {
  /** Options of `session()`; the adapter defaults to the app's own `MemoryAdapter` (exposed as `adapter`). */
  session?: SessionOptions<TData>;
  /** `app.keys`: cookies are signed when set. */
  keys?: string[] | undefined;
  /** `app.proxy`. */
  proxy?: boolean;
  /** Routes by path, merged over the default ones. */
  routes?: Record<string, Route>;
  /** Middleware mounted before `session()` (an upstream error handler, a probe). */
  outer?: Koa.Middleware[];
}

export interface TestApp<TData extends SessionData = SessionData> {
  readonly app: Koa;
  readonly middleware: SessionMiddleware<TData>;
  readonly manager: SessionMiddleware<TData>['manager'];
  /** The adapter given in `session.adapter`, or the MemoryAdapter built for the app. */
  readonly adapter: MemoryAdapter;
  /** The manager's `'error'` events (so they are asserted on, never printed). */
  readonly errors: RepriseError[];
  /** Koa `'error'` events (errors thrown by handlers). */
  readonly appErrors: Error[];
  /** A client with its own cookie jar. `headers` go with every request. */
  browser(headers?: Record<string, string>): Browser;
  /** The snapshot stored under `key` (decoded), or `undefined`. Pointers are returned as `undefined`. */
  snapshot(key: string): Promise<Snapshot | undefined>;
}

/**
 * The default routes: `/read` never writes, `/inc` counts views, `/set?k=v` writes query values,
 * `/replace?json=...` assigns `ctx.session`, `/logout` assigns `null`, `/id` reads `ctx.liveSession`,
 * `/boom` writes then throws.
 */
export const DEFAULT_ROUTES: Record<string, Route> = {
  '/read': (ctx) => {
    ctx.body = { data: ctx.session };
  },
  '/inc': (ctx) => {
    ctx.session.views = ((ctx.session.views as number | undefined) ?? 0) + 1;
    ctx.body = { views: ctx.session.views, id: ctx.liveSession.id, isNew: ctx.liveSession.isNew };
  },
  '/set': (ctx) => {
    for (const [key, value] of Object.entries(ctx.query)) ctx.session[key] = value;
    ctx.body = { id: ctx.liveSession.id, data: ctx.session };
  },
  '/replace': (ctx) => {
    ctx.session = JSON.parse(String(ctx.query.json)) as Record<string, unknown>;
    ctx.body = { id: ctx.liveSession.id, data: ctx.session };
  },
  '/logout': (ctx) => {
    ctx.session = null;
    ctx.body = { ok: true };
  },
  '/id': (ctx) => {
    ctx.body = { id: ctx.liveSession.id, isNew: ctx.liveSession.isNew, data: ctx.session };
  },
  '/boom': (ctx) => {
    ctx.session.x = 1;
    throw new Error('boom');
  },
};

/** Builds a Koa app with `session()` and the default (plus given) routes. */
export function buildApp<TData extends SessionData = SessionData>(options: AppOptions<TData> = {}): TestApp<TData> {
  const app = new Koa();
  if (options.keys !== undefined) app.keys = options.keys;
  if (options.proxy !== undefined) app.proxy = options.proxy;
  const appErrors: Error[] = [];
  app.silent = true;
  app.on('error', (error: Error) => appErrors.push(error));
  const given = (options.session ?? {}) as SessionOptions<TData> & { adapter?: unknown; manager?: unknown };
  let adapter: MemoryAdapter;
  let sessionOptions: SessionOptions<TData>;
  if (given.manager !== undefined) {
    sessionOptions = given;
    adapter = (given.manager as SessionMiddleware<TData>['manager']).adapter as MemoryAdapter;
  } else {
    adapter = (given.adapter as MemoryAdapter | undefined) ?? new MemoryAdapter();
    sessionOptions = { ...given, adapter } as SessionOptions<TData>;
  }
  const middleware = session<TData>(sessionOptions);
  const errors: RepriseError[] = [];
  middleware.manager.on('error', (error) => errors.push(error));
  for (const outer of options.outer ?? []) app.use(outer);
  app.use(middleware);
  const routes = { ...DEFAULT_ROUTES, ...options.routes };
  app.use(async (ctx) => {
    const route = routes[ctx.path];
    if (route === undefined) return ctx.throw(404);
    await route(ctx as Koa.Context);
  });
  return {
    app,
    middleware,
    manager: middleware.manager,
    adapter,
    errors,
    appErrors,
    browser: (headers) => new Browser(app, headers),
    snapshot: async (key) => {
      const text = await adapter.load(key);
      if (text === undefined) return undefined;
      const record = decodeRecord(text);
      return record.kind === 'snapshot' ? record.snapshot : undefined;
    },
  };
}

/** One `Set-Cookie` header, parsed. Attribute names are lower case; flags are `true`. */
export interface SetCookie {
  readonly name: string;
  readonly value: string;
  readonly attributes: Readonly<Record<string, string | true>>;
  readonly raw: string;
}

/** The `Set-Cookie` headers of a response, parsed. */
export function setCookies(res: Response): SetCookie[] {
  const header = res.headers['set-cookie'] as string[] | string | undefined;
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
    return { name: pair.slice(0, at).trim(), value: pair.slice(at + 1).trim(), attributes, raw };
  });
}

/** The `Set-Cookie` of `name` in a response, or `undefined`. Fails when there are several. */
export function cookieIn(res: Response, name = SID): SetCookie | undefined {
  const found = setCookies(res).filter((cookie) => cookie.name === name);
  if (found.length > 1) throw new Error(`${found.length} Set-Cookie headers for ${name}`);
  return found[0];
}

/** Whether a `Set-Cookie` deletes its cookie (expires at the epoch; the value cookie's is empty too). */
export function isClearing(cookie: SetCookie | undefined): boolean {
  if (cookie === undefined) return false;
  const expires = cookie.attributes.expires;
  const expired = typeof expires === 'string' && Date.parse(expires) <= 0;
  return expired && (cookie.name.endsWith('.sig') || cookie.value === '');
}

/** The signature `cookies`/Keygrip gives `name=value` under `key` (HMAC-SHA1, base64url). */
export function sign(name: string, value: string, key: string): string {
  return createHmac('sha1', key).update(`${name}=${value}`).digest('base64url');
}

/**
 * A client with a cookie jar, managed by hand so that tests can replay, drop or tamper with
 * cookies, and ignore the Secure flag (tests run over plain HTTP).
 */
export class Browser {
  readonly jar = new Map<string, string>();
  readonly #app: Koa;
  readonly #headers: Record<string, string>;

  constructor(app: Koa, headers: Record<string, string> = {}) {
    this.#app = app;
    this.#headers = headers;
  }

  /** The session id in the jar. */
  get sid(): string | undefined {
    return this.jar.get(SID);
  }

  /**
   * A GET with the jar's cookies (or `cookie` when given: `''` sends none); the response's cookies
   * go to the jar. Fails unless the response has `status` (default 200).
   */
  async get(path: string, options: { headers?: Record<string, string>; cookie?: string; status?: number } = {}): Promise<Response> {
    const test = request(this.#app.callback())
      .get(path)
      .set(this.#headers)
      .set(options.headers ?? {});
    const cookie = options.cookie ?? this.cookieHeader();
    if (cookie !== '') test.set('Cookie', cookie);
    const res = await test;
    this.store(res);
    if (res.status !== (options.status ?? 200)) {
      throw new Error(`GET ${path}: expected status ${options.status ?? 200}, got ${res.status} ${JSON.stringify(res.text)}`);
    }
    return res;
  }

  /** The `Cookie` header the jar sends. */
  cookieHeader(): string {
    return [...this.jar].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  /** Copies the jar (a second device holding the same cookies), optionally against another app (a restarted server). */
  clone(headers: Record<string, string> = this.#headers, app: Koa = this.#app): Browser {
    const copy = new Browser(app, headers);
    for (const [name, value] of this.jar) copy.jar.set(name, value);
    return copy;
  }

  /** Applies a response's `Set-Cookie` headers to the jar. */
  store(res: Response): void {
    for (const cookie of setCookies(res)) {
      const expires = cookie.attributes.expires;
      const expired = typeof expires === 'string' && Date.parse(expires) <= Date.now();
      if (cookie.value === '' || expired) this.jar.delete(cookie.name);
      else this.jar.set(cookie.name, cookie.value);
    }
  }
}

export interface Deferred<T = void> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

/** Gates not opened yet: a failed test must not leave a request (and its server) hanging. */
const unsettled = new Set<Deferred<never>>();

/** A promise with its resolvers. Whatever a test leaves unsettled is resolved after it. */
export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  const gate: Deferred<T> = {
    promise,
    resolve: (value) => {
      unsettled.delete(gate as Deferred<never>);
      resolve(value);
    },
    reject: (error) => {
      unsettled.delete(gate as Deferred<never>);
      reject(error);
    },
  };
  unsettled.add(gate as Deferred<never>);
  return gate;
}

afterEach(() => {
  for (const gate of unsettled) gate.resolve(undefined as never);
});

/** Resolves when the manager has finished the next close (hooks run, snapshot written). */
export async function nextClose<TData extends SessionData>(manager: SessionMiddleware<TData>['manager']): Promise<[unknown, string]> {
  return (await once(manager, 'close')) as [unknown, string];
}

/** Resolves once `predicate()` holds, checking after each turn of the event loop (bounded). */
export async function until(predicate: () => boolean, what: string, turns = 10_000): Promise<void> {
  for (let turn = 0; turn < turns; turn += 1) {
    if (predicate()) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error(`timed out waiting for ${what}`);
}
