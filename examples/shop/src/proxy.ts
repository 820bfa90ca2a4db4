import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** Where the proxy sends requests: one server process. */
export interface Backend {
  readonly host: string;
  readonly port: number;
}

/**
 * How requests are spread over the backends:
 * - `'round-robin'`: each request goes to the next backend, whatever its cookie (a non-sticky load
 *   balancer: every request of a visitor may land on another process);
 * - `'sticky'`: a request with the session cookie goes to the backend its value hashes to (cookie
 *   affinity, as nginx's `hash $cookie_... consistent` does: rendezvous hashing, so a backend added
 *   or removed moves only the visitors it takes or had); one without it goes round-robin.
 */
export type ProxyMode = 'round-robin' | 'sticky';

/** Options of {@link startProxy}. */
export interface ProxyOptions {
  /** The backends, in order. Change them later with {@link RoundRobinProxy.setBackends}. */
  readonly backends: readonly Backend[];
  /** Default `'round-robin'`. */
  readonly mode?: ProxyMode;
  /** The cookie that `'sticky'` hashes. Default `'reprise.sid'` (the `session()` default). */
  readonly cookieName?: string;
  /** Port on 127.0.0.1; default 0 (a free port: read {@link RoundRobinProxy.port}). */
  readonly port?: number;
}

/** A running proxy. */
export interface RoundRobinProxy {
  readonly port: number;
  /** Replaces the backends (a restarted process listens on a new port). */
  setBackends(backends: readonly Backend[]): void;
  /** Stops listening and closes every connection, to clients and to backends. */
  close(): Promise<void>;
}

/** Connection errors that mean "nothing reached that backend": safe to try the next one. */
const NOT_SENT = new Set(['ECONNREFUSED', 'EHOSTUNREACH']);

/**
 * A small HTTP load balancer for the cluster example, the tests and the benchmark: per request (not
 * per connection), keep-alive to the backends, the request and response bodies streamed. A backend
 * that refuses the connection (a killed process) is skipped for that request, as nginx's
 * `proxy_next_upstream error` does. A request that was sent and then lost its backend answers 502:
 * it was never acknowledged, so a client may retry it.
 */
export function startProxy(options: ProxyOptions): Promise<RoundRobinProxy> {
  let backends = [...options.backends];
  const mode = options.mode ?? 'round-robin';
  const cookieName = options.cookieName ?? 'reprise.sid';
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  let next = 0;

  const pick = (req: http.IncomingMessage, attempt: number): Backend | undefined => {
    if (backends.length === 0) return undefined;
    const cookie = mode === 'sticky' ? cookieValue(req.headers.cookie, cookieName) : undefined;
    if (cookie === undefined) return backends[(next++ + attempt) % backends.length];
    return rendezvous(backends, cookie)[attempt];
  };

  const forward = (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer, attempt: number): void => {
    const backend = pick(req, attempt);
    if (backend === undefined || attempt >= backends.length) {
      fail(res, 502, 'no backend answers');
      return;
    }
    const upstream = http.request(
      { host: backend.host, port: backend.port, method: req.method, path: req.url, headers: req.headers, agent },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
        answer.on('error', () => res.destroy());
      },
    );
    upstream.on('error', (error: NodeJS.ErrnoException) => {
      if (NOT_SENT.has(error.code ?? '') && !res.headersSent) return forward(req, res, body, attempt + 1);
      if (!res.headersSent) fail(res, 502, `backend ${backend.port} failed: ${error.code ?? error.message}`);
      else res.destroy();
    });
    upstream.end(body);
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => forward(req, res, Buffer.concat(chunks), 0));
  });
  server.keepAliveTimeout = 60_000;

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      resolve({
        port: (server.address() as AddressInfo).port,
        setBackends: (list) => {
          backends = [...list];
        },
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
            agent.destroy();
          }),
      });
    });
  });
}

function fail(res: http.ServerResponse, status: number, message: string): void {
  res.writeHead(status, { 'content-type': 'text/plain', connection: 'close' });
  res.end(`${message}\n`);
}

/** The value of cookie `name` in a `Cookie` header, or `undefined`. */
function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const at = part.indexOf('=');
    if (at > 0 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim();
  }
  return undefined;
}

/**
 * The backends in the order a cookie prefers them (rendezvous, or highest-random-weight, hashing):
 * each scores hash(cookie, backend), highest first. Replacing one backend moves only its visitors.
 */
function rendezvous(backends: readonly Backend[], cookie: string): Backend[] {
  const scored = backends.map((backend) => ({ backend, score: hash(`${cookie}\u0000${backend.host}:${backend.port}`) }));
  return scored.sort((a, b) => b.score - a.score).map(({ backend }) => backend);
}

/** FNV-1a, 32 bits, with murmur3's final mix (so that strings differing in their last characters score apart). */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
