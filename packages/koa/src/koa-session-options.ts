import { OptionError } from '@reprise/core';
import { customField, describeOptionValue, optionalField } from '@reprise/core/adapter-kit';
import type { CookieOptions } from './options.js';

/**
 * koa-session's option names, accepted by `session()` so that a koa-session configuration moves
 * over unchanged where Reprise has the same meaning. The cookie ones are the same as `cookie.*`
 * (give each once); the others are accepted with the value whose meaning Reprise has, and refused
 * with an `OptionError` naming the Reprise equivalent otherwise. Types follow koa-session 7's, so
 * that a configuration object written for it type-checks here.
 */
export interface KoaSessionOptions {
  /** koa-session's cookie name: the same as `cookie.name`. */
  key?: string | undefined;
  /** The cookie's lifetime in ms or `'session'`: the same as `cookie.maxAge` (Reprise's cookie slides with activity). */
  maxAge?: number | 'session' | undefined;
  /** The same as `cookie.httpOnly`. */
  httpOnly?: boolean | undefined;
  /** The same as `cookie.secure` (unset: Secure when the request is HTTPS, as in koa-session). */
  secure?: boolean | undefined;
  /** The same as `cookie.sameSite`; `null` (koa-session's "don't set it") is `false`, `true` is `'strict'`. */
  sameSite?: string | boolean | null | undefined;
  /** The same as `cookie.domain` (a string; koa-session's function form is refused). */
  domain?: string | undefined;
  /** The same as `cookie.path`. */
  path?: string | undefined;
  /** `true` only: Reprise sets the cookie when `session()` finishes, always. `false` (with `manuallyCommit()`) is refused. */
  autoCommit?: boolean | undefined;
  /** `true` only: Reprise's cookie always overwrites an earlier one of the same name in the response. */
  overwrite?: boolean | undefined;
  /** `true`: the cookie is signed with `app.keys`, and a request without `app.keys` is an error, as in koa-session. `false` is refused: Reprise signs whenever `app.keys` is set. */
  signed?: boolean | undefined;
  /** `true`, like `renew: true`: Reprise's cookie slides with activity (re-issued once a tenth of its lifetime has passed). See {@link KoaSessionOptions.renew}. */
  rolling?: boolean | undefined;
  /**
   * `true`, like `rolling: true`: the cookie slides with activity. A configuration that asks for a
   * cookie that does not slide (`rolling: false` or `renew: false`, and neither `true`) is refused:
   * use `absoluteTimeout` for a session that ends at a fixed time.
   */
  renew?: boolean | undefined;
  /** @deprecated koa-session's store: refused. Reprise writes snapshots through `adapter` (`RedisAdapter`, `PostgresAdapter`, `KeyvAdapter` for any Keyv store). */
  store?: never;
  /** @deprecated koa-session's per-request store: refused. Reprise writes snapshots through `adapter`. */
  ContextStore?: never;
  /** @deprecated koa-session's: refused. Reprise's cookie carries the session id; to restore by identity, set `ctx.liveSession.persistKey` and call `ctx.liveSession.restore(key)`. */
  externalKey?: never;
  /** @deprecated koa-session's cookie codec: refused. Reprise's cookie carries only the session id; the data stays on the server and snapshots use core's codec. */
  encode?: never;
  /** @deprecated See `encode`. */
  decode?: never;
  /** @deprecated koa-session's id generator: refused. Reprise's ids are 128-bit random; set `persistKey` to name a snapshot. */
  genid?: never;
  /** @deprecated koa-session's store-key prefix: refused. Give the prefix to the adapter (`RedisAdapter({ prefix })`, for example). */
  prefix?: never;
  /** @deprecated koa-session's `valid(ctx, data)`: refused. Check in a middleware after `session()` and set `ctx.session = null`; `ipBinding` binds a session to the client IP. */
  valid?: never;
  /** @deprecated koa-session's `beforeSave(ctx, session)`: refused. `onClose` runs before a session's snapshot is written (it may change `data` or set `persist = false`). */
  beforeSave?: never;
}

/** Each koa-session cookie option, and the `cookie` option it is. */
const COOKIE_ALIASES = Object.freeze({
  key: 'name',
  maxAge: 'maxAge',
  httpOnly: 'httpOnly',
  secure: 'secure',
  sameSite: 'sameSite',
  domain: 'domain',
  path: 'path',
} as const satisfies Partial<Record<keyof KoaSessionOptions, keyof CookieOptions>>);

/** Why each refused koa-session option is refused, and what to use. */
const REFUSED: Readonly<Record<string, string>> = Object.freeze({
  store:
    "koa-session's store: Reprise writes snapshots through `adapter` (RedisAdapter, PostgresAdapter, or KeyvAdapter for any Keyv store)",
  ContextStore: "koa-session's per-request store: Reprise writes snapshots through `adapter`",
  externalKey:
    "koa-session's: Reprise's cookie carries the session id; to restore by identity set ctx.liveSession.persistKey and call ctx.liveSession.restore(key)",
  encode:
    "koa-session's cookie codec: Reprise's cookie carries only the session id (the data stays on the server; snapshots use core's codec)",
  decode:
    "koa-session's cookie codec: Reprise's cookie carries only the session id (the data stays on the server; snapshots use core's codec)",
  genid: "koa-session's id generator: Reprise's session ids are 128-bit random; set ctx.liveSession.persistKey to name a snapshot",
  prefix: "koa-session's store-key prefix: give the prefix to the adapter (RedisAdapter({ prefix }), for example)",
  valid:
    "koa-session's valid(ctx, data): check in a middleware after session() and set ctx.session = null; ipBinding binds a session to the client IP",
  beforeSave:
    "koa-session's beforeSave(ctx, session): onClose runs before a session's snapshot is written (it may change data or set persist = false)",
});

