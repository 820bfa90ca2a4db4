import { OptionError } from './errors.js';
import {
  booleanField,
  customField,
  describeOptionValue,
  oneOfField,
  optionalField,
  optionsSchema,
  parseOptions,
  patternField,
  stringField,
  type OptionField,
  type ParseContext,
} from './option-schema.js';

/**
 * The session cookie's options, the same in every framework binding (Koa, Express, Fastify): each
 * binding takes them as its `cookie` option and adds only its own aliases and refusals on top.
 * Durations in ms; every option is optional, `undefined` meaning its default ({@link COOKIE_DEFAULTS}).
 */
export interface SessionCookieOptions {
  /** Cookie name (4D "Web session cookie name"): a cookie token (RFC 6265). Default `'reprise.sid'`. */
  name?: string | undefined;
  /**
   * ms the cookie lives, sliding with activity (a positive, finite number), or `'session'` for a
   * browser-session cookie. Default 7 days (outlives the live context so a returning visitor is restored).
   */
  maxAge?: number | 'session' | undefined;
  /** Whether the cookie is hidden from scripts. Default `true`. */
  httpOnly?: boolean | undefined;
  /** The SameSite attribute. Default `'lax'`; `false` sends no SameSite attribute. */
  sameSite?: 'lax' | 'strict' | 'none' | false | undefined;
  /** `'auto'` (default): Secure when the request came over HTTPS (as the framework's proxy setting says); `true`: always; `false`: never. */
  secure?: boolean | 'auto' | undefined;
  /** The Domain attribute, a non-empty string. Default unset (host-only). */
  domain?: string | undefined;
  /** The Path attribute, starting with `/`. Default `'/'`. */
  path?: string | undefined;
}

/** The normalized session-cookie settings a binding works with (units and defaults as in {@link SessionCookieOptions}). */
export interface CookieSettings {
  readonly name: string;
  readonly maxAge: number | 'session';
  readonly httpOnly: boolean;
  readonly sameSite: 'lax' | 'strict' | 'none' | false;
  readonly secure: boolean | 'auto';
  readonly domain: string | undefined;
  readonly path: string;
}

/** The session cookie's defaults (DESIGN.md "Defaults and 4D names"): `reprise.sid`, 7 days, httpOnly, lax, Secure on HTTPS, host-only, `/`. Frozen. */
export const COOKIE_DEFAULTS: CookieSettings = Object.freeze({
  name: 'reprise.sid',
  maxAge: 7 * 24 * 3_600_000,
  httpOnly: true,
  sameSite: 'lax',
  secure: 'auto',
  domain: undefined,
  path: '/',
});

/** A cookie name: a token of RFC 6265 (letters, digits and ``!#$%&'*+-.^_`|~``). */
export const COOKIE_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** A cookie name field: `must be a cookie token (letters, digits and !#$%&'*+-.^_`|~), got "a b"`. */
export const cookieTokenField: OptionField<string, string> = patternField(
  COOKIE_TOKEN,
  "a cookie token (letters, digits and !#$%&'*+-.^_`|~)",
);

/** Whether `value` is a cookie lifetime: a positive, finite number of ms or `'session'`. */
export function isCookieMaxAge(value: unknown): value is number | 'session' {
  return value === 'session' || (typeof value === 'number' && Number.isFinite(value) && value > 0);
}

/** A cookie lifetime field: `must be a positive number of ms or 'session', got 0`. */
export const cookieMaxAgeField: OptionField<number | 'session', number | 'session'> = customField<number | 'session'>(
  isCookieMaxAge,
  (value) => `must be a positive number of ms or 'session', got ${describeOptionValue(value)}`,
);

/** The field of each session-cookie option, for a binding that builds its own variant (an alias, a wider `maxAge`). Frozen. */
export const COOKIE_FIELDS = Object.freeze({
  name: cookieTokenField,
  maxAge: cookieMaxAgeField,
  httpOnly: booleanField,
  sameSite: oneOfField(['lax', 'strict', 'none', false]),
  secure: oneOfField([true, false, 'auto']),
  domain: optionalField(stringField({ nonEmpty: true })),
  path: patternField(/^\//, "a string starting with '/'"),
});

/** The schema of {@link SessionCookieOptions}, defaults applied; nest it as a binding's `cookie` option. */
export const COOKIE_OPTIONS_SCHEMA = optionsSchema<SessionCookieOptions>()(COOKIE_FIELDS, COOKIE_DEFAULTS);

/** `{ cookie }`, so that messages name each option `cookie.<name>`. */
const COOKIE_OPTION = optionsSchema<{ cookie?: SessionCookieOptions | undefined }>()(
  { cookie: COOKIE_OPTIONS_SCHEMA },
  Object.freeze({ cookie: {} }),
);

/**
 * Validates and normalizes a binding's `cookie` option (`undefined`: every default) into frozen
 * {@link CookieSettings}. Messages name the option `cookie.<name>`, prefixed with `context.what` when
 * given: `cookie.maxAge must be a positive number of ms or 'session', got 0`,
 * `unknown option "cookie.maxage" (did you mean "cookie.maxAge"?)`, `cookie must be an object, got "sid"`.
 * @throws OptionError (`ERR_REPRISE_OPTION`)
 */
export function parseCookieOptions(input: unknown, context: Pick<ParseContext, 'what'> = {}): CookieSettings {
  if (Array.isArray(input)) {
    const message = 'cookie must be an object, got an array';
    throw new OptionError(context.what === undefined ? message : `${context.what}: ${message}`);
  }
  const { cookie } = parseOptions(COOKIE_OPTION, { cookie: input }, { what: context.what });
  return Object.freeze({
    name: cookie.name,
    maxAge: cookie.maxAge,
    httpOnly: cookie.httpOnly,
    sameSite: cookie.sameSite,
    secure: cookie.secure,
    domain: cookie.domain,
    path: cookie.path,
  });
}
