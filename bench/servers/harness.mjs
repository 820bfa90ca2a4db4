// Shared plumbing of the benchmark servers. Each server is its own process (forked by ../http.mjs):
// it listens on 127.0.0.1, port 0, prints its port, and answers the runner over IPC:
//   { type: 'sample' } -> { type: 'sample', cpu: process.cpuUsage(), requests, hrtime, extra }
//   { type: 'stop' }   -> closes its server and clients, then exits.
// CPU is sampled inside the server, so the load generator's CPU never counts, and the sampling
// itself is not an HTTP request (nothing to exclude from the measurement).
import http from 'node:http';
import Koa from 'koa';
import { cachedSigner, hmacSigner } from './signers.mjs';

export const KEYS = ['bench-key-current', 'bench-key-older'];

/**
 * The Koa app of every variant: signed cookies on (app.keys), no logging, no error printing.
 * BENCH_SIGNER=hmac|cached (diagnostic rows only) replaces Keygrip, see signers.mjs.
 */
export function newApp() {
  const app = new Koa();
  const signer = process.env.BENCH_SIGNER;
  app.keys = signer === 'hmac' ? hmacSigner(KEYS) : signer === 'cached' ? cachedSigner(KEYS) : KEYS;
  app.silent = true;
  return app;
}

/**
 * The handler of the session variants: it reads and increments `ctx.session.views`. A request
 * without a cookie therefore writes once (the new-visitor workload: every request creates a session);
 * a returning cookie finds its session and increments it.
 */
export async function countViews(ctx) {
  const views = (ctx.session.views ?? 0) + 1;
  ctx.session.views = views;
  ctx.body = { views };
}

/**
 * Starts `app` on 127.0.0.1:0 and wires the IPC protocol.
 * @param {object} hooks
 * @param {() => object} [hooks.extra] variant-specific figures added to each sample (evictions, ...)
 * @param {() => Promise<void>} [hooks.close] releases the variant's clients before exit
 */
export function serve(app, { extra = () => ({}), close = async () => {} } = {}) {
  let requests = 0;
  const server = http.createServer(app.callback());
  server.keepAliveTimeout = 60_000;
  server.on('request', () => {
    requests += 1;
  });
  server.listen(0, '127.0.0.1', () => {
    const { port } = server.address();
    console.log(JSON.stringify({ port }));
    process.send?.({ type: 'ready', port });
  });
  process.on('message', async (message) => {
    if (message?.type === 'sample') {
      const mem = process.memoryUsage();
      process.send({
        type: 'sample',
        cpu: process.cpuUsage(),
        requests,
        hrtime: Number(process.hrtime.bigint()) / 1e3,
        rss: mem.rss,
        heapUsed: mem.heapUsed,
        extra: extra(),
      });
    } else if (message?.type === 'stop') {
      server.closeAllConnections?.();
      server.close();
      try {
        await close();
      } finally {
        process.exit(0);
      }
    }
  });
  // Orphaned (runner gone): exit rather than linger.
  process.on('disconnect', () => process.exit(0));
  return server;
}

/** The Redis URL of the shared server (never stopped by the benchmark). */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** The key prefix the runner gave this server (unique per run, removed by the runner afterwards). */
export function prefixFromEnv() {
  const prefix = process.env.BENCH_PREFIX;
  if (!prefix) throw new Error('BENCH_PREFIX must be set (the runner sets a unique one per server)');
  return prefix;
}