/** Every koa-session option name `session()` knows (accepted or refused). */
export const KOA_SESSION_OPTION_NAMES: ReadonlySet<string> = new Set(
  Object.keys({
    key: true,
    maxAge: true,
    httpOnly: true,
    secure: true,
    sameSite: true,
    domain: true,
    path: true,
    autoCommit: true,
    overwrite: true,
    signed: true,
    rolling: true,
    renew: true,
    store: true,
    ContextStore: true,
    externalKey: true,
    encode: true,
    decode: true,
    genid: true,
    prefix: true,
    valid: true,
    beforeSave: true,
  } satisfies Record<keyof KoaSessionOptions, true>),
);

/** Any value: a koa-session option is checked when {@link fromKoaSessionOptions} translates it. */
const TRANSLATED = optionalField(customField<unknown>(() => true, ''));

/** A field per koa-session option name, so that the `session()` schema knows them (and suggests them for a typo). */
export const KOA_SESSION_FIELDS = Object.freeze(
  Object.fromEntries([...KOA_SESSION_OPTION_NAMES].map((name) => [name, TRANSLATED])) as Record<keyof KoaSessionOptions, typeof TRANSLATED>,
);

/** What {@link fromKoaSessionOptions} makes of the options. */
export interface TranslatedOptions<T> {
  /** The options without koa-session's names, their cookie settings moved into `cookie`. */
  readonly options: T;
  /** `signed: true` was given: a request on an app without `app.keys` is an error. */
  readonly requireKeys: boolean;
}

/**
 * Translates koa-session's option names (see {@link KoaSessionOptions}) into Reprise's, or throws
 * an `OptionError` naming the Reprise equivalent. The options object is not changed.
 */
export function fromKoaSessionOptions<T extends { cookie?: CookieOptions | undefined }>(
  options: T & KoaSessionOptions,
): TranslatedOptions<T> {
  const given = Object.entries(options).filter(([name, value]) => KOA_SESSION_OPTION_NAMES.has(name) && value !== undefined);
  if (given.length === 0) return { options, requireKeys: false };
  const values = Object.fromEntries(given) as Record<keyof KoaSessionOptions, unknown>;
  for (const [name] of given) {
    const why = REFUSED[name];
    if (why !== undefined) throw new OptionError(`session() option ${JSON.stringify(name)} is ${why}`);
  }
  refuseFalse(
    values,
    'autoCommit',
    'Reprise sets the session cookie when session() finishes, always (ctx.session.manuallyCommit() is not available): remove autoCommit',
  );
  refuseFalse(values, 'overwrite', "Reprise's session cookie always overwrites an earlier one of the same name: remove overwrite");
  refuseFalse(
    values,
    'signed',
    'Reprise signs the session cookie whenever app.keys is set (leave app.keys unset for unsigned cookies): remove signed',
  );
  refuseFixedCookie(values);
  const rest: Record<string, unknown> = { ...(options as object) };
  for (const [name] of given) delete rest[name];
  const cookie: Record<string, unknown> = { ...(options.cookie ?? {}) };
  for (const [alias, name] of Object.entries(COOKIE_ALIASES)) {
    const value = values[alias as keyof typeof COOKIE_ALIASES];
    if (value === undefined) continue;
    if (cookie[name] !== undefined)
      throw new OptionError(
        `session() options ${JSON.stringify(alias)} (koa-session's name) and ${JSON.stringify(`cookie.${name}`)} are the same setting: give it once`,
      );
    cookie[name] = name === 'sameSite' ? sameSiteOf(value) : value;
  }
  if (Object.keys(cookie).length > 0) rest.cookie = cookie;
  return { options: rest as T, requireKeys: values.signed === true };
}

function refuseFalse(values: Record<string, unknown>, name: string, why: string): void {
  const value = values[name];
  if (value === undefined || value === true) return;
  const what = value === false ? 'false' : `${describeOptionValue(value)} (a boolean is expected)`;
  throw new OptionError(`session() option ${JSON.stringify(name)} cannot be ${what}: ${why}`);
}

/** koa-session's `rolling`/`renew`: the cookie slides unless the options say it must not. */
function refuseFixedCookie(values: Record<string, unknown>): void {
  for (const name of ['rolling', 'renew']) {
    const value = values[name];
    if (value !== undefined && typeof value !== 'boolean')
      throw new OptionError(`session() option ${JSON.stringify(name)} must be a boolean, got ${describeOptionValue(value)}`);
  }
  const slides = values.rolling === true || values.renew === true;
  const fixed = values.rolling === false || values.renew === false;
  if (fixed && !slides) {
    throw new OptionError(
      "session() options rolling: false / renew: false ask for a cookie that does not slide: Reprise's cookie always slides with activity (re-issued once a tenth of its lifetime has passed). Remove them; for a session that ends at a fixed time, use absoluteTimeout",
    );
  }
}

/** koa-session's `sameSite` (passed to the cookies module) as `cookie.sameSite`; anything else is left for `cookie.sameSite`'s check. */
function sameSiteOf(value: unknown): unknown {
  if (value === null) return false;
  if (value === true) return 'strict';
  return typeof value === 'string' ? value.toLowerCase() : value;
}
