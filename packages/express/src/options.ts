import { OptionError, SessionManager, type SessionManagerOptions } from '@reprise/core';
import {
  MANAGER_OPTION_NAMES,
  assertKnownOptions,
  booleanField,
  customField,
  describeOptionValue,
  listField,
  oneOfField,
  optionalField,
  optionsSchema,
  parseOptions,
  patternField,
  stringField,
  type OptionField,
} from '@reprise/core/adapter-kit';
import { MemoryAdapter } from '@reprise/memory';
import type { RepriseData } from './types.js';

/** The session cookie's settings. Durations in ms. */
export interface SessionCookieOptions {
  /** Cookie name (4D "Web session cookie name"). Default `'reprise.sid'`. */
  name?: string | undefined;
  /**
   * ms the cookie lives, sliding with activity, or `'session'` (or `null`, express-session's way) for
   * a browser-session cookie. Default 7 days (outlives the live context so a returning visitor is restored).
   */
  maxAge?: number | 'session' | null | undefined;
  /** Default `true`. */
  httpOnly?: boolean | undefined;
  /** Default `'lax'`; `false` sends no SameSite attribute. */
  sameSite?: 'lax' | 'strict' | 'none' | false | undefined;
  /** `'auto'` (default): Secure when `req.secure` (Express's `trust proxy` setting honoured); `true`: always; `false`: never. */
  secure?: boolean | 'auto' | undefined;
  /** Default unset (host-only). */
  domain?: string | undefined;
  /** Default `'/'`. */
  path?: string | undefined;
}

/** The middleware's own options (besides the manager's), express-session's names where they mean the same. */
export interface ExpressBindingOptions {
  /**
   * Secret(s) signing the session cookie with cookie-signature (HMAC-SHA256, express-session's
   * `s:<id>.<signature>` format): a string, or an array whose first item signs and every item verifies
   * (rotation: put the new secret first, keep the old one while its cookies live). Default: the
   * secret given to `cookie-parser` (`req.secret`), if any; with neither, the cookie is not signed
   * (its id is 144 random bits).
   */
  secret?: string | readonly string[] | undefined;
  /** The session cookie. */
  cookie?: SessionCookieOptions | undefined;
  /** express-session's name for `cookie.name` (give one or the other). */
  name?: string | undefined;
  /**
   * `true` (default): the cookie's expiry slides with activity (re-issued once it has moved by a tenth
   * of `cookie.maxAge`, not on every response); `false`: the cookie keeps the expiry it got when it
   * was first set (or when `req.session.cookie.maxAge` changed it).
   */
  rolling?: boolean | undefined;
  /** express-session's option: only `false` is accepted, what Reprise always does (a request that never writes creates no session and sets no cookie). */
  saveUninitialized?: false | undefined;
  /** express-session's option: only `false` is accepted (a session is written when it closes, and at checkpoints only if it changed). */
  resave?: false | undefined;
  /** express-session's option: only `'destroy'` is accepted, what Reprise does (`req.session = null` closes the session). */
  unset?: 'destroy' | undefined;
}

/** `session()` options: the manager's options (adapter defaults to a `MemoryAdapter`), or a ready `manager`. */
export type SessionOptions = ExpressBindingOptions &
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

/** Cookie defaults (DESIGN.md "Defaults and 4D names"). Frozen. */
export const COOKIE_DEFAULTS: CookieSettings = Object.freeze({
  name: 'reprise.sid',
  maxAge: 7 * 24 * 3_600_000,
  httpOnly: true,
  sameSite: 'lax',
  secure: 'auto',
  domain: undefined,
  path: '/',
});

/** What the middleware works with, once its options are checked. */
export interface MiddlewareSettings {
  readonly manager: SessionManager<RepriseData>;
  readonly cookie: CookieSettings;
  /** The middleware's own secrets, when given (else `req.secret` of cookie-parser, if any). */
  readonly secrets: readonly string[] | undefined;
  readonly rolling: boolean;
}

const COOKIE_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** A cookie lifetime: positive ms, `'session'` or `null`. */
const maxAgeField = customField<number | 'session' | null>(
  (value) => value === 'session' || value === null || (typeof value === 'number' && Number.isFinite(value) && value > 0),
  (value) => `must be a positive number of ms, 'session' or null, got ${describeOptionValue(value)}`,
);

