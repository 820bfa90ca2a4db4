import { Signer } from '@fastify/cookie';
import type { SerializeOptions } from '@fastify/cookie';
import { isSessionId } from '@reprise/core/adapter-kit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { CookieSettings } from './options.js';

/** Signs and checks cookie values, as `@fastify/cookie`'s `Signer` does (`value.signature`). */
export interface CookieSigner {
  sign(value: string): string;
  unsign(value: string): { valid: boolean; renew: boolean; value: string | null };
}

/** What the request's session cookie says, once checked. */
export interface PresentedCookie {
  /** The session id it carries. */
  readonly id: string;
  /** Signed with an older secret: the cookie should be re-issued with the current one. */
  readonly rotated: boolean;
}

/**
 * Longest session cookie value read, in characters: an id (24) and its signature (43 for SHA-256,
 * 86 for SHA-512) fit well under it. Anything longer is no cookie, without computing an HMAC.
 */
export const MAX_COOKIE_VALUE_LENGTH = 160;

/**
 * The signer of the session cookie: the plugin's own `secrets` when given, else `@fastify/cookie`'s
 * (when it was registered with a `secret`), else none (unsigned cookies).
 */
export function signerFor(app: FastifyInstance, secrets: readonly string[] | undefined): CookieSigner | undefined {
  if (secrets !== undefined) return new Signer([...secrets], 'sha256');
  if (!app.hasDecorator('signCookie') || !app.hasDecorator('unsignCookie')) return undefined;
  return { sign: (value) => app.signCookie(value), unsign: (value) => app.unsignCookie(value) };
}

/**
 * The request's session id, or `undefined` when its cookie is missing, oversized, malformed, unsigned
 * while a signer is set, or tampered (a signature of another value or secret): all of these are no cookie.
 */
export function readCookie(
  app: FastifyInstance,
  request: FastifyRequest,
  settings: CookieSettings,
  signer: CookieSigner | undefined,
): PresentedCookie | undefined {
  const raw = cookiesOf(app, request)[settings.name];
  if (typeof raw !== 'string' || raw.length > MAX_COOKIE_VALUE_LENGTH) return undefined;
  if (signer === undefined) return isSessionId(raw) ? { id: raw, rotated: false } : undefined;
  let checked: ReturnType<CookieSigner['unsign']>;
  try {
    checked = signer.unsign(raw);
  } catch {
    return undefined;
  }
  if (!checked.valid || !isSessionId(checked.value)) return undefined;
  return { id: checked.value, rotated: checked.renew };
}

/**
 * The request's cookies: those `@fastify/cookie` parsed, or (when its parsing hook runs later than
 * `onRequest`, or is off) the `Cookie` header parsed now.
 */
function cookiesOf(app: FastifyInstance, request: FastifyRequest): Record<string, string | undefined> {
  const parsed = (request as { cookies?: Record<string, string | undefined> | null }).cookies;
  if (parsed !== null && parsed !== undefined) return parsed;
  const header = request.headers.cookie;
  return typeof header === 'string' && header !== '' ? app.parseCookie(header) : {};
}

/**
 * Sets the session cookie (signed when a signer is set). `maxAge` in ms or `'session'`; `now` in ms
 * since the epoch. Returns the `Set-Cookie` line sent. The line is serialized by
 * `@fastify/cookie` and added to the reply's headers here, not through `reply.setCookie()`, whose
 * writer (its own `onSend` hook) may have run already, and whose `parseOptions` could re-sign the value.
 */
export function writeCookie(
  app: FastifyInstance,
  request: FastifyRequest,
  reply: FastifyReply,
  settings: CookieSettings,
  cookie: { id: string; maxAge: number | 'session'; now: number; signer: CookieSigner | undefined },
): string {
  const value = cookie.signer === undefined ? cookie.id : cookie.signer.sign(cookie.id);
  const options = attributes(request, settings);
  if (cookie.maxAge !== 'session') {
    options.expires = new Date(cookie.now + cookie.maxAge);
    options.maxAge = Math.floor(cookie.maxAge / 1000);
  }
  const line = app.serializeCookie(settings.name, value, options);
  reply.header('set-cookie', line);
  return line;
}

/** Clears the session cookie (same name, path and domain, so the browser drops it). */
export function clearCookie(app: FastifyInstance, request: FastifyRequest, reply: FastifyReply, settings: CookieSettings): void {
  const options = { ...attributes(request, settings), expires: new Date(0), maxAge: 0 };
  reply.header('set-cookie', app.serializeCookie(settings.name, '', options));
}

/** Whether the response has gone out (headers sent) carrying the `Set-Cookie` `line` ({@link writeCookie}'s). */
export function carriesCookie(reply: FastifyReply, line: string): boolean {
  if (!reply.raw.headersSent) return false;
  const header = reply.getHeader('set-cookie');
  return Array.isArray(header) ? header.includes(line) : header === line;
}

function attributes(request: FastifyRequest, settings: CookieSettings): SerializeOptions {
  const options: SerializeOptions = {
    path: settings.path,
    httpOnly: settings.httpOnly,
    sameSite: settings.sameSite,
    secure: settings.secure === 'auto' ? request.protocol === 'https' : settings.secure,
  };
  if (settings.domain !== undefined) options.domain = settings.domain;
  return options;
}
