import { OptionError, SessionManager, type SessionManagerOptions } from '@reprise/core';
import { MANAGER_OPTION_NAMES, assertKnownOptions, describeOptionValue } from '@reprise/core/adapter-kit';
import { MemoryAdapter } from '@reprise/memory';
import type { RepriseData } from './types.js';

/** The session cookie's settings. Durations in ms. */
export interface SessionCookieOptions {
  /** Cookie name (4D "Web session cookie name"). Default `'reprise.sid'`. */
  name?: string | undefined;
  /** ms the cookie lives, sliding with activity, or `'session'` for a browser-session cookie. Default 7 days (outlives the live context so a returning visitor is restored). */
  maxAge?: number | 'session' | undefined;
  /** Default `true`. */
  httpOnly?: boolean | undefined;
  /** Default `'lax'`; `false` sends no SameSite attribute. */
  sameSite?: 'lax' | 'strict' | 'none' | false | undefined;
  /** `'auto'` (default): Secure when `request.protocol` is `'https'` (Fastify's `trustProxy` honoured); `true`: always; `false`: never. */
  secure?: boolean | 'auto' | undefined;
  /** Default unset (host-only). */
  domain?: string | undefined;
  /** Default `'/'`. */
  path?: string | undefined;
}

/** The plugin's own options (besides the manager's). */
export interface FastifyBindingOptions {
  /**
   * Secret(s) signing the session cookie with HMAC-SHA256 (`@fastify/cookie`'s `Signer`): a string of at
   * least 32 characters, or an array whose first item signs and every item verifies (rotation: put
   * the new secret first, keep the old one while its cookies live). Default: the secret given to
   * `@fastify/cookie`, if any; with neither, the cookie is not signed (its id is 144 random bits).
   */
  secret?: string | readonly string[] | undefined;
  /** The session cookie. */
  cookie?: SessionCookieOptions | undefined;
  /** `@fastify/session`'s name for `cookie.name` (give one or the other). */
  cookieName?: string | undefined;
  /**
   * `@fastify/session`'s option: only `false` is accepted, and it is what Reprise always does (a
   * request that never writes creates no session and sets no cookie).
   */
  saveUninitialized?: false | undefined;
  /**
   * `true` (default): the cookie's expiry slides with activity (re-issued once it has moved by a tenth
   * of `cookie.maxAge`, not on every response); `false`: the cookie keeps the expiry it got when it
   * was first set (or when `request.session.cookie.maxAge` changed it).
   */
  rolling?: boolean | undefined;
}

/** The plugin's options: the manager's options (adapter defaults to a `MemoryAdapter`), or a ready `manager`. */
export type RepriseFastifyOptions = FastifyBindingOptions &
  (
    | (Omit<SessionManagerOptions<RepriseData>, 'adapter'> & {
        adapter?: SessionManagerOptions<RepriseData>['adapter'];
        manager?: undefined;
      })
    | { manager: SessionManager<RepriseData> }
  );

/** Normalized cookie settings. */
export interface CookieSettings {
  readonly name: string;
  readonly maxAge: number | 'session';
  readonly httpOnly: boolean;
  readonly sameSite: 'lax' | 'strict' | 'none' | false;
  readonly secure: boolean | 'auto';
  readonly domain: string | undefined;
  readonly path: string;
}

/** Cookie defaults (DESIGN.md "Defaults and 4D names"). */
export const COOKIE_DEFAULTS: CookieSettings = Object.freeze({
  name: 'reprise.sid',
  maxAge: 7 * 24 * 3_600_000,
  httpOnly: true,
  sameSite: 'lax',
  secure: 'auto',
  domain: undefined,
  path: '/',
});

/** Shortest accepted signing secret, in characters (as `@fastify/session` requires). */
export const MIN_SECRET_LENGTH = 32;

/** What the plugin works with, once its options are checked. */
export interface PluginSettings {
  readonly manager: SessionManager<RepriseData>;
  /** Whether the plugin built the manager (then it shuts it down when Fastify closes). */
  readonly ownsManager: boolean;
  readonly cookie: CookieSettings;
  /** The plugin's own secrets, when given (else the cookie plugin's signer, if any, is used). */
  readonly secrets: readonly string[] | undefined;
  readonly rolling: boolean;
}

