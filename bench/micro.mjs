// In-process micro-benchmark of the session paths: the Koa apps of servers/ driven without
// sockets or HTTP parsing (IncomingMessage/ServerResponse objects built in this process), so only the
// JavaScript of Koa + the session middleware is timed. It is far less sensitive than the HTTP
// benchmark to other processes on the machine, and tells where the per-request CPU goes.
//   node bench/micro.mjs [returning|new]   (env: MICRO_ITERATIONS per batch, default 20000 (returning)
//                                           or 10000 (new); MICRO_ROUNDS, default 7; REDIS_URL)
// The new-visitor workload also runs Reprise on Redis (checkpoints off, so that what is measured is the
// request and, at the cap, the eviction's write), and "bare Koa + one snapshot write": bare Koa whose
// handler also encodes a snapshot as Reprise does and hands it to the adapter's saveManyIfNewer (memory,
// Redis): the cost a flood request at the cap may add to a new visitor (issue 7). In that workload each request is
// followed by one turn of the event loop (setImmediate), for every variant, so that Redis replies are
// read as they come, as in a server; that turn is part of every row, bare Koa's included.
// A response here is never sent, so the 'close' Reprise waits for to settle a new session's cookie
// is emitted by hand after each request.
// The rows "…, snapshotKeys" are the same apps with encryption at rest on (AES-256-GCM, see
// docs/encryption.md): at the cap each eviction's snapshot is sealed before the adapter gets it. The
// rows "…, 4 KB data" write a 4 KB string into the session too, so the evicted snapshot is ~4 KB.
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import http from 'node:http';
import session from 'koa-session';
import { session as reprise } from '@reprise/koa';
import { MemoryAdapter } from '@reprise/memory';
import { RedisAdapter } from '@reprise/redis';
import { encodeSnapshot, newSessionId } from '@reprise/core/adapter-kit';
import { KEYS, countViews, newApp } from './servers/harness.mjs';
import { REDIS_URL, cleanRedis } from './lib.mjs';
import { cachedSigner, hmacSigner } from './servers/signers.mjs';

const WORKLOAD = process.argv[2] ?? 'returning';
if (WORKLOAD !== 'returning' && WORKLOAD !== 'new') throw new Error('workload: returning or new');
const ITERATIONS = Number(process.env.MICRO_ITERATIONS || (WORKLOAD === 'new' ? 10_000 : 20_000));
const ROUNDS = Number(process.env.MICRO_ROUNDS || 7);
const VISITORS = 100;

function request(cookie) {
  const socket = new EventEmitter();
  socket.encrypted = false;
  socket.remoteAddress = '127.0.0.1';
  const req = new http.IncomingMessage(socket);
  req.method = 'GET';
  req.url = '/';
  req.headers = cookie ? { host: '127.0.0.1', cookie } : { host: '127.0.0.1' };
  const res = new http.ServerResponse(req);
  return { req, res };
}

function cookieOf(res) {
  const header = res.getHeader('set-cookie') ?? [];
  return (Array.isArray(header) ? header : [header]).map((line) => String(line).split(';', 1)[0]).join('; ');
}

const redisPrefix = `reprise-micro:${process.pid}:`;
const redisAdapters = [];
/** A RedisAdapter under this run's prefix (removed at the end). */
function redisAdapter() {
  const adapter = new RedisAdapter({ url: REDIS_URL, prefix: `${redisPrefix}${redisAdapters.length}:` });
  redisAdapters.push(adapter);
  return adapter;
}

/**
 * Bare Koa whose handler also writes one snapshot the way an eviction does: encoded by the core's
 * codec, handed to the adapter's saveManyIfNewer as a batch of one (not awaited, as a close does not
 * hold the request). What a flood request at the cap may add to a new visitor.
 */
