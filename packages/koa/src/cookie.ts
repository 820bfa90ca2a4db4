import { isSessionId } from '@reprise/core';
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
}

/**
 * The request's session cookie, or `undefined` when it is missing, malformed, oversized, unsigned
 * while `app.keys` is set, or tampered: all of these are no cookie. The signature is checked with
 * the cookies module's Keygrip (constant-time), so a cookie signed with an older key is accepted and
 * flagged for re-issue.
 */
export function readCookie(ctx: Context, settings: CookieSettings): PresentedCookie | undefined {
  const id = ctx.cookies.get(settings.name, { signed: false });
  if (!isSessionId(id)) return undefined;
  const keys = (ctx.cookies as unknown as { keys?: Signer }).keys;
  if (keys === undefined) return { id, rotated: false };
  const signature = ctx.cookies.get(`${settings.name}.sig`, { signed: false });
  if (signature === undefined || signature.length > 128) return undefined;
  const index = keys.index(`${settings.name}=${id}`, signature);
  return index < 0 ? undefined : { id, rotated: index > 0 };
}

/** Sets the session cookie (signed whenever `app.keys` is set). `maxAge` in ms or `'session'`. */
export function writeCookie(ctx: Context, settings: CookieSettings, id: string, maxAge: number | 'session'): void {
  ctx.cookies.set(settings.name, id, attributes(ctx, settings, maxAge));
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
  const signed = (ctx.cookies as unknown as { keys?: Signer }).keys !== undefined;
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
