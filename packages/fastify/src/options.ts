import { OptionError, SessionManager, type SessionAdapter, type SessionManagerOptions } from '@reprise/core';
import {
  COOKIE_OPTIONS_SCHEMA,
  MANAGER_OPTIONS_SCHEMA,
  MANAGER_OPTION_NAMES,
  booleanField,
  cookieTokenField,
  customField,
  describeOptionValue,
  isCookieMaxAge,
  optionalField,
  optionsSchema,
  parseCookieOptions,
  parseOptions,
  type CookieSettings,
  type SessionCookieOptions,
} from '@reprise/core/adapter-kit';
import { MemoryAdapter } from '@reprise/memory';
import type { RepriseData } from './types.js';

/** The session cookie's options: core's (`'auto'` Secure follows `request.protocol`, so Fastify's `trustProxy` is honoured). */
export type { SessionCookieOptions, CookieSettings } from '@reprise/core/adapter-kit';
export { COOKIE_DEFAULTS } from '@reprise/core/adapter-kit';

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

/** `fastify.register()`'s own options, which Fastify passes to every plugin along with the plugin's (Fastify checks them). */
interface RegisterOptions {
  prefix?: unknown;
  logLevel?: unknown;
  logSerializers?: unknown;
}

/** The plugin's own options, the manager's (validated by core's schema, `adapter` optional) and Fastify's register options. */
type SchemaOptions = FastifyBindingOptions &
  RegisterOptions &
  Omit<SessionManagerOptions, 'adapter'> & { adapter?: SessionAdapter | undefined; manager?: SessionManager | undefined };

/** What is wrong with a `secret` option, or `undefined`. */
function secretProblem(value: unknown): string | undefined {
  const list: unknown[] = Array.isArray(value) ? value : [value];
  if (list.length === 0) return 'must not be an empty array';
  const bad = list.findIndex((item) => typeof item !== 'string' || item.length === 0);
  if (bad !== -1) return `must be a string or an array of strings, got ${describeOptionValue(list[bad])}`;
  const signing = list[0] as string;
  if (signing.length < MIN_SECRET_LENGTH)
    return `must be at least ${MIN_SECRET_LENGTH} characters long (the one that signs: the first of the array), got ${signing.length}`;
  return undefined;
}

const ANY = optionalField(customField<unknown>(() => true, ''));
const { adapter: adapterField, ...managerFields } = MANAGER_OPTIONS_SCHEMA.entries;

/** Every option of the plugin: unknown names are refused with a "did you mean" hint; the values are checked before anything is built. */
const PLUGIN_OPTIONS_SCHEMA = optionsSchema<SchemaOptions>()(
  {
    ...managerFields,
    adapter: optionalField(adapterField),
    manager: optionalField(customField<SessionManager>((value) => value instanceof SessionManager, 'must be a SessionManager')),
    secret: optionalField(
      customField<string | readonly string[]>(
        (value) => secretProblem(value) === undefined,
        (value) => secretProblem(value) ?? '',
      ),
    ),
    cookie: optionalField(COOKIE_OPTIONS_SCHEMA),
    cookieName: optionalField(cookieTokenField),
    saveUninitialized: optionalField(
      customField<false>(
        (value) => value === false,
        'must be false (or left out): Reprise never creates a session for a request that does not write one; read request.liveSession to create one on purpose',
      ),
    ),
    rolling: booleanField,
    prefix: ANY,
    logLevel: ANY,
    logSerializers: ANY,
  },
  Object.freeze({ rolling: true }),
);

/** The options the plugin itself reads, and Fastify's; with `manager`, every other one would be silently ignored. */
const OWN_OPTION_NAMES: ReadonlySet<string> = new Set([
  'manager',
  'secret',
  'cookie',
  'cookieName',
  'saveUninitialized',
  'rolling',
  'prefix',
  'logLevel',
  'logSerializers',
]);

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
 * `@fastify/session` option without a same-meaning equivalent names the Reprise one; the manager's
 * by core's schema) and builds or takes the manager. Checks every option before building anything.
 */
export function normalizeOptions(options: RepriseFastifyOptions | undefined): PluginSettings {
  const given: unknown = options ?? {};
  if (typeof given === 'object' && given !== null) assertNoMigrations(given as Record<string, unknown>);
  const parsed = parseOptions(PLUGIN_OPTIONS_SCHEMA, given, { name: '@reprise/fastify options' });
  const cookie = normalizeCookie((given as FastifyBindingOptions).cookie, parsed.cookieName);
  const secrets =
    parsed.secret === undefined ? undefined : Object.freeze(typeof parsed.secret === 'string' ? [parsed.secret] : [...parsed.secret]);
  const { manager, ownsManager } = managerFrom(given as RepriseFastifyOptions);
  return { manager, ownsManager, cookie, secrets, rolling: parsed.rolling };
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

/** Normalizes and validates the cookie options (`cookieName` is `@fastify/session`'s `cookie.name`); messages name `cookie.<name>`. */
export function normalizeCookie(options: unknown, cookieName?: string): CookieSettings {
  const given = options as SessionCookieOptions | undefined;
  if (cookieName === undefined) return parseCookieOptions(given);
  if (typeof given === 'object' && given !== null && given.name !== undefined)
    throw new OptionError('give cookieName or cookie.name, not both');
  return parseCookieOptions({ ...given, name: cookieName });
}

/** Validates a cookie lifetime: a positive number of ms or `'session'`. */
export function validateMaxAge(name: string, value: unknown): asserts value is number | 'session' {
  if (!isCookieMaxAge(value))
    throw new OptionError(`${name} must be a positive number of ms or 'session', got ${describeOptionValue(value)}`);
}

function managerFrom(options: RepriseFastifyOptions): { manager: SessionManager<RepriseData>; ownsManager: boolean } {
  if (options.manager !== undefined) {
    const ignored = Object.entries(options).filter(([name, value]) => !OWN_OPTION_NAMES.has(name) && value !== undefined);
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