function snapshotWriter(adapter) {
  const app = newApp();
  let version = 0;
  app.use(async (ctx) => {
    ctx.body = { views: 1 };
    const id = newSessionId();
    const now = Date.now();
    const { text } = encodeSnapshot(
      { version: 1, key: id, sessionId: id, createdAt: now, closedAt: now, reason: 'evicted', data: { views: 1 } },
      1024 * 1024,
    );
    void adapter.saveManyIfNewer([{ key: id, value: text, version: (version += 1), ttlMs: 86_400_000 }]);
  });
  return app;
}

/** Two keys, as an application rotating them holds them: the first seals. */
const SNAPSHOT_KEYS = [
  { id: 'k2', key: randomBytes(32) },
  { id: 'k1', key: randomBytes(32) },
];
/** 4,000 characters of mixed text, written once into each session by the "4 KB data" rows. */
const PROFILE = Array.from({ length: 100 }, (_, i) => `item ${i}: ${randomBytes(12).toString('base64')} `)
  .join('')
  .padEnd(4_000, '.')
  .slice(0, 4_000);

/** countViews, plus a 4 KB string in the session. */
async function countViewsWithProfile(ctx) {
  ctx.session.profile = PROFILE;
  await countViews(ctx);
}

/** Reprise at the default cap (every new visitor evicts one) on `adapter`, with or without keys and 4 KB of data. */
function evicting(adapter, { keys = false, profile = false } = {}) {
  const app = newApp();
  app.use(track(reprise({ adapter, checkpointInterval: 0, ...(keys ? { snapshotKeys: SNAPSHOT_KEYS } : {}) })));
  app.use(profile ? countViewsWithProfile : countViews);
  return app;
}

const managers = new Map();
let building;
/** Remembers the Reprise manager of the app being built, to check afterwards that no session was created. */
function track(middleware) {
  managers.set(building, middleware.manager);
  return middleware;
}

const variants = {
  'bare Koa': () => {
    const app = newApp();
    app.use(async (ctx) => {
      ctx.body = { views: 1 };
    });
    return app;
  },
  'koa-session (cookie)': () => {
    const app = newApp();
    app.use(session({ key: 'koa.sess', maxAge: 7 * 24 * 3_600_000, sameSite: 'lax' }, app));
    app.use(countViews);
    return app;
  },
  'Reprise (memory)': () => {
    const app = newApp();
    app.use(track(reprise({ adapter: new MemoryAdapter(), maxSessions: 1_000_000 })));
    app.use(countViews);
    return app;
  },
  'Reprise (memory), default cap 100': () => {
    const app = newApp();
    app.use(track(reprise({ adapter: new MemoryAdapter({ onDrop: () => {} }) })));
    app.use(countViews);
    return app;
  },
  'Reprise (Redis)': () => {
    const app = newApp();
    app.use(track(reprise({ adapter: redisAdapter(), maxSessions: 1_000_000, checkpointInterval: 0 })));
    app.use(countViews);
    return app;
  },
  'Reprise (Redis), default cap 100': () => {
    const app = newApp();
    app.use(track(reprise({ adapter: redisAdapter(), checkpointInterval: 0 })));
    app.use(countViews);
    return app;
  },
  'Reprise (memory), default cap 100, snapshotKeys': () => evicting(new MemoryAdapter({ onDrop: () => {} }), { keys: true }),
  'Reprise (Redis), default cap 100, snapshotKeys': () => evicting(redisAdapter(), { keys: true }),
  'Reprise (memory), default cap 100, 4 KB data': () => evicting(new MemoryAdapter({ onDrop: () => {} }), { profile: true }),
  'Reprise (memory), default cap 100, 4 KB data, snapshotKeys': () =>
    evicting(new MemoryAdapter({ onDrop: () => {} }), { profile: true, keys: true }),
  'Reprise (Redis), default cap 100, 4 KB data': () => evicting(redisAdapter(), { profile: true }),
  'Reprise (Redis), default cap 100, 4 KB data, snapshotKeys': () => evicting(redisAdapter(), { profile: true, keys: true }),
  'bare Koa + one snapshot write (memory)': () => snapshotWriter(new MemoryAdapter({ onDrop: () => {} })),
  'bare Koa + one snapshot write (Redis)': () => snapshotWriter(redisAdapter()),
  'Reprise, signer HMAC + timingSafeEqual': () => {
    const app = newApp();
    app.keys = hmacSigner(KEYS);
    app.use(track(reprise({ adapter: new MemoryAdapter(), maxSessions: 1_000_000 })));
    app.use(countViews);
    return app;
  },
  'Reprise, verified signatures cached': () => {
    const app = newApp();
    app.keys = cachedSigner(KEYS);
    app.use(track(reprise({ adapter: new MemoryAdapter(), maxSessions: 1_000_000 })));
    app.use(countViews);
    return app;
  },
};

