// Several instances: Reprise on Redis with a RedisCoordinator, 3 processes behind the shop example's
// proxy, round-robin (non-sticky) and sticky, next to koa-session with its Redis store behind the
// same proxy, in the same run; one instance through the same proxy (with and without a coordinator);
// and the cost of one hand-over (two instances talked to directly, alternately).
//
//   npm run cluster -w @reprise/bench          (after `npx tsc -b` at the root: the proxy is examples/shop/dist/proxy.js)
//   BENCH_DURATION=5 BENCH_CONNECTIONS=10 BENCH_ROUNDS=3 node bench/cluster.mjs
//
// Environment: BENCH_DURATION (s, default 5), BENCH_CONNECTIONS (10), BENCH_ROUNDS (3), BENCH_WARMUP
// (s, 5), BENCH_VISITORS (returning sessions, 100; not a multiple of the instance count, or
// round-robin would send each visitor to the same instance every time), BENCH_HANDOVERS (timed
// hand-overs per round, 300), BENCH_ONLY (comma-separated variant ids; `handover` for the hand-over
// measurement), REDIS_URL. On a shared machine (as http.mjs): BENCH_QUIET_WAIT (s, default 0) waits
// before each run until other processes use less than BENCH_QUIET cores (0.25); BENCH_RETRIES (0)
// reruns a run during which they used more, keeping the quietest attempt.
//
// Every process is its own: the servers (servers/*.mjs, the IPC protocol of servers/harness.mjs),
// the proxy (servers/proxy.mjs) and this one (autocannon). They share the machine's cores with Redis.
// Results: bench/results/cluster-<run id>.json.
import http from 'node:http';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { createClient } from '@keyv/redis';
import {
  REDIS_URL,
  between,
  cleanRedis,
  createVisitors,
  envNumber,
  getViews,
  load,
  machineBusyUs,
  sample,
  startServer,
  stopServer,
  waitForQuiet,
} from './lib.mjs';

const num = (name, fallback) => envNumber(name, fallback);
const config = {
  duration: num('BENCH_DURATION', 5),
  connections: num('BENCH_CONNECTIONS', 10),
  rounds: num('BENCH_ROUNDS', 3),
  // Longer than http.mjs's 1 s: three processes share what one gets there, so each needs longer to
  // reach its optimized code (with 1 s, the 3-instance rows measured the JIT as much as the code).
  warmup: num('BENCH_WARMUP', 5),
  visitors: num('BENCH_VISITORS', 100),
  handovers: num('BENCH_HANDOVERS', 300),
  quiet: num('BENCH_QUIET', 0.25),
  quietWait: Number(process.env.BENCH_QUIET_WAIT || 0),
  retries: Number(process.env.BENCH_RETRIES || 0),
};

const waitForQuietMachine = () => waitForQuiet(config);
const BIG_CAP = '100000';
const COORDINATED = { BENCH_COORDINATOR: '1', BENCH_MAX_SESSIONS: BIG_CAP };

/** The variants: `instances` server processes of `file` behind the proxy in `mode`. */
const VARIANTS = [
  {
    id: 'reprise-rr',
    label: 'Reprise (Redis + RedisCoordinator), 3 instances, round-robin',
    file: 'reprise-redis.mjs',
    instances: 3,
    mode: 'round-robin',
    env: COORDINATED,
  },
  {
    id: 'reprise-sticky',
    label: 'Reprise (Redis + RedisCoordinator), 3 instances, sticky',
    file: 'reprise-redis.mjs',
    instances: 3,
    mode: 'sticky',
    env: COORDINATED,
  },
  // The sticky row without a coordinator: what the coordinator costs on the sticky path, at the same process count.
  {
    id: 'reprise-sticky-nocoord',
    label: 'Reprise (Redis), 3 instances, sticky, no coordinator',
    file: 'reprise-redis.mjs',
    instances: 3,
    mode: 'sticky',
    env: { BENCH_MAX_SESSIONS: BIG_CAP },
  },
  {
    id: 'koa-session-rr',
    label: 'koa-session (Redis store), 3 instances, round-robin',
    file: 'koa-session-redis.mjs',
    instances: 3,
    mode: 'round-robin',
    cookie: 'koa.sess',
  },
  {
    id: 'koa-session-sticky',
    label: 'koa-session (Redis store), 3 instances, sticky',
    file: 'koa-session-redis.mjs',
    instances: 3,
    mode: 'sticky',
    cookie: 'koa.sess',
  },
  {
    id: 'reprise-1',
    label: 'Reprise (Redis), 1 instance, no coordinator',
    file: 'reprise-redis.mjs',
    instances: 1,
    mode: 'round-robin',
    env: { BENCH_MAX_SESSIONS: BIG_CAP },
  },
  {
    id: 'reprise-1-coord',
    label: 'Reprise (Redis + RedisCoordinator), 1 instance',
    file: 'reprise-redis.mjs',
    instances: 1,
    mode: 'round-robin',
    env: COORDINATED,
  },
  {
    id: 'koa-session-1',
    label: 'koa-session (Redis store), 1 instance',
    file: 'koa-session-redis.mjs',
    instances: 1,
    mode: 'round-robin',
    cookie: 'koa.sess',
  },
];
const only = process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(',')) : undefined;
const variants = VARIANTS.filter((v) => only === undefined || only.has(v.id));
const measureHandovers = only === undefined || only.has('handover');

