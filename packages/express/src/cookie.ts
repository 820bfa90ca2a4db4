import { isSessionId } from '@reprise/core/adapter-kit';
import { parseCookie, stringifySetCookie, type SerializeOptions } from 'cookie';
import { sign, unsign } from 'cookie-signature';
import type { Request, Response } from 'express';
import type { CookieSettings } from './options.js';

/** What the request's session cookie says, once checked. */
export interface PresentedCookie {
  /** The session id it carries. */
  readonly id: string;
  /** Signed with an older secret: the cookie should be re-issued with the current one. */
  readonly rotated: boolean;
}

/**
 * Longest session cookie value read, in characters: `s:`, an id (24), a dot and its signature (43)
 * fit well under it. Anything longer is no cookie, without computing an HMAC.
 */
export const MAX_COOKIE_VALUE_LENGTH = 160;

/** express-session's prefix of a signed cookie value. */
const SIGNED_PREFIX = 's:';

/** The secrets that sign the request's cookie: the middleware's own, else cookie-parser's `req.secret`, else none. */
export function secretsFor(request: Request, own: readonly string[] | undefined): readonly string[] | undefined {
  if (own !== undefined) return own;
  const parserSecret = (request as { secret?: unknown }).secret;
  return typeof parserSecret === 'string' && parserSecret !== '' ? [parserSecret] : undefined;
}

/** The cookie value for `id`: `s:<id>.<signature>` (express-session's format) with secrets, else the bare id. */
export function cookieValue(id: string, secrets: readonly string[] | undefined): string {
  const first = secrets?.[0];
  return first === undefined ? id : SIGNED_PREFIX + sign(id, first);
}

/**
 * The request's session id, or `undefined` when its cookie is missing, oversized, malformed, unsigned
 * while secrets are set, or tampered (a signature of another value or secret): all of these are no cookie.
 */
export function readCookie(
  request: Request,
  settings: CookieSettings,
  secrets: readonly string[] | undefined,
): PresentedCookie | undefined {
  const header = request.headers.cookie;
  if (typeof header !== 'string' || header === '') return undefined;
  let raw: string | undefined;
  try {
    raw = parseCookie(header)[settings.name];
  } catch {
    return undefined;
  }
  if (raw === undefined || raw.length > MAX_COOKIE_VALUE_LENGTH) return undefined;
  if (secrets === undefined) return isSessionId(raw) ? { id: raw, rotated: false } : undefined;
  if (!raw.startsWith(SIGNED_PREFIX)) return undefined;
  const signed = raw.slice(SIGNED_PREFIX.length);
  for (const [index, secret] of secrets.entries()) {
    const id = unsign(signed, secret);
    if (id !== false) return isSessionId(id) ? { id, rotated: index > 0 } : undefined;
  }
  return undefined;
}

/**
 * Appends the session cookie to the response's `Set-Cookie` header. `maxAge` in ms or `'session'`;
 * `now` in ms since the epoch. Returns the line sent.
 */
export function writeCookie(
  request: Request,
  response: Response,
  settings: CookieSettings,
  cookie: { id: string; maxAge: number | 'session'; now: number; secrets: readonly string[] | undefined },
): string {
  const options = attributes(request, settings);
  if (cookie.maxAge !== 'session') {
    options.expires = new Date(cookie.now + cookie.maxAge);
    options.maxAge = Math.floor(cookie.maxAge / 1000);
  }
  const line = stringifySetCookie(settings.name, cookieValue(cookie.id, cookie.secrets), options);
  response.append('Set-Cookie', line);
  return line;
}

/** Clears the session cookie (same name, path and domain, so the browser drops it). */
export function clearCookie(request: Request, response: Response, settings: CookieSettings): void {
  const options = { ...attributes(request, settings), expires: new Date(0), maxAge: 0 };
  response.append('Set-Cookie', stringifySetCookie(settings.name, '', options));
}

/** Whether the response went out (headers sent) carrying the `Set-Cookie` `line` ({@link writeCookie}'s). */
export function carriesCookie(response: Response, line: string): boolean {
  if (!response.headersSent) return false;
  const header = response.getHeader('set-cookie');
  return Array.isArray(header) ? header.includes(line) : header === line;
}

function attributes(request: Request, settings: CookieSettings): SerializeOptions {
  const options: SerializeOptions = {
    path: settings.path,
    httpOnly: settings.httpOnly,
    secure: settings.secure === 'auto' ? request.secure : settings.secure,
  };
  if (settings.sameSite !== false) options.sameSite = settings.sameSite;
  if (settings.domain !== undefined) options.domain = settings.domain;
  return options;
}