// MICRO_ONLY='name[|name]' keeps bare Koa and the variants named exactly so (for a profile of one of them:
//   node --cpu-prof --cpu-prof-dir=bench/results/profiles bench/micro.mjs new, then summarize-profile.mjs).
const only = process.env.MICRO_ONLY ? new Set(process.env.MICRO_ONLY.split('|')) : undefined;
const wanted = (name) =>
  (WORKLOAD === 'new' ? !name.startsWith('Reprise, ') : !name.includes('cap 100') && !name.includes('Redis')) &&
  (only === undefined || name === 'bare Koa' || only.has(name));
const prepared = [];
for (const [name, build] of Object.entries(variants).filter(([name]) => wanted(name))) {
  building = name;
  const app = build();
  const handle = app.callback();
  const cookies = [];
  for (let i = 0; i < VISITORS; i += 1) {
    const { req, res } = request();
    await handle(req, res);
    res.emit('close');
    cookies.push(cookieOf(res) || `reprise.sid=${'A'.repeat(24)}; reprise.sid.sig=${'x'.repeat(27)}`);
  }
  prepared.push({ name, handle, cookies: WORKLOAD === 'new' ? [undefined] : cookies, samples: [] });
}

async function batch(v, n) {
  let next = 0;
  const start = process.cpuUsage();
  for (let i = 0; i < n; i += 1) {
    const { req, res } = request(v.cookies[next]);
    next = next + 1 === v.cookies.length ? 0 : next + 1;
    await v.handle(req, res);
    res.emit('close');
    if (res.statusCode !== 200) throw new Error(`${v.name}: status ${res.statusCode}`);
    if (WORKLOAD === 'new') await new Promise((resolve) => setImmediate(resolve));
  }
  const cpu = process.cpuUsage(start);
  return (cpu.user + cpu.system) / n;
}

for (const v of prepared) await batch(v, ITERATIONS); // warm-up
for (let round = 0; round < ROUNDS; round += 1) {
  for (const v of prepared) v.samples.push(await batch(v, ITERATIONS));
}
for (const [name, manager] of managers) {
  if (WORKLOAD === 'new' || !wanted(name)) continue;
  const { created } = manager.stats();
  if (created !== VISITORS)
    throw new Error(`${name}: ${created} sessions created, expected ${VISITORS}: returning cookies were not recognised`);
}
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const bare = median(prepared[0].samples);
console.log(
  `${WORKLOAD === 'new' ? 'New' : 'Returning'} visitors, in-process (no sockets, no HTTP parsing): CPU µs per request, median of ${ROUNDS} batches of ${ITERATIONS}`,
);
console.log('| variant | µs/req | over bare Koa |\n| --- | ---: | ---: |');
for (const v of prepared) {
  const m = median(v.samples);
  console.log(`| ${v.name} | ${m.toFixed(2)} | +${(m - bare).toFixed(2)} |`);
}
console.log(`(${VISITORS + ITERATIONS * (ROUNDS + 1)} requests per variant)`);
for (const manager of managers.values()) await manager.shutdown();
for (const adapter of redisAdapters) await adapter.close();
if (redisAdapters.length > 0) await cleanRedis(redisPrefix);