const runId = `${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}`;
const redisRoot = `reprise-bench-cluster:${runId}:`;

/** Every child process running now (killed on Ctrl-C). */
const running = new Set();
const abort = async () => {
  for (const child of running) child.kill('SIGKILL');
  await cleanRedis(redisRoot).catch(() => {});
  process.exit(130);
};
process.once('SIGINT', abort);
process.once('SIGTERM', abort);

async function start(file, env) {
  const server = await startServer(file, env);
  running.add(server.child);
  return server;
}
async function stop(server) {
  await stopServer(server.child);
  running.delete(server.child);
}

/** Redis's own CPU so far (µs): INFO cpu. Redis is shared with whatever else runs on it. */
let redis;
async function redisCpuUs() {
  if (redis === undefined) {
    redis = createClient({ url: REDIS_URL });
    redis.on('error', () => {});
    await redis.connect();
  }
  const info = await redis.info('cpu');
  const field = (name) => Number(new RegExp(`^${name}:([0-9.]+)`, 'm').exec(info)?.[1] ?? NaN);
  return (field('used_cpu_user') + field('used_cpu_sys')) * 1e6;
}

/** `measure()` retried (config.retries) while other processes took more than config.quiet cores; the quietest attempt. */
async function quietly(measure) {
  let best;
  for (let attempt = 0; attempt <= config.retries; attempt += 1) {
    if (config.quietWait > 0) await waitForQuietMachine();
    const run = await measure();
    run.attempts = attempt + 1;
    if (best === undefined || run.foreignCores < best.foreignCores) best = run;
    if (!(run.foreignCores > config.quiet)) break;
  }
  best.quiet = !(best.foreignCores > config.quiet);
  return best;
}

/** One measured run of one variant. */
async function runOnce(variant, round) {
  const prefix = `${redisRoot}${variant.id}:${round}:`;
  const servers = [];
  let proxy;
  try {
    servers.push(
      ...(await Promise.all(
        Array.from({ length: variant.instances }, (_, i) =>
          start(variant.file, { ...variant.env, BENCH_PREFIX: prefix, BENCH_INSTANCE_ID: `bench-${i + 1}` }),
        ),
      )),
    );
    proxy = await start('proxy.mjs', {
      BENCH_BACKENDS: JSON.stringify(servers.map((s) => s.port)),
      BENCH_PROXY_MODE: variant.mode,
      BENCH_PROXY_COOKIE: variant.cookie ?? 'reprise.sid',
    });
    const cookies = await createVisitors(proxy.url, config.visitors);
    const options = { connections: config.connections, cookies };
    await load(proxy.url, { ...options, duration: config.warmup });
    const before = await Promise.all([...servers, proxy].map((s) => sample(s.child)));
    const redisBefore = await redisCpuUs();
    const result = await load(proxy.url, { ...options, duration: config.duration });
    const redisAfter = await redisCpuUs();
    const after = await Promise.all([...servers, proxy].map((s) => sample(s.child)));
    const each = servers.map((_, i) => between(before[i], after[i]));
    const proxyFigures = between(before.at(-1), after.at(-1));
    const requests = each.reduce((sum, e) => sum + e.requests, 0);
    const serverUs = each.reduce((sum, e) => sum + e.cpuUsPerReq * e.requests, 0);
    const proxyUs = proxyFigures.cpuShare * (after.at(-1).hrtime - before.at(-1).hrtime);
    const redisUs = redisAfter - redisBefore;
    const counters = {};
    for (const e of each)
      for (const [key, value] of Object.entries(e.counters)) if (typeof value === 'number') counters[key] = (counters[key] ?? 0) + value;
    // CPU of other processes meanwhile, in cores (machine busy - servers - proxy - Redis - this process).
    const foreignCores =
      result.machineBusyUs === undefined
        ? undefined
        : (result.machineBusyUs - serverUs - proxyUs - redisUs - result.loadCpuUs) / (result.duration * 1e6);
    // The returning visitors are still the same sessions: the first one's count went on.
    const views = await getViews(proxy.url, cookies[0]);
    if (!(views > 2)) console.warn(`  ! ${variant.id}: the first visitor's count is ${views}: sessions were not kept`);
    if (result.non2xx > 0 || result.errors > 0) console.warn(`  ! ${variant.id}: ${result.non2xx} non-2xx, ${result.errors} errors`);
    return {
      variant: variant.id,
      round,
      ...result,
      serverRequests: requests,
      serverUsPerReq: serverUs / requests,
      proxyUsPerReq: proxyUs / requests,
      redisUsPerReq: redisUs / requests,
      perInstance: each.map((e) => ({ requests: e.requests, cpuShare: e.cpuShare })),
      handoverRatio: counters.handoversIn === undefined ? undefined : counters.handoversIn / requests,
      counters,
      foreignCores,
      views,
    };
  } finally {
    await Promise.all([...servers, ...(proxy ? [proxy] : [])].map(stop));
    await cleanRedis(prefix);
  }
}