const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const SAME_SITE = new Set<unknown>(['lax', 'strict', 'none', false]);

/** Every name of `cookie` (the compiler keeps the list complete). */
const COOKIE_OPTION_NAMES: ReadonlySet<string> = new Set(
  Object.keys({ name: true, maxAge: true, httpOnly: true, sameSite: true, secure: true, domain: true, path: true } satisfies Record<
    keyof SessionCookieOptions,
    true
  >),
);

/** The options the plugin itself reads; with `manager`, every other one would be silently ignored. */
const OWN_OPTION_NAMES: ReadonlySet<string> = new Set([
  'manager',
  ...Object.keys({ secret: true, cookie: true, cookieName: true, saveUninitialized: true, rolling: true } satisfies Record<
    keyof FastifyBindingOptions,
    true
  >),
]);

/** `fastify.register()`'s own options, which Fastify passes to every plugin along with the plugin's. */
const REGISTER_OPTION_NAMES: ReadonlySet<string> = new Set(['prefix', 'logLevel', 'logSerializers']);

/** Every name the plugin accepts. */
const OPTION_NAMES: ReadonlySet<string> = new Set([...MANAGER_OPTION_NAMES, ...OWN_OPTION_NAMES, ...REGISTER_OPTION_NAMES]);

/** `@fastify/session` options with no same-meaning equivalent: what to use instead. */
const MIGRATIONS: Readonly<Record<string, string>> = Object.freeze({
  store:
    'option "store" (an express-session store) is not supported: Reprise persists through an adapter; give `adapter` (new RedisAdapter(...) from @reprise/redis, PostgresAdapter from @reprise/postgres, KeyvAdapter from @reprise/keyv; default MemoryAdapter)',
  idGenerator:
    'option "idGenerator" is not supported: Reprise makes its own session ids (144 random bits) and refuses any other shape, so a forged cookie can never name a key; to store a session under a key of yours, set request.liveSession.persistKey',
  algorithm: 'option "algorithm" is not supported: the cookie is signed with HMAC-SHA256 (give `secret`)',
  cookiePrefix: 'option "cookiePrefix" is not supported: the cookie value is the session id, signed by `secret` when given',
});

const COOKIE_MIGRATIONS: Readonly<Record<string, string>> = Object.freeze({
  expires:
    'option "cookie.expires" is not supported: the cookie slides with activity; give `cookie.maxAge` (ms), or set request.session.cookie.maxAge per session',
  signed: 'option "cookie.signed" is not supported: the cookie is signed whenever `secret` (or @fastify/cookie\'s secret) is given',
});

/**
 * Checks the options (an unknown name is an `OptionError` with a "did you mean" hint; an
 * `@fastify/session` option without a same-meaning equivalent names the Reprise one) and builds or
 * takes the manager. Checks every option before building anything.
 */
export function normalizeOptions(options: RepriseFastifyOptions | undefined): PluginSettings {
  const given = (options ?? {}) as Record<string, unknown>;
  if (typeof given !== 'object' || given === null || Array.isArray(given)) {
    throw new OptionError(`@reprise/fastify options must be an object, got ${describeOptionValue(given)}`);
  }
  assertNoMigrations(given);
  assertKnownOptions(given, OPTION_NAMES);
  if (given.saveUninitialized !== undefined && given.saveUninitialized !== false) {
    throw new OptionError(
      'saveUninitialized must be false (or left out): Reprise never creates a session for a request that does not write one; read request.liveSession to create one on purpose',
    );
  }
  if (given.rolling !== undefined && typeof given.rolling !== 'boolean') throw new OptionError('rolling must be a boolean');
  const cookie = normalizeCookie(given.cookie, given.cookieName);
  const secrets = normalizeSecrets(given.secret);
  const { manager, ownsManager } = managerFrom(options ?? {});
  return { manager, ownsManager, cookie, secrets, rolling: given.rolling !== false };
}

function assertNoMigrations(options: Record<string, unknown>): void {
  for (const name of Object.keys(options)) {
    const message = MIGRATIONS[name];
    if (message !== undefined) throw new OptionError(message);
  }
  const { cookie } = options;
  if (typeof cookie !== 'object' || cookie === null) return;
  for (const name of Object.keys(cookie)) {
    const message = COOKIE_MIGRATIONS[name];
    if (message !== undefined) throw new OptionError(message);
  }
}

