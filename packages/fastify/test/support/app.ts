import { createHmac } from 'node:crypto';
import { once } from 'node:events';
import cookie, { type FastifyCookieOptions } from '@fastify/cookie';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import type { RepriseError, SessionManager, Snapshot } from '@reprise/core';
import { decodeRecord } from '@reprise/core/adapter-kit';
import { MemoryAdapter } from '@reprise/memory';
import { reprise, type RepriseData, type RepriseFastifyOptions } from '../../src/index.js';

/** The default cookie name (DESIGN.md "Defaults and 4D names"). */
export const SID = 'reprise.sid';

/** A signing secret of the accepted length. */
export const SECRET = 'a-secret-of-at-least-32-characters-1';
export const OTHER_SECRET = 'another-secret-of-32-characters-or-more';

/** A route handler mounted with GET at one path. */
export type Route = (request: FastifyRequest, reply: FastifyReply) => unknown;

/** The session data as an untyped bag (tests write keys the typed SessionDataMap does not declare). */
export function bag(request: FastifyRequest): Record<string, unknown> {
  return request.session as unknown as Record<string, unknown>;
}

export interface AppOptions {
  /** Options of the plugin; the adapter defaults to the app's own `MemoryAdapter` (exposed as `adapter`). */
  session?: RepriseFastifyOptions;
  /** Options of `@fastify/cookie` (its `secret` signs when the plugin has none). */
  cookie?: FastifyCookieOptions;
  /** Options of `Fastify()` (`trustProxy`, ...). */
  fastify?: FastifyServerOptions;
  /** Routes by path, merged over the default ones. */
  routes?: Record<string, Route>;
  /** Called before the plugins are registered (a probe hook that must run before the plugin's). */
  outer?: (app: FastifyInstance) => void;
  /** Called after the plugins, before the routes (to add hooks, an error handler). */
  setup?: (app: FastifyInstance) => void;
}

export interface TestApp {
  readonly app: FastifyInstance;
  readonly manager: SessionManager<RepriseData>;
  /** The adapter given in `session.adapter`, or the MemoryAdapter built for the app. */
  readonly adapter: MemoryAdapter;
  /** The manager's `'error'` events (so they are asserted on, never printed). */
  readonly errors: RepriseError[];
  /** A client with its own cookie jar. `headers` go with every request. */
  browser(headers?: Record<string, string>): Browser;
  /** The snapshot stored under `key` (decoded), or `undefined`. Pointers are returned as `undefined`. */
  snapshot(key: string): Promise<Snapshot | undefined>;
}

/**
 * The default routes: `/read` never writes, `/inc` counts views, `/set?k=v` writes query values,
 * `/replace?json=...` assigns `request.session`, `/logout` assigns `null`, `/id` reads
 * `request.liveSession`, `/boom` writes then throws.
 */
export const DEFAULT_ROUTES: Record<string, Route> = {
  '/read': (request) => ({ data: request.session }),
  '/inc': (request) => {
    const data = bag(request);
    data.views = ((data.views as number | undefined) ?? 0) + 1;
    return { views: data.views, id: request.liveSession.id, isNew: request.liveSession.isNew };
  },
  '/set': (request) => {
    for (const [key, value] of Object.entries(request.query as Record<string, string>)) bag(request)[key] = value;
    return { id: request.liveSession.id, data: request.session };
  },
  '/replace': (request) => {
    request.session = JSON.parse(String((request.query as { json?: string }).json)) as RepriseData;
    return { id: request.liveSession.id, data: request.session };
  },
  '/logout': (request) => {
    request.session = null;
    return { ok: true };
  },
  '/id': (request) => ({ id: request.liveSession.id, isNew: request.liveSession.isNew, data: request.session }),
  '/boom': (request) => {
    bag(request).x = 1;
    throw new Error('boom');
  },
};

/** Builds a Fastify app with `@fastify/cookie`, the plugin and the default (plus given) routes; ready. */
export async function buildApp(options: AppOptions = {}): Promise<TestApp> {
  const app = Fastify({ logger: false, ...options.fastify });
  const given = (options.session ?? {}) as RepriseFastifyOptions & { adapter?: unknown; manager?: SessionManager<RepriseData> };
  let adapter: MemoryAdapter;
  let sessionOptions: RepriseFastifyOptions;
  if (given.manager !== undefined) {
    sessionOptions = given;
    adapter = given.manager.adapter as MemoryAdapter;
  } else {
    adapter = (given.adapter as MemoryAdapter | undefined) ?? new MemoryAdapter();
    sessionOptions = { ...given, adapter } as RepriseFastifyOptions;
  }
  options.outer?.(app);
  await app.register(cookie, options.cookie ?? {});
  await app.register(reprise, sessionOptions);
  const errors: RepriseError[] = [];
  app.sessionManager.on('error', (error) => errors.push(error));
  options.setup?.(app);
  for (const [path, route] of Object.entries({ ...DEFAULT_ROUTES, ...options.routes })) app.get(path, route);
  await app.ready();
  apps.add(app);
  return {
    app,
    manager: app.sessionManager,
    adapter,
    errors,
    browser: (headers) => new Browser(app, headers),
    snapshot: async (key) => {
      const text = await adapter.load(key);
      if (text === undefined) return undefined;
      const record = decodeRecord(text);
      return record.kind === 'snapshot' ? record.snapshot : undefined;
    },
  };
}

/** Apps built by a test, closed after it (their managers shut down). */
const apps = new Set<FastifyInstance>();