/** One GET / on 127.0.0.1:port with `cookie`, over a keep-alive agent: status, Set-Cookie, ms. */
function get(agent, port, cookie) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const req = http.request({ host: '127.0.0.1', port, path: '/', agent, headers: cookie ? { cookie } : {} }, (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('end', () => {
        const ms = Number(process.hrtime.bigint() - t0) / 1e6;
        resolve({ status: res.statusCode, setCookie: res.headers['set-cookie'] ?? [], body: Buffer.concat(chunks).toString(), ms });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * The cost of one hand-over: two coordinated instances A and B on one prefix, one session, requests
 * sent one at a time straight to the instances (no proxy), alternately B, A, B, ...: each request
 * finds the session live on the other instance and has it handed over. Next to it, requests for the
 * same session on the instance that has it (no hand-over).
 */
async function handoverRound(round) {
  const prefix = `${redisRoot}handover:${round}:`;
  const env = { ...COORDINATED, BENCH_PREFIX: prefix };
  const [a, b] = await Promise.all([
    start('reprise-redis.mjs', { ...env, BENCH_INSTANCE_ID: 'bench-a' }),
    start('reprise-redis.mjs', { ...env, BENCH_INSTANCE_ID: 'bench-b' }),
  ]);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const created = await get(agent, a.port);
    const cookie = created.setCookie.map((line) => line.split(';', 1)[0]).join('; ');
    const same = [];
    const moved = [];
    let bad = 0;
    // Warm-up: both instances' paths, then the measured requests.
    for (let i = 0; i < 50; i += 1) await get(agent, i % 2 ? a.port : b.port, cookie);
    const sameBefore = await Promise.all([sample(a.child), sample(b.child)]);
    for (let i = 0; i < config.handovers; i += 1) {
      const r = await get(agent, a.port, cookie); // A has it (the warm-up ended on A): no hand-over
      if (r.status !== 200) bad += 1;
      same.push(r.ms);
    }
    const before = await Promise.all([sample(a.child), sample(b.child)]);
    const busyBefore = machineBusyUs();
    const ownBefore = process.cpuUsage();
    const cpuOf = (x, y) => y.reduce((sum, s, i) => sum + (s.cpu.user + s.cpu.system - x[i].cpu.user - x[i].cpu.system), 0);
    const sameUs = cpuOf(sameBefore, before) / config.handovers;
    let views = JSON.parse((await get(agent, a.port, cookie)).body).views;
    for (let i = 0; i < config.handovers; i += 1) {
      const r = await get(agent, i % 2 ? a.port : b.port, cookie);
      if (r.status !== 200 || JSON.parse(r.body).views !== views + 1) bad += 1;
      else views += 1;
      moved.push(r.ms);
    }
    const after = await Promise.all([sample(a.child), sample(b.child)]);
    const own = process.cpuUsage(ownBefore);
    const busy = busyBefore === undefined ? undefined : machineBusyUs() - busyBefore;
    const handoversIn = after.reduce((sum, s, i) => sum + (s.extra.handoversIn - before[i].extra.handoversIn), 0);
    const cpuUs = cpuOf(before, after);
    const wallUs = after[0].hrtime - before[0].hrtime;
    // Redis's CPU is not subtracted here: it counts as "others" (a few µs per command).
    const foreignCores = busy === undefined ? undefined : (busy - cpuUs - own.user - own.system) / wallUs;
    return {
      round,
      foreignCores,
      same: summary(same),
      moved: summary(moved),
      handoversIn,
      requests: config.handovers,
      bad,
      serverUsPerHandover: cpuUs / config.handovers,
      serverUsPerSameRequest: sameUs,
    };
  } finally {
    agent.destroy();
    await Promise.all([stop(a), stop(b)]);
    await cleanRedis(prefix);
  }
}

function summary(values) {
  const sorted = [...values].sort((x, y) => x - y);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
  return {
    n: sorted.length,
    p50: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    max: sorted.at(-1),
    mean: sorted.reduce((s, v) => s + v, 0) / sorted.length,
  };
}

const median = (values) => {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const fmt = (value, digits) => (Number.isFinite(value) ? value.toFixed(digits) : '—');

if (config.visitors % 3 === 0)
  console.warn(
    `! BENCH_VISITORS=${config.visitors} is a multiple of 3: round-robin would send each visitor to the same instance every time`,
  );
const started = Date.now();
console.log(
  `Reprise cluster bench: ${config.rounds} rounds x ${config.duration} s, ${config.connections} connections, warm-up ${config.warmup} s, ` +
    `${config.visitors} returning visitors, ${config.handovers} timed hand-overs per round; ${os.cpus().length} CPUs shared by every server, the proxy, Redis and autocannon`,
);
const runs = [];
const handovers = [];
for (let round = 1; round <= config.rounds; round += 1) {
  // Interleaved, and each round starts at a different variant, so that no variant always runs first.
  const shift = (round - 1) % Math.max(1, variants.length);
  for (const variant of [...variants.slice(shift), ...variants.slice(0, shift)]) {
    const run = await quietly(() => runOnce(variant, round));
    runs.push(run);
    const c = run.counters;
    console.log(
      `  round ${round} ${variant.id.padEnd(19)} ${run.rps.toFixed(0).padStart(6)} req/s  p50 ${run.p50.toFixed(2)} p99 ${run.p99.toFixed(2)} ms  ` +
        `servers ${run.serverUsPerReq.toFixed(1)} us/req  proxy ${run.proxyUsPerReq.toFixed(1)}  redis ${run.redisUsPerReq.toFixed(1)}  load ${(run.loadCpuUs / run.requests).toFixed(1)}  ` +
        `others ${fmt(run.foreignCores, 2)} cores${run.attempts > 1 ? ` (attempt ${run.attempts})` : ''}  non-2xx ${run.non2xx}` +
        (run.handoverRatio === undefined
          ? ''
          : `  hand-overs ${(run.handoverRatio * 100).toFixed(1)}% of requests, takeovers ${c.takeovers}, leases lost ${c.leasesLost}, errors ${c.errors}`),
    );
  }
  if (measureHandovers) {
    const h = await quietly(() => handoverRound(round));
    handovers.push(h);
    console.log(
      `  round ${round} hand-over: p50 ${h.moved.p50.toFixed(2)} p99 ${h.moved.p99.toFixed(2)} ms (no hand-over: p50 ${h.same.p50.toFixed(2)} p99 ${h.same.p99.toFixed(2)} ms); ` +
        `${h.handoversIn} hand-overs counted for ${h.requests} requests, ${h.bad} bad; servers ${h.serverUsPerHandover.toFixed(0)} us CPU per hand-over (${h.serverUsPerSameRequest.toFixed(0)} without); others ${fmt(h.foreignCores, 2)} cores${h.attempts > 1 ? ` (attempt ${h.attempts})` : ''}`,
    );
  }
}
await redis?.close().catch(() => {});

const rows = variants.map((variant) => {
  const mine = runs.filter((r) => r.variant === variant.id);
  return {
    variant: variant.id,
    label: variant.label,
    rps: median(mine.map((r) => r.rps)),
    p50: median(mine.map((r) => r.p50)),
    p99: median(mine.map((r) => r.p99)),
    serverUsPerReq: median(mine.map((r) => r.serverUsPerReq)),
    proxyUsPerReq: median(mine.map((r) => r.proxyUsPerReq)),
    redisUsPerReq: median(mine.map((r) => r.redisUsPerReq)),
    handoverRatio: median(mine.map((r) => r.handoverRatio)),
    non2xx: mine.reduce((s, r) => s + r.non2xx + r.errors, 0),
    foreignCores: median(mine.map((r) => r.foreignCores)),
    quietRuns: mine.filter((r) => !(r.foreignCores > config.quiet)).length,
    runs: mine.length,
  };
});
const table = [
  '| variant | req/s | p50 ms | p99 ms | servers' +
    "'" +
    ' CPU µs/req (sum) | proxy µs/req | Redis µs/req | hand-overs per request | non-2xx | other processes (cores) | quiet runs |',
  '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ...rows.map(
    (r) =>
      `| ${r.label} | ${fmt(r.rps, 0)} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} | ${fmt(r.serverUsPerReq, 1)} | ${fmt(r.proxyUsPerReq, 1)} | ${fmt(r.redisUsPerReq, 1)} | ` +
      `${Number.isFinite(r.handoverRatio) ? `${(r.handoverRatio * 100).toFixed(1)} %` : '—'} | ${r.non2xx} | ${fmt(r.foreignCores, 2)} | ${r.quietRuns}/${r.runs} |`,
  ),
].join('\n');
let handoverTable = '';
if (handovers.length > 0) {
  const m = (pick) => median(handovers.map(pick));
  handoverTable = [
    '| request (sequential, one session, straight to an instance) | p50 ms | p90 ms | p99 ms | max ms | servers' +
      "'" +
      ' CPU µs per request | samples |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    `| with a hand-over (the session is live on the other instance) | ${fmt(
      m((h) => h.moved.p50),
      2,
    )} | ${fmt(
      m((h) => h.moved.p90),
      2,
    )} | ${fmt(
      m((h) => h.moved.p99),
      2,
    )} | ${fmt(Math.max(...handovers.map((h) => h.moved.max)), 2)} | ${fmt(
      m((h) => h.serverUsPerHandover),
      0,
    )} | ${handovers.length} x ${config.handovers} |`,
    `| without (the session is live on this instance) | ${fmt(
      m((h) => h.same.p50),
      2,
    )} | ${fmt(
      m((h) => h.same.p90),
      2,
    )} | ${fmt(
      m((h) => h.same.p99),
      2,
    )} | ${fmt(Math.max(...handovers.map((h) => h.same.max)), 2)} | ${fmt(
      m((h) => h.serverUsPerSameRequest),
      0,
    )} | ${handovers.length} x ${config.handovers} |`,
  ].join('\n');
}

const elapsed = (Date.now() - started) / 1000;
const machine = {
  node: process.version,
  platform: `${os.type()} ${os.release()} ${os.arch()}`,
  cpus: os.cpus().length,
  cpuModel: os.cpus()[0]?.model,
  memoryGb: Math.round(os.totalmem() / 2 ** 30),
};
const resultsDir = fileURLToPath(new URL('./results/', import.meta.url));
mkdirSync(resultsDir, { recursive: true });
const file = `${resultsDir}cluster-${runId}.json`;
writeFileSync(
  file,
  JSON.stringify({ runId, config, machine, elapsedSeconds: elapsed, rows, runs, handovers, table, handoverTable }, null, 2),
);

if (rows.length > 0)
  console.log(
    `\nMedians of ${config.rounds} rounds (req/s and latency through the proxy, returning visitors; CPU per request served):\n\n${table}\n`,
  );
if (handoverTable) console.log(`The cost of one hand-over (medians of the rounds' percentiles; max over all):\n\n${handoverTable}\n`);
console.log(`${machine.cpus} CPUs (${machine.cpuModel}), Node ${machine.node}; ${elapsed.toFixed(0)} s in all; results: ${file}`);
console.log(
  `Every server process, the proxy, Redis and autocannon share these ${machine.cpus} cores: req/s is what the machine gives all of them together, ` +
    `not what 3 instances would give on 3 machines. CPU per request is the comparable figure. Other processes took a median ${fmt(median(runs.map((r) => r.foreignCores)), 2)} cores during the runs ` +
    `(${runs.filter((r) => !(r.foreignCores > config.quiet)).length}/${runs.length} runs quiet: under ${config.quiet}).`,
);
const left = await cleanRedis(redisRoot);
if (left > 0) console.log(`removed ${left} leftover Redis keys under ${redisRoot}`);
