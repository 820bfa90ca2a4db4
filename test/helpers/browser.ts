import type { Server } from 'node:http';
import { expect } from 'chai';
import request from 'supertest';
import type { Response } from 'supertest';
import { absorbSetCookies, cookieHeader } from './cookie-jar.js';

type Method = 'get' | 'post' | 'delete';

/**
 * A minimal browser over supertest: one cookie jar, updated from every response (a cookie set
 * with an empty value or an expiry in the past is removed, as browsers do).
 */
export class Browser {
  /** A listening server, or the base URL of one (another process). */
  readonly #server: Server | string;
  readonly #cookies: Map<string, string>;

  constructor(server: Server | string, cookies: Map<string, string> = new Map()) {
    this.#server = server;
    this.#cookies = new Map(cookies);
  }

  /** The session cookie's value (the session id), if the jar holds one. */
  get sid(): string | undefined {
    return this.#cookies.get('reprise.sid');
  }

  /** A second browser holding a copy of this jar (to replay an old cookie later). */
  clone(): Browser {
    return new Browser(this.#server, this.#cookies);
  }

  /** A browser holding a copy of this jar, talking to another server (a process restarted on another port). */
  at(server: Server | string): Browser {
    return new Browser(server, this.#cookies);
  }

  /** GET `path`; asserts the response status when `status` is given. */
  get(path: string, status?: number): Promise<Response> {
    return this.send('get', path, status);
  }

  /** POST `path`; asserts the response status when `status` is given. */
  post(path: string, status?: number): Promise<Response> {
    return this.send('post', path, status);
  }

  /** DELETE `path`; asserts the response status when `status` is given. */
  delete(path: string, status?: number): Promise<Response> {
    return this.send('delete', path, status);
  }

  async send(method: Method, path: string, status?: number): Promise<Response> {
    const test = request(this.#server)[method](path);
    const cookie = cookieHeader(this.#cookies);
    if (cookie !== undefined) test.set('Cookie', cookie);
    const response = await test;
    absorbSetCookies(this.#cookies, setCookies(response));
    if (status !== undefined) expect(response.status, `${method.toUpperCase()} ${path}: ${response.text}`).to.equal(status);
    return response;
  }
}

/** The Set-Cookie headers of a response. */
export function setCookies(response: Response): string[] {
  const header = response.headers['set-cookie'] as string[] | string | undefined;
  if (header === undefined) return [];
  return Array.isArray(header) ? header : [header];
}

/** The session id a response's Set-Cookie gives, `''` when it clears the cookie, `undefined` when it does not touch it. */
export function issuedSid(response: Response): string | undefined {
  for (const header of setCookies(response)) {
    const match = /^reprise\.sid=([^;]*)/.exec(header);
    if (match) return match[1];
  }
  return undefined;
}

/**
 * Asserts that `response` leaves the visitor's session cookie on `sid`: either no Set-Cookie for it,
 * or one that sets the same id again (a refreshed expiry). Never a cookie of another id, never a
 * clearing one: a session keeps its id for life, through restores too.
 */
export function expectSameCookie(response: Response, sid: string, what = 'the response'): void {
  const issued = issuedSid(response);
  if (issued !== undefined) expect(issued, `${what} sets no cookie of another id and does not clear it`).to.equal(sid);
}

/**
 * Asserts that `response` is the answer to a write whose session cannot be had (store unreadable,
 * server shutting down): 503, `Retry-After: <retryAfter>`, and no session Set-Cookie at all (the
 * visitor's cookie is kept: its context is still where it was).
 */
export function expectUnavailable(response: Response, retryAfter: number, what = 'the write'): void {
  expect(response.status, `${what}: status (${response.text})`).to.equal(503);
  expect(response.headers['retry-after'], `${what}: Retry-After`).to.equal(String(retryAfter));
  expect(
    setCookies(response).filter((header) => header.startsWith('reprise.sid')),
    `${what}: no session Set-Cookie`,
  ).to.deep.equal([]);
}
