import { OptionError, SessionManager, type SessionData, type SessionManagerOptions } from '@reprise/core';
import { MANAGER_OPTION_NAMES, assertKnownOptions, describeOptionValue } from '@reprise/core/adapter-kit';
import { MemoryAdapter } from '@reprise/memory';
import { KOA_SESSION_OPTION_NAMES, type KoaSessionOptions } from './koa-session-options.js';

/** Cookie settings of the session cookie. Durations in ms. */
export interface CookieOptions {
  /** Cookie name (4D "Web session cookie name"). Default `'reprise.sid'`. */
  name?: string | undefined;
  /** ms the cookie lives, sliding with activity, or `'session'` for a browser-session cookie. Default 7 days (outlives the live context so a returning visitor is restored). */
  maxAge?: number | 'session' | undefined;
  /** Default `true`. */
  httpOnly?: boolean | undefined;
  /** Default `'lax'`. */
  sameSite?: 'lax' | 'strict' | 'none' | false | undefined;
  /** `'auto'` (default): Secure when the request is HTTPS (`app.proxy` honoured); `true`: always (behind a TLS proxy); `false`: never. */
  secure?: boolean | 'auto' | undefined;
  /** Default unset (host-only). */
  domain?: string | undefined;
  /** Default `'/'`. */
  path?: string | undefined;
}

/** Options of `session()` besides the manager's. */
export interface KoaOptions {
  /** The session cookie. */
  cookie?: CookieOptions | undefined;
  /**
   * When `true`, a cookie presented from another IP than the one that created the session is no cookie
   * (4D "Web session enable IP address validation"). `ctx.ip` is used, so set `app.proxy` behind a proxy.
   * With `app.keys` set, the IP is part of the cookie's signature: the binding then also holds for a
   * returning cookie after its session closed (no restore from another IP) and across restarts; without
   * keys it holds for live sessions only. Default `false`.
   */
  ipBinding?: boolean | undefined;
}

/**
 * `session()` options: the manager's options (adapter defaults to a `MemoryAdapter`), or a ready
 * `manager`; plus koa-session's names ({@link KoaSessionOptions}), so that its configuration moves over.
 */
export type SessionOptions<TData extends SessionData = SessionData> = KoaOptions &
  KoaSessionOptions &
  (
    | (Omit<SessionManagerOptions<TData>, 'adapter'> & { adapter?: SessionManagerOptions<TData>['adapter']; manager?: undefined })
    | { manager: SessionManager<TData> }
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

const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const SAME_SITE = new Set<unknown>(['lax', 'strict', 'none', false]);

/** Normalizes and validates the cookie options; an unknown name is an `OptionError`. */
export function normalizeCookie(options: CookieOptions | undefined): CookieSettings {
  if (options !== undefined && (typeof options !== 'object' || options === null)) {
    throw new OptionError(`cookie must be an object, got ${describeOptionValue(options)}`);
  }
  assertKnownOptions(options ?? {}, COOKIE_OPTION_NAMES, 'cookie.');
  const cookie = { ...COOKIE_DEFAULTS, ...stripUndefined(options ?? {}) };
  if (typeof cookie.name !== 'string' || !COOKIE_NAME.test(cookie.name)) {
    throw new OptionError(`cookie.name must be a cookie token, got ${JSON.stringify(cookie.name)}`);
  }
  validateMaxAge('cookie.maxAge', cookie.maxAge);
  if (typeof cookie.httpOnly !== 'boolean') throw new OptionError('cookie.httpOnly must be a boolean');
  if (!SAME_SITE.has(cookie.sameSite))
    throw new OptionError(`cookie.sameSite must be 'lax', 'strict', 'none' or false, got ${String(cookie.sameSite)}`);
  if (cookie.secure !== 'auto' && typeof cookie.secure !== 'boolean') throw new OptionError("cookie.secure must be true, false or 'auto'");
  if (cookie.domain !== undefined && typeof cookie.domain !== 'string') throw new OptionError('cookie.domain must be a string');
  if (typeof cookie.path !== 'string' || !cookie.path.startsWith('/'))
    throw new OptionError("cookie.path must be a string starting with '/'");
  return Object.freeze(cookie);
}

/** Validates a cookie lifetime: a positive number of ms or `'session'`. */
export function validateMaxAge(name: string, value: unknown): asserts value is number | 'session' {
  if (value === 'session') return;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new OptionError(`${name} must be a positive number of ms or 'session', got ${String(value)}`);
  }
}

/** The options `session()` itself reads; with `manager`, every other one would be silently ignored. */
const KOA_OPTION_NAMES: ReadonlySet<string> = new Set(['manager', 'cookie', 'ipBinding']);

/** Every name `session()` knows: the manager's, its own and koa-session's (accepted or refused with a reason). */
const SESSION_OPTION_NAMES: ReadonlySet<string> = new Set([...MANAGER_OPTION_NAMES, ...KOA_OPTION_NAMES, ...KOA_SESSION_OPTION_NAMES]);

/** Every name of `cookie` (the compiler keeps the list complete). */
const COOKIE_OPTION_NAMES: ReadonlySet<string> = new Set(
  Object.keys({ name: true, maxAge: true, httpOnly: true, sameSite: true, secure: true, domain: true, path: true } satisfies Record<
    keyof CookieOptions,
    true
  >),
);

/**
 * Throws an `OptionError` for an unknown name among the `session()` options or their `cookie` object,
 * suggesting a close one: `unknown option "cookie.maxage" (did you mean "cookie.maxAge"?)`.
 */
export function assertKnownSessionOptions(options: object): void {
  assertKnownOptions(options, SESSION_OPTION_NAMES);
  const { cookie } = options as { cookie?: unknown };
  if (typeof cookie === 'object' && cookie !== null) assertKnownOptions(cookie, COOKIE_OPTION_NAMES, 'cookie.');
}

/**
 * The manager `session()` uses: the one given, or one built from the options on a `MemoryAdapter` by
 * default. Checks every option name first, so a typo builds nothing.
 */
export function managerFrom<TData extends SessionData>(options: SessionOptions<TData>): SessionManager<TData> {
  assertKnownSessionOptions(options);
  if (options.manager !== undefined) {
    if (!(options.manager instanceof SessionManager)) throw new OptionError('manager must be a SessionManager');
    const ignored = Object.entries(options).filter(([name, value]) => !KOA_OPTION_NAMES.has(name) && value !== undefined);
    if (ignored.length > 0) {
      const names = ignored.map(([name]) => name).join(', ');
      throw new OptionError(`session({ manager }) cannot take manager options (${names}): give them to the SessionManager`);
    }
    return options.manager;
  }
  const { cookie: _cookie, ipBinding: _ipBinding, manager: _manager, adapter, ...rest } = options;
  return new SessionManager<TData>({ ...rest, adapter: adapter ?? new MemoryAdapter() });
}

function stripUndefined<T extends object>(value: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as { [K in keyof T]?: Exclude<T[K], undefined> };
}
