import { Agent, request, type IncomingHttpHeaders } from 'node:http';
import { absorbSetCookies, cookieHeader } from './cookie-jar.js';

/** A response as {@link KeepAliveBrowser} gives it: status, headers, text, and the body parsed when it is JSON. */
export interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly text: string;
  readonly body: unknown;
}

/**
 * A browser over node:http that keeps its connections open between requests (an `Agent` with
 * `keepAlive`), as real browsers do: unlike supertest (a new connection per request), its requests
 * keep reaching a server after `server.close()`, on the connections it already has, until the server
 * closes them. One cookie jar, updated from every response like {@link Browser}'s. Browsers made with
 * {@link at}/{@link clone} share the agent (its connection pool) unless given another.
 */
export class KeepAliveBrowser {
  readonly base: URL;
  readonly agent: Agent;
  readonly #cookies: Map<string, string>;

  constructor(base: string, agent: Agent, cookies: Map<string, string> = new Map()) {
    this.base = new URL(base);
    this.agent = agent;
    this.#cookies = new Map(cookies);
  }

  /** A keep-alive agent for these browsers; `destroy()` it at the end. */
  static agent(maxSockets = Infinity): Agent {
    return new Agent({ keepAlive: true, maxSockets });
  }

  /** The session cookie's value (the session id), if the jar holds one. */
  get sid(): string | undefined {
    return this.#cookies.get('reprise.sid');
  }

  /** A copy of this jar on the same server and agent. */
  clone(): KeepAliveBrowser {
    return new KeepAliveBrowser(this.base.href, this.agent, this.#cookies);
  }

  /** A copy of this jar talking to another server (a process restarted on another port). */
  at(base: string, agent: Agent = this.agent): KeepAliveBrowser {
    return new KeepAliveBrowser(base, agent, this.#cookies);
  }

  /** GET `path` (through `agent` when given: a writer's own connection, for example). */
  get(path: string, agent?: Agent): Promise<Answer> {
    return this.send('GET', path, agent);
  }

  /** POST `path` (through `agent` when given: a writer's own connection, for example). */
  post(path: string, agent?: Agent): Promise<Answer> {
    return this.send('POST', path, agent);
  }

  /** Sends one request; rejects with the socket's error (its `code`: `ECONNREFUSED`, `ECONNRESET`, ...) when no response came. */
  send(method: string, path: string, agent: Agent = this.agent): Promise<Answer> {
    const headers: Record<string, string> = {};
    const cookie = cookieHeader(this.#cookies);
    if (cookie !== undefined) headers.cookie = cookie;
    return new Promise<Answer>((resolve, reject) => {
      const req = request(new URL(path, this.base), { method, agent, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = text;
          if (/json/.test(res.headers['content-type'] ?? '')) {
            try {
              body = JSON.parse(text);
            } catch {
              body = text;
            }
          }
          const answer: Answer = { status: res.statusCode ?? 0, headers: res.headers, text, body };
          absorbSetCookies(this.#cookies, answer.headers['set-cookie'] ?? []);
          resolve(answer);
        });
      });
      req.on('error', reject);
      req.end();
    });
  }
}

/** The session id an answer's Set-Cookie gives, `''` when it clears the cookie, `undefined` when it does not touch it. */
export function answerSid(answer: Answer): string | undefined {
  for (const header of answer.headers['set-cookie'] ?? []) {
    const match = /^reprise\.sid=([^;]*)/.exec(header);
    if (match) return match[1];
  }
  return undefined;
}