/** Normalizes and validates the cookie options (`cookieName` is `@fastify/session`'s `cookie.name`). */
export function normalizeCookie(options: unknown, cookieName?: unknown): CookieSettings {
  if (options !== undefined && (typeof options !== 'object' || options === null || Array.isArray(options))) {
    throw new OptionError(`cookie must be an object, got ${describeOptionValue(options)}`);
  }
  const given = (options ?? {}) as SessionCookieOptions;
  assertKnownOptions(given, COOKIE_OPTION_NAMES, 'cookie.');
  if (cookieName !== undefined && given.name !== undefined) throw new OptionError('give cookieName or cookie.name, not both');
  const cookie = { ...COOKIE_DEFAULTS, ...stripUndefined({ ...given, name: given.name ?? cookieName }) } as Record<
    keyof CookieSettings,
    unknown
  >;
  if (typeof cookie.name !== 'string' || !COOKIE_NAME.test(cookie.name)) {
    throw new OptionError(`cookie.name must be a cookie token, got ${describeOptionValue(cookie.name)}`);
  }
  validateMaxAge('cookie.maxAge', cookie.maxAge);
  if (typeof cookie.httpOnly !== 'boolean') throw new OptionError('cookie.httpOnly must be a boolean');
  if (!SAME_SITE.has(cookie.sameSite))
    throw new OptionError(`cookie.sameSite must be 'lax', 'strict', 'none' or false, got ${describeOptionValue(cookie.sameSite)}`);
  if (cookie.secure !== 'auto' && typeof cookie.secure !== 'boolean') throw new OptionError("cookie.secure must be true, false or 'auto'");
  if (cookie.domain !== undefined && typeof cookie.domain !== 'string') throw new OptionError('cookie.domain must be a string');
  if (typeof cookie.path !== 'string' || !cookie.path.startsWith('/'))
    throw new OptionError("cookie.path must be a string starting with '/'");
  return Object.freeze(cookie as unknown as CookieSettings);
}

/** Validates a cookie lifetime: a positive number of ms or `'session'`. */
export function validateMaxAge(name: string, value: unknown): asserts value is number | 'session' {
  if (value === 'session') return;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new OptionError(`${name} must be a positive number of ms or 'session', got ${describeOptionValue(value)}`);
  }
}

function normalizeSecrets(secret: unknown): readonly string[] | undefined {
  if (secret === undefined) return undefined;
  const list: unknown[] = Array.isArray(secret) ? [...secret] : [secret];
  if (list.length === 0) throw new OptionError('secret must not be an empty array');
  for (const item of list) {
    if (typeof item !== 'string' || item.length === 0)
      throw new OptionError(`secret must be a string or an array of strings, got ${describeOptionValue(item)}`);
  }
  const signing = list[0] as string;
  if (signing.length < MIN_SECRET_LENGTH) {
    throw new OptionError(
      `secret must be at least ${MIN_SECRET_LENGTH} characters long (the one that signs: the first of the array), got ${signing.length}`,
    );
  }
  return Object.freeze(list as string[]);
}

function managerFrom(options: RepriseFastifyOptions): { manager: SessionManager<RepriseData>; ownsManager: boolean } {
  if (options.manager !== undefined) {
    if (!(options.manager instanceof SessionManager)) throw new OptionError('manager must be a SessionManager');
    const ignored = Object.entries(options).filter(
      ([name, value]) => !OWN_OPTION_NAMES.has(name) && !REGISTER_OPTION_NAMES.has(name) && value !== undefined,
    );
    if (ignored.length > 0) {
      const names = ignored.map(([name]) => name).join(', ');
      throw new OptionError(`{ manager } cannot come with manager options (${names}): give them to the SessionManager`);
    }
    return { manager: options.manager, ownsManager: false };
  }
  const managerOptions = Object.fromEntries(Object.entries(options).filter(([name]) => MANAGER_OPTION_NAMES.has(name))) as Partial<
    SessionManagerOptions<RepriseData>
  >;
  const adapter = managerOptions.adapter ?? new MemoryAdapter();
  return { manager: new SessionManager<RepriseData>({ ...managerOptions, adapter }), ownsManager: true };
}

function stripUndefined<T extends object>(value: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as { [K in keyof T]?: Exclude<T[K], undefined> };
}