/** A response, as the tests read it. */
export interface Reply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | number | undefined>;
  readonly text: string;
  /** The JSON body (`undefined` when it is not JSON). */
  readonly body: Record<string, unknown> & { data?: unknown; id?: string };
}

/** One `Set-Cookie` header, parsed. Attribute names are lower case; flags are `true`. */
export interface SetCookie {
  readonly name: string;
  readonly value: string;
  readonly attributes: Readonly<Record<string, string | true>>;
  readonly raw: string;
}

/** The `Set-Cookie` headers of a response, parsed. */
export function setCookies(res: { headers: Reply['headers'] }): SetCookie[] {
  const header = res.headers['set-cookie'];
  const lines = header === undefined ? [] : Array.isArray(header) ? header : [String(header)];
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
export function cookieIn(res: { headers: Reply['headers'] }, name = SID): SetCookie | undefined {
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

/** The session id a cookie value carries (the part before the signature, if any). */
export function idOf(value: string): string {
  const dot = value.lastIndexOf('.');
  return dot < 0 ? value : value.slice(0, dot);
}

/** The signed cookie value `@fastify/cookie`'s Signer gives `value` under `secret` (HMAC-SHA256, base64 without padding). */
export function sign(value: string, secret: string): string {
  return `${value}.${createHmac('sha256', secret).update(value).digest('base64').replace(/=+$/, '')}`;
}

/**
 * A client with a cookie jar over `app.inject()`, managed by hand so that tests can replay, drop or
 * tamper with cookies, and ignore the Secure flag.
 */
export class Browser {
  readonly jar = new Map<string, string>();
  readonly #app: FastifyInstance;
  readonly #headers: Record<string, string>;

  constructor(app: FastifyInstance, headers: Record<string, string> = {}) {
    this.#app = app;
    this.#headers = headers;
  }

  /** The session id in the jar (without its signature). */
  get sid(): string | undefined {
    const value = this.jar.get(SID);
    return value === undefined ? undefined : idOf(value);
  }

  /**
   * A GET with the jar's cookies (or `cookie` when given: `''` sends none); the response's cookies go
   * to the jar. Fails unless the response has `status` (default 200).
   */
  async get(path: string, options: { headers?: Record<string, string>; cookie?: string; status?: number } = {}): Promise<Reply> {
    const headers: Record<string, string> = { ...this.#headers, ...options.headers };
    const cookieHeader = options.cookie ?? this.cookieHeader();
    if (cookieHeader !== '') headers.cookie = cookieHeader;
    const res = await this.#app.inject({ method: 'GET', url: path, headers });
    const reply = toReply(res);
    this.store(reply);
    if (reply.status !== (options.status ?? 200)) {
      throw new Error(`GET ${path}: expected status ${options.status ?? 200}, got ${reply.status} ${JSON.stringify(reply.text)}`);
    }
    return reply;
  }

  /** The `Cookie` header the jar sends. */
  cookieHeader(): string {
    return [...this.jar].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  /** Copies the jar (a second device holding the same cookies), optionally against another app (a restarted server). */
  clone(app: FastifyInstance = this.#app): Browser {
    const copy = new Browser(app, this.#headers);
    for (const [name, value] of this.jar) copy.jar.set(name, value);
    return copy;
  }

  /** Applies a response's `Set-Cookie` headers to the jar. */
  store(res: { headers: Reply['headers'] }): void {
    for (const cookie of setCookies(res)) {
      const expires = cookie.attributes.expires;
      const expired = typeof expires === 'string' && Date.parse(expires) <= Date.now();
      if (cookie.value === '' || expired) this.jar.delete(cookie.name);
      else this.jar.set(cookie.name, cookie.value);
    }
  }
}

/** An `inject()` response as a {@link Reply}. */
export function toReply(res: { statusCode: number; headers: Reply['headers']; body: string }): Reply {
  let body: Reply['body'];
  try {
    body = JSON.parse(res.body) as Reply['body'];
  } catch {
    body = undefined as unknown as Reply['body'];
  }
  return { status: res.statusCode, headers: res.headers, text: res.body, body };
}

export interface Deferred<T = void> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
}

/** Gates not opened yet: a failed test must not leave a request (and its server) hanging. */
const unsettled = new Set<Deferred<never>>();

/** A promise with its resolver. Whatever a test leaves unsettled is resolved after it. */
export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((res) => {
    resolve = res;
  });
  const gate: Deferred<T> = {
    promise,
    resolve: (value) => {
      unsettled.delete(gate as Deferred<never>);
      resolve(value);
    },
  };
  unsettled.add(gate as Deferred<never>);
  return gate;
}

afterEach(async () => {
  // Gates first: an app closes once its requests in flight have ended.
  for (const gate of unsettled) gate.resolve(undefined as never);
  const open = [...apps];
  apps.clear();
  await Promise.all(open.map((app) => app.close()));
});

/** Resolves when the manager has finished the next close (hooks run, snapshot written). */
export async function nextClose(manager: SessionManager<RepriseData>): Promise<[{ id: string; data: Record<string, unknown> }, string]> {
  return (await once(manager, 'close')) as [{ id: string; data: Record<string, unknown> }, string];
}

/** Resolves once `predicate()` holds, checking after each turn of the event loop (bounded). */
export async function until(predicate: () => boolean, what: string, turns = 10_000): Promise<void> {
  for (let turn = 0; turn < turns; turn += 1) {
    if (predicate()) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error(`timed out waiting for ${what}`);
}
