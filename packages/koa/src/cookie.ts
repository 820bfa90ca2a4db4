import { timingSafeEqual } from 'node:crypto';
import { isSessionId } from '@reprise/core/adapter-kit';
import type { Context } from 'koa';
import type { CookieSettings } from './options.js';

/** What the request's session cookie says, once checked. */
export interface PresentedCookie {
  /** The session id it carries. */
  readonly id: string;
  /** Signed with an older key of `app.keys`: the whole cookie should be re-issued. */
  readonly rotated: boolean;
}

interface Signer {
  index(data: string, digest: string): number;
  sign(data: string): string;
}

function signerOf(ctx: Context): Signer | undefined {
  return (ctx.cookies as unknown as { keys?: Signer }).keys;
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

/**
 * The request's session cookie, or `undefined` when it is missing, malformed, oversized, unsigned
 * while `app.keys` is set, or tampered: all of these are no cookie. A signature equal to the one
 * this middleware issued for that live session with the current first key (`issued`) is accepted
 * with one constant-time comparison: it is exactly what the HMAC would compute again. Any other is
 * checked with the cookies module's Keygrip (constant-time), so a cookie signed with an older key
 * is accepted and flagged for re-issue. `ip`: the client IP when `ipBinding` is on (part of what is signed).
 */
export function readCookie(
  ctx: Context,
  settings: CookieSettings,
  ip?: string,
  issued?: (id: string) => IssuedSignature | undefined,
): PresentedCookie | undefined {
  const id = ctx.cookies.get(settings.name, { signed: false });
  if (!isSessionId(id)) return undefined;
  const keys = signerOf(ctx);
  if (keys === undefined) return { id, rotated: false };
  const signature = ctx.cookies.get(`${settings.name}.sig`, { signed: false });
  if (signature === undefined || signature.length > 128) return undefined;
  const known = issued?.(id);
  if (known !== undefined && known.id === id && known.firstKey === firstKeyOf(ctx) && sameText(known.signature, signature)) {
    return { id, rotated: false };
  }
  const index = keys.index(signedText(settings.name, id, ip), signature);
  return index < 0 ? undefined : { id, rotated: index > 0 };
}

function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/**
 * Sets the session cookie, signed whenever `app.keys` is set (both cookies get every attribute).
 * `maxAge` in ms or `'session'`; `ip`: the client IP when `ipBinding` is on. Returns the signature
 * it issued (with the key it was made with), or `undefined` when cookies are not signed.
 */
export function writeCookie(
  ctx: Context,
  settings: CookieSettings,
  id: string,
  maxAge: number | 'session',
  ip?: string,
): IssuedSignature | undefined {
  const options = { ...attributes(ctx, settings, maxAge), signed: false };
  ctx.cookies.set(settings.name, id, options);
  const keys = signerOf(ctx);
  if (keys === undefined) return undefined;
  const signature = keys.sign(signedText(settings.name, id, ip));
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
  const signed = signerOf(ctx) !== undefined;
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
