import { isSessionId } from '@reprise/core/adapter-kit';
import type { Context } from 'koa';
import type { CookieSettings } from './options.js';
import { sameShortText, signerOf } from './signer.js';

/** What the request's session cookie says, once checked. */
export interface PresentedCookie {
  /** The session id it carries. */
  readonly id: string;
  /** Signed with an older key of `app.keys`: the whole cookie should be re-issued. */
  readonly rotated: boolean;
}

/**
 * What the signature of a session cookie covers: `name=id` (what the cookies module signs), plus the
 * client IP when the session is IP-bound, so that the binding survives the session's close: a
 * cookie presented from another IP fails its signature whether its session is live, closing or
 * closed, in this process or after a restart.
 */
function signedText(name: string, id: string, ip: string | undefined): string {
  return ip === undefined ? `${name}=${id}` : `${name}=${id}; ip=${ip}`;
}

/** A signature this middleware issued, with the first key of `app.keys` it was made with. */
export interface IssuedSignature {
  /** The session id it signs (a session's id changes with `regenerate()`). */
  readonly id: string;
  readonly signature: string;
  readonly firstKey: unknown;
}

/** What identifies the signing key now: the first of `app.keys` (or the Keygrip object itself). */
export function firstKeyOf(ctx: Context): unknown {
  const keys = ctx.app.keys as unknown;
  return Array.isArray(keys) ? keys[0] : keys;
}