const COOKIE_SCHEMA = optionsSchema<SessionCookieOptions>()(
  {
    name: patternField(COOKIE_TOKEN, "a cookie token (letters, digits and !#$%&'*+-.^_`|~)"),
    maxAge: maxAgeField,
    httpOnly: booleanField,
    sameSite: oneOfField(['lax', 'strict', 'none', false]),
    secure: oneOfField([true, false, 'auto']),
    domain: optionalField(stringField({ nonEmpty: true })),
    path: patternField(/^\//, "a string starting with '/'"),
  },
  COOKIE_DEFAULTS,
);

const secretField: OptionField<string | readonly string[], string[]> = listField(stringField({ nonEmpty: true }));

/** The schema of the middleware's own options; express-session options without a same-meaning equivalent name the Reprise one. */
const OWN_SCHEMA = optionsSchema<ExpressBindingOptions>()(
  {
    secret: optionalField(secretField),
    cookie: optionalField(COOKIE_SCHEMA),
    name: optionalField(patternField(COOKIE_TOKEN, 'a cookie token')),
    rolling: booleanField,
    saveUninitialized: optionalField(oneOfField([false])),
    resave: optionalField(oneOfField([false])),
    unset: optionalField(oneOfField(['destroy'])),
  },
  Object.freeze({ rolling: true }),
);

/** The options `session()` itself reads; with `manager`, every other (the manager's) would be silently ignored. */
const OWN_OPTION_NAMES: ReadonlySet<string> = new Set(['manager', ...Object.keys(OWN_SCHEMA.entries)]);

/** express-session options (and values) with no same-meaning equivalent: what to use instead. */
const MIGRATIONS: Readonly<Record<string, string>> = Object.freeze({
  store:
    'option "store" (an express-session store) is not supported: Reprise persists through an adapter; give `adapter` (new RedisAdapter(...) from @reprise/redis, PostgresAdapter from @reprise/postgres, KeyvAdapter from @reprise/keyv; default MemoryAdapter)',
  genid:
    'option "genid" is not supported: Reprise makes its own session ids (144 random bits) and refuses any other shape, so a forged cookie can never name a key; to store a session under a key of yours, set req.liveSession.persistKey',
  proxy:
    "option \"proxy\" is not supported: with cookie.secure 'auto' the cookie is Secure when req.secure is true, which follows app.set('trust proxy', ...); or give cookie.secure: true",
});

const COOKIE_MIGRATIONS: Readonly<Record<string, string>> = Object.freeze({
  expires:
    'option "cookie.expires" is not supported: the cookie slides with activity; give cookie.maxAge (ms), or set req.session.cookie.maxAge per session',
  signed: 'option "cookie.signed" is not supported: the cookie is signed whenever `secret` (or cookie-parser\'s secret) is given',
});

const VALUE_MIGRATIONS: Readonly<Record<string, (value: unknown) => string | undefined>> = Object.freeze({
  saveUninitialized: (value) =>
    value === true
      ? 'saveUninitialized: true is not supported: Reprise never creates a session for a request that does not write one; read req.liveSession to create one on purpose'
      : undefined,
  resave: (value) =>
    value === true
      ? 'resave: true is not supported: a Reprise session lives in memory and is written when it closes and at each checkpoint (checkpointInterval, ms) if it changed; lower checkpointInterval to write more often'
      : undefined,
  unset: (value) =>
    value === 'keep'
      ? "unset: 'keep' is not supported: req.session = null closes the session (reason 'closed', the closing hooks run) and clears its cookie"
      : undefined,
});

/**
 * Checks the options (an unknown name is an `OptionError` with a "did you mean" hint; an
 * express-session option without a same-meaning equivalent names the Reprise one) and builds or
 * takes the manager. Checks every option before building anything.
 * @throws OptionError
 */
export function normalizeOptions(options: SessionOptions | undefined): MiddlewareSettings {
  const given: unknown = options ?? {};
  if (typeof given !== 'object' || given === null || Array.isArray(given)) {
    throw new OptionError(`@reprise/express options must be an object, got ${describeOptionValue(given)}`);
  }
  const record = given as Record<string, unknown>;
  assertNoMigrations(record);
  assertKnownOptions(record, new Set([...MANAGER_OPTION_NAMES, ...OWN_OPTION_NAMES]));
  const own = Object.fromEntries(Object.entries(record).filter(([name]) => OWN_OPTION_NAMES.has(name) && name !== 'manager'));
  const parsed = parseOptions(OWN_SCHEMA, own, { what: '@reprise/express' });
  if (parsed.secret?.length === 0)
    throw new OptionError('@reprise/express: secret must be a string or a non-empty array of strings, got an empty array');
  const givenCookie: Record<string, unknown> = parsed.cookie ?? {};
  if (parsed.name !== undefined && (record.cookie as SessionCookieOptions | undefined)?.name !== undefined) {
    throw new OptionError('@reprise/express: give name or cookie.name, not both');
  }
  const cookie = cookieDefaults(givenCookie, parsed.name);
  return Object.freeze({
    manager: managerFrom(record),
    cookie,
    secrets: parsed.secret === undefined ? undefined : Object.freeze([...parsed.secret]),
    rolling: parsed.rolling,
  });
}

function cookieDefaults(parsed: Record<string, unknown>, name: string | undefined): CookieSettings {
  const maxAge = parsed.maxAge === null ? 'session' : (parsed.maxAge as number | 'session' | undefined);
  return Object.freeze({
    name: name ?? (parsed.name as string | undefined) ?? COOKIE_DEFAULTS.name,
    maxAge: maxAge ?? COOKIE_DEFAULTS.maxAge,
    httpOnly: (parsed.httpOnly as boolean | undefined) ?? COOKIE_DEFAULTS.httpOnly,
    sameSite: (parsed.sameSite as CookieSettings['sameSite'] | undefined) ?? COOKIE_DEFAULTS.sameSite,
    secure: (parsed.secure as CookieSettings['secure'] | undefined) ?? COOKIE_DEFAULTS.secure,
    domain: parsed.domain as string | undefined,
    path: (parsed.path as string | undefined) ?? COOKIE_DEFAULTS.path,
  });
}

function assertNoMigrations(options: Record<string, unknown>): void {
  for (const [name, value] of Object.entries(options)) {
    const message = MIGRATIONS[name] ?? VALUE_MIGRATIONS[name]?.(value);
    if (message !== undefined) throw new OptionError(`@reprise/express: ${message}`);
  }
  const { cookie } = options;
  if (typeof cookie !== 'object' || cookie === null) return;
  for (const name of Object.keys(cookie)) {
    const message = COOKIE_MIGRATIONS[name];
    if (message !== undefined) throw new OptionError(`@reprise/express: ${message}`);
  }
}

/** Validates a per-session cookie lifetime: a positive number of ms or `'session'`. */
export function validateMaxAge(name: string, value: unknown): asserts value is number | 'session' {
  if (value === 'session') return;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new OptionError(`${name} must be a positive number of ms or null, got ${describeOptionValue(value)}`);
  }
}

function managerFrom(options: Record<string, unknown>): SessionManager<RepriseData> {
  if (options.manager !== undefined) {
    if (!(options.manager instanceof SessionManager)) throw new OptionError('@reprise/express: manager must be a SessionManager');
    const ignored = Object.entries(options).filter(([name, value]) => !OWN_OPTION_NAMES.has(name) && value !== undefined);
    if (ignored.length > 0) {
      const names = ignored.map(([name]) => name).join(', ');
      throw new OptionError(
        `@reprise/express: session({ manager }) cannot take manager options (${names}): give them to the SessionManager`,
      );
    }
    return options.manager as SessionManager<RepriseData>;
  }
  const managerOptions = Object.fromEntries(Object.entries(options).filter(([name]) => MANAGER_OPTION_NAMES.has(name))) as Partial<
    SessionManagerOptions<RepriseData>
  >;
  return new SessionManager<RepriseData>({ ...managerOptions, adapter: managerOptions.adapter ?? new MemoryAdapter() });
}
