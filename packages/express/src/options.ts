import { OptionError, SessionManager, type SessionAdapter, type SessionManagerOptions } from '@reprise/core';
import {
  COOKIE_DEFAULTS,
  COOKIE_FIELDS,
  MANAGER_OPTIONS_SCHEMA,
  MANAGER_OPTION_NAMES,
  booleanField,
  cookieTokenField,
  customField,
  describeOptionValue,
  isCookieMaxAge,
  listField,
  oneOfField,
  optionalField,
  optionsSchema,
  parseCookieOptions,
  parseOptions,
  stringField,
  type CookieSettings,
  type OptionField,
  type SessionCookieOptions as CoreCookieOptions,
} from '@reprise/core/adapter-kit';
import { MemoryAdapter } from '@reprise/memory';
import type { RepriseData } from './types.js';

export { COOKIE_DEFAULTS, type CookieSettings } from '@reprise/core/adapter-kit';

/**
 * The session cookie's options: core's (`'auto'` Secure follows `req.secure`, so Express's `trust
 * proxy` setting is honoured), with express-session's `maxAge: null` for a browser-session cookie.
 */
export interface SessionCookieOptions extends Omit<CoreCookieOptions, 'maxAge'> {
  /**
   * ms the cookie lives, sliding with activity, or `'session'` (or `null`, express-session's way) for
   * a browser-session cookie. Default 7 days (outlives the live context so a returning visitor is restored).
   */
  maxAge?: number | 'session' | null | undefined;
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

/** What the middleware works with, once its options are checked. */
export interface MiddlewareSettings {
  readonly manager: SessionManager<RepriseData>;
  readonly cookie: CookieSettings;
  /** The middleware's own secrets, when given (else `req.secret` of cookie-parser, if any). */
  readonly secrets: readonly string[] | undefined;
  readonly rolling: boolean;
}

/** The cookie's schema: core's, with `maxAge: null` accepted (read as `'session'`). */
const COOKIE_SCHEMA = optionsSchema<SessionCookieOptions>()(
  {
    ...COOKIE_FIELDS,
    maxAge: customField<number | 'session' | null>(
      (value) => value === null || isCookieMaxAge(value),
      (value) => `must be a positive number of ms, 'session' or null, got ${describeOptionValue(value)}`,
    ),
  },
  COOKIE_DEFAULTS,
);

const secretField: OptionField<string | readonly string[], string[]> = listField(stringField({ nonEmpty: true }));

/** The middleware's own options, the manager's (validated by core's schema, `adapter` optional) and `manager`. */
type SchemaOptions = ExpressBindingOptions &
  Omit<SessionManagerOptions, 'adapter'> & { adapter?: SessionAdapter | undefined; manager?: SessionManager | undefined };

const { adapter: adapterField, ...managerFields } = MANAGER_OPTIONS_SCHEMA.entries;

/** Every option of `session()`; express-session options without a same-meaning equivalent are refused before, naming the Reprise one. */
const SESSION_OPTIONS_SCHEMA = optionsSchema<SchemaOptions>()(
  {
    ...managerFields,
    adapter: optionalField(adapterField),
    manager: optionalField(customField<SessionManager>((value) => value instanceof SessionManager, 'must be a SessionManager')),
    secret: optionalField(secretField),
    cookie: optionalField(COOKIE_SCHEMA),
    name: optionalField(cookieTokenField),
    rolling: booleanField,
    saveUninitialized: optionalField(oneOfField([false])),
    resave: optionalField(oneOfField([false])),
    unset: optionalField(oneOfField(['destroy'])),
  },
  Object.freeze({ rolling: true }),
);

/** The options `session()` itself reads; with `manager`, every other (the manager's) would be silently ignored. */
const OWN_OPTION_NAMES: ReadonlySet<string> = new Set([
  'manager',
  'secret',
  'cookie',
  'name',
  'rolling',
  'saveUninitialized',
  'resave',
  'unset',
]);

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
 * express-session option without a same-meaning equivalent names the Reprise one; the manager's by
 * core's schema) and builds or takes the manager. Checks every option before building anything.
 * @throws OptionError
 */
export function normalizeOptions(options: SessionOptions | undefined): MiddlewareSettings {
  const given: unknown = options ?? {};
  if (typeof given === 'object' && given !== null) assertNoMigrations(given as Record<string, unknown>);
  const parsed = parseOptions(SESSION_OPTIONS_SCHEMA, given, { what: '@reprise/express', name: 'options' });
  if (parsed.secret?.length === 0)
    throw new OptionError('@reprise/express: secret must be a string or a non-empty array of strings, got an empty array');
  const record = given as Record<string, unknown>;
  return Object.freeze({
    manager: managerFrom(record),
    cookie: cookieSettings(record.cookie as SessionCookieOptions | undefined, parsed.name),
    secrets: parsed.secret === undefined ? undefined : Object.freeze([...parsed.secret]),
    rolling: parsed.rolling,
  });
}

/** The cookie settings, from core's parser: `name` is express-session's `cookie.name`, `maxAge: null` is `'session'`. */
function cookieSettings(given: SessionCookieOptions | undefined, name: string | undefined): CookieSettings {
  if (name !== undefined && given?.name !== undefined) throw new OptionError('@reprise/express: give name or cookie.name, not both');
  const cookie = { ...given, ...(name === undefined ? {} : { name }) };
  return parseCookieOptions({ ...cookie, maxAge: cookie.maxAge === null ? 'session' : cookie.maxAge }, { what: '@reprise/express' });
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