// The checks Koa's cookies module applies to a cookie's name, path and domain (it throws a TypeError
// at `set`): settings that fail them take the cookies module's path, which throws that error.
const FIELD_CONTENT = /^[\t\u0020-\u007e\u0080-\u00ff]+$/;
const DOMAIN_VALUE = /^([.]?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)([.][a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;
const PATH_VALUE = /^[ -:=-~]*$/;
const REGEXP_SPECIALS = /[\^$\\.*+?()[\]{}|]/g;

/**
 * The session cookie of one `session()` middleware, prepared once from its settings: the patterns
 * that find its two cookies in a `Cookie` header (the cookies module's), and the fixed attributes of
 * its `Set-Cookie` lines, in the cookies module's order and spelling.
 */
interface CookieFormat {
  readonly name: string;
  readonly sigName: string;
  readonly idPattern: RegExp;
  readonly sigPattern: RegExp;
  /** `; path=…` (before the expiry). */
  readonly head: string;
  /** `; domain=…; samesite=…` (after the expiry), then Secure and HttpOnly by request. */
  readonly tail: string;
  readonly secureTail: string;
  /** The settings pass the cookies module's checks: the `Set-Cookie` lines are written here. */
  readonly direct: boolean;
}

const formats = new WeakMap<CookieSettings, CookieFormat>();

function pattern(name: string): RegExp {
  return new RegExp(`(?:^|;) *${name.replace(REGEXP_SPECIALS, '\\$&')}=([^;]*)`);
}

function formatOf(settings: CookieSettings): CookieFormat {
  let format = formats.get(settings);
  if (format !== undefined) return format;
  const { name, path, domain, sameSite, httpOnly } = settings;
  const sigName = `${name}.sig`;
  const direct =
    FIELD_CONTENT.test(sigName) && !/[;=]/.test(name) && (!path || PATH_VALUE.test(path)) && (!domain || DOMAIN_VALUE.test(domain));
  const tail = `${domain ? `; domain=${domain}` : ''}${sameSite ? `; samesite=${sameSite.toLowerCase()}` : ''}`;
  const httpOnlyPart = httpOnly ? '; httponly' : '';
  format = {
    name,
    sigName,
    idPattern: pattern(name),
    sigPattern: pattern(sigName),
    head: path ? `; path=${path}` : '',
    tail: tail + httpOnlyPart,
    secureTail: `${tail}; secure${httpOnlyPart}`,
    direct,
  };
  formats.set(settings, format);
  return format;
}

/** The value of the cookie `pattern` finds in `header` (quotes removed, as the cookies module does). */
function cookieValue(header: string, found: RegExp): string | undefined {
  const match = found.exec(header);
  if (match === null) return undefined;
  const value = match[1]!;
  return value[0] === '"' ? value.slice(1, -1) : value;
}

/**
 * The request's session cookie, or `undefined` when it is missing, malformed, oversized, unsigned
 * while `app.keys` is set, or tampered: all of these are no cookie. A signature equal to the one
 * this middleware issued for that live session with the current first key (`issued`) is accepted
 * with one constant-time comparison: it is exactly what the HMAC would compute again. Any other is
 * checked against each key of `app.keys` (one HMAC each, compared in constant time), so a cookie
 * signed with an older key is accepted and flagged for re-issue. The `Cookie` header is read
 * directly (with the cookies module's patterns): a request without one costs no `ctx.cookies`.
 * `ip`: the client IP when `ipBinding` is on (part of what is signed).
 */
export function readCookie(
  ctx: Context,
  settings: CookieSettings,
  ip?: string,
  issued?: (id: string) => IssuedSignature | undefined,
): PresentedCookie | undefined {
  const header = ctx.req.headers.cookie;
  if (!header) return undefined;
  const format = formatOf(settings);
  const id = cookieValue(header, format.idPattern);
  if (!isSessionId(id)) return undefined;
  const keys = ctx.app.keys as unknown;
  const signer = signerOf(keys);
  if (signer === undefined) return { id, rotated: false };
  const signature = cookieValue(header, format.sigPattern);
  if (!signature || signature.length > 128) return undefined;
  const known = issued?.(id);
  if (
    known !== undefined &&
    known.id === id &&
    known.firstKey === (Array.isArray(keys) ? keys[0] : keys) &&
    sameShortText(known.signature, signature)
  ) {
    return { id, rotated: false };
  }
  const index = signer.index(signedText(settings.name, id, ip), signature);
  return index < 0 ? undefined : { id, rotated: index > 0 };
}

/** `new Date(ms).toUTCString()`, kept for the last second asked (every response of a second shares it). */
let lastSecond = Number.NaN;
let lastUtc = '';
function utcString(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== lastSecond) {
    lastUtc = new Date(ms).toUTCString();
    lastSecond = second;
  }
  return lastUtc;
}

/**
 * Sets the session cookie, signed whenever `app.keys` is set (both cookies get every attribute).
 * `maxAge` in ms or `'session'`; `ip`: the client IP when `ipBinding` is on. Returns the signature
 * it issued (with the key it was made with), or `undefined` when cookies are not signed.
 *
 * The two `Set-Cookie` lines are exactly the cookies module's (`ctx.cookies.set` with `overwrite`:
 * an earlier line of either cookie is replaced), written with one `setHeader` and one HMAC.
 */
export function writeCookie(
  ctx: Context,
  settings: CookieSettings,
  id: string,
  maxAge: number | 'session',
  ip?: string,
): IssuedSignature | undefined {
  const format = formatOf(settings);
  if (!format.direct) return writeThroughCookies(ctx, settings, id, maxAge, ip);
  const keys = ctx.app.keys as unknown;
  const signer = signerOf(keys);
  const secure = settings.secure === 'auto' ? ctx.secure : settings.secure;
  const attributes = `${format.head}${maxAge === 'session' ? '' : `; expires=${utcString(Date.now() + maxAge)}`}${secure ? format.secureTail : format.tail}`;
  const line = `${format.name}=${id}${attributes}`;
  if (signer === undefined) {
    setCookieLines(ctx, format, line, undefined);
    return undefined;
  }
  const signature = signer.sign(signedText(settings.name, id, ip));
  setCookieLines(ctx, format, line, `${format.sigName}=${signature}${attributes}`);
  return { id, signature, firstKey: Array.isArray(keys) ? keys[0] : keys };
}

/** Replaces the response's `Set-Cookie` lines of the session cookie (and its signature) with these. */
function setCookieLines(ctx: Context, format: CookieFormat, line: string, sigLine: string | undefined): void {
  const res = ctx.res;
  const existing = res.getHeader('set-cookie');
  let lines: string[];
  if (existing === undefined) lines = [];
  else {
    const idPrefix = `${format.name}=`;
    const sigPrefix = `${format.sigName}=`;
    lines = (Array.isArray(existing) ? existing : [String(existing)]).filter(
      (value) => !value.startsWith(idPrefix) && !value.startsWith(sigPrefix),
    );
  }
  lines.push(line);
  if (sigLine !== undefined) lines.push(sigLine);
  res.setHeader('Set-Cookie', lines);
}

/** {@link writeCookie} through `ctx.cookies`, for settings the cookies module refuses (it throws its TypeError). */
function writeThroughCookies(
  ctx: Context,
  settings: CookieSettings,
  id: string,
  maxAge: number | 'session',
  ip: string | undefined,
): IssuedSignature | undefined {
  const options = { ...attributes(ctx, settings, maxAge), signed: false };
  ctx.cookies.set(settings.name, id, options);
  const signer = signerOf(ctx.app.keys);
  if (signer === undefined) return undefined;
  const signature = signer.sign(signedText(settings.name, id, ip));
  ctx.cookies.set(`${settings.name}.sig`, signature, options);
  return { id, signature, firstKey: firstKeyOf(ctx) };
}

/** Clears the session cookie (and its signature). */
export function clearCookie(ctx: Context, settings: CookieSettings): void {
  ctx.cookies.set(settings.name, null, attributes(ctx, settings, 'session'));
}

/** Whether the response about to be (or already) sent carries a session cookie with `id`. */
export function carriesCookie(ctx: Context, settings: CookieSettings, id: string): boolean {
  if (!ctx.res.headersSent) return false;
  const header = ctx.res.getHeader('set-cookie');
  const prefix = `${settings.name}=${id};`;
  const values = Array.isArray(header) ? header : [header];
  return values.some((value) => typeof value === 'string' && value.startsWith(prefix));
}

function attributes(ctx: Context, settings: CookieSettings, maxAge: number | 'session') {
  const secure = settings.secure === 'auto' ? ctx.secure : settings.secure;
  if (secure && !ctx.secure) ctx.cookies.secure = true;
  const signed = signerOf(ctx.app.keys) !== undefined;
  return {
    signed,
    secure,
    httpOnly: settings.httpOnly,
    sameSite: settings.sameSite,
    path: settings.path,
    domain: settings.domain,
    maxAge: maxAge === 'session' ? undefined : maxAge,
    overwrite: true,
  };
}
