import { OptionError, SessionManager, type SessionAdapter, type SessionData, type SessionManagerOptions } from '@reprise/core';
import {
  COOKIE_OPTIONS_SCHEMA,
  MANAGER_OPTIONS_SCHEMA,
  booleanField,
  customField,
  describeOptionValue,
  isCookieMaxAge,
  optionalField,
  optionsSchema,
  parseCookieOptions,
  parseOptions,
  type CookieSettings,
  type ParsedOptions,
  type SessionCookieOptions,
} from '@reprise/core/adapter-kit';
import { MemoryAdapter } from '@reprise/memory';
import { KOA_SESSION_FIELDS, fromKoaSessionOptions, type KoaSessionOptions } from './koa-session-options.js';

export { COOKIE_DEFAULTS, type CookieSettings } from '@reprise/core/adapter-kit';

/** The session cookie's options: core's {@link SessionCookieOptions} (`'auto'` Secure follows `ctx.secure`, so `app.proxy` is honoured). */
export type CookieOptions = SessionCookieOptions;

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

/** Koa's own options, the manager's (validated by core's schema, `adapter` optional) and koa-session's names (translated afterwards). */
type SchemaOptions = KoaOptions &
  KoaSessionOptions &
  Omit<SessionManagerOptions, 'adapter'> & { adapter?: SessionAdapter | undefined; manager?: SessionManager | undefined };

const { adapter: adapterField, ...managerFields } = MANAGER_OPTIONS_SCHEMA.entries;

/** Every option of `session()`: unknown names are refused with a "did you mean" hint; the values are checked before anything is built. */
const SESSION_OPTIONS_SCHEMA = optionsSchema<SchemaOptions>()(
  {
    ...managerFields,
    ...KOA_SESSION_FIELDS,
    adapter: optionalField(adapterField),
    manager: optionalField(customField<SessionManager>((value) => value instanceof SessionManager, 'must be a SessionManager')),
    cookie: optionalField(COOKIE_OPTIONS_SCHEMA),
    ipBinding: booleanField,
  },
  Object.freeze({ ipBinding: false }),
);

/** The options `session()` itself reads; with `manager`, every other one would be silently ignored. */
const KOA_OPTION_NAMES: ReadonlySet<string> = new Set(['manager', 'cookie', 'ipBinding']);

/** What `session()` works with, once its options are checked. */
export interface KoaSettings<TData extends SessionData> {
  readonly manager: SessionManager<TData>;
  readonly cookie: CookieSettings;
  readonly ipBinding: boolean;
  /** koa-session's `signed: true` was given: a request on an app without `app.keys` is an error. */
  readonly requireKeys: boolean;
}

/**
 * Checks every option of `session()` (names, with a "did you mean" hint, and values, the manager's
 * by core's schema), translates koa-session's names, and builds or takes the manager. Nothing is
 * built when an option is wrong.
 * @throws OptionError
 */
export function parseSessionOptions<TData extends SessionData>(given: SessionOptions<TData>): KoaSettings<TData> {
  const { ipBinding } = assertKnownSessionOptions(given);
  const { options, requireKeys } = fromKoaSessionOptions(given);
  const cookie = normalizeCookie(options.cookie);
  return { manager: managerFrom(options), cookie, ipBinding, requireKeys };
}

/** Normalizes and validates the cookie options (`undefined`: every default); messages name `cookie.<name>`. */
export function normalizeCookie(options: CookieOptions | undefined): CookieSettings {
  return parseCookieOptions(options);
}

/** Validates a cookie lifetime: a positive number of ms or `'session'`. */
export function validateMaxAge(name: string, value: unknown): asserts value is number | 'session' {
  if (!isCookieMaxAge(value))
    throw new OptionError(`${name} must be a positive number of ms or 'session', got ${describeOptionValue(value)}`);
}

/**
 * Validates the `session()` options against their schema: an unknown name among them or their
 * `cookie` object is an `OptionError` suggesting a close one (`unknown option "cookie.maxage" (did
 * you mean "cookie.maxAge"?)`), and so is a wrong value. koa-session's names are checked when they
 * are translated. Returns the parsed options.
 */
export function assertKnownSessionOptions(options: object): ParsedOptions<typeof SESSION_OPTIONS_SCHEMA> {
  return parseOptions(SESSION_OPTIONS_SCHEMA, options, { name: 'session() options' });
}

/**
 * The manager `session()` uses: the one given, or one built from the options (as given: the manager
 * applies its own defaults) on a `MemoryAdapter` by default.
 */
export function managerFrom<TData extends SessionData>(options: SessionOptions<TData>): SessionManager<TData> {
  if (options.manager !== undefined) {
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
