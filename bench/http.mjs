// The HTTP benchmark: every variant under both workloads, interleaved, for several rounds; medians.
// Part of `npm run bench` (run.mjs); standalone: `node bench/http.mjs`.
//
// Environment: BENCH_DURATION (s, default 5), BENCH_CONNECTIONS (50), BENCH_ROUNDS (3),
// BENCH_WARMUP (s, 1), BENCH_VISITORS (returning sessions, 100), BENCH_ONLY (comma-separated
// variant ids; bare Koa always runs), BENCH_WORKLOADS (comma-separated: returning,new),
// BENCH_DIAGNOSTICS=1 (adds the diagnostic rows), BENCH_BASELINE (a built checkout whose Reprise
// servers run next to these in the same rounds, ids suffixed '@base': before/after figures of one
// run on one machine), REDIS_URL.
// On a shared machine: BENCH_QUIET_WAIT (s, default 0) waits before each run until other processes
// use less than BENCH_QUIET cores (default 0.25); BENCH_RETRIES (default 0) reruns a run during which
// they used more, keeping the quietest attempt. Both make a run longer; the defaults do not wait.
// Each server is its own process; this process generates the load.
import os from 'node:os';
import { pathToFileURL } from 'node:url';
import { between, cleanRedis, createVisitors, envNumber, getViews, load, sample, startServer, stopServer, waitForQuiet } from './lib.mjs';
import { fmt, median, printSuite, saveResult } from './report.mjs';

/** Reprise's cap in the rows without eviction: far above what a run creates. */
const BIG_CAP = '1000000';
/** The cap of the eviction rows: once 1,000 sessions are live, every new visitor evicts one. */
const SMALL_CAP = '1000';

/** The variants. The `cap1000` rows evict on every new visitor. */
export const VARIANTS = [
  { id: 'bare', label: 'bare Koa', file: 'bare.mjs', cookie: false },
  { id: 'koa-session-cookie', label: 'koa-session (cookie)', file: 'koa-session-cookie.mjs', dataInCookie: true },
  { id: 'koa-session-memory', label: 'koa-session (memory store)', file: 'koa-session-memory.mjs' },
  { id: 'koa-session-redis', label: 'koa-session (Redis store)', file: 'koa-session-redis.mjs', redis: true },
  { id: 'reprise-memory', label: 'Reprise (memory)', file: 'reprise-memory.mjs', env: { BENCH_MAX_SESSIONS: BIG_CAP } },
  { id: 'reprise-redis', label: 'Reprise (Redis)', file: 'reprise-redis.mjs', redis: true, env: { BENCH_MAX_SESSIONS: BIG_CAP } },
  {
    id: 'reprise-memory-cap1000',
    label: 'Reprise (memory), cap 1,000: every new visitor evicts',
    file: 'reprise-memory.mjs',
    env: { BENCH_MAX_SESSIONS: SMALL_CAP },
    workloads: ['new'],
  },
  {
    id: 'reprise-redis-cap1000',
    label: 'Reprise (Redis), cap 1,000: every new visitor evicts',
    file: 'reprise-redis.mjs',
    redis: true,
    env: { BENCH_MAX_SESSIONS: SMALL_CAP },
    workloads: ['new'],
  },
];

/** Rows that explain rather than compare (BENCH_DIAGNOSTICS=1): cheaper cookie signers, see servers/signers.mjs. */
const DIAGNOSTICS = [
  {
    id: 'reprise-memory-hmac',
    label: 'diagnostic: Reprise (memory), signer HMAC + timingSafeEqual',
    file: 'reprise-memory.mjs',
    env: { BENCH_MAX_SESSIONS: BIG_CAP, BENCH_SIGNER: 'hmac' },
    workloads: ['returning'],
  },
  {
    id: 'reprise-redis-no-checkpoints',
    label: 'diagnostic: Reprise (Redis), no checkpoints',
    file: 'reprise-redis.mjs',
    redis: true,
    env: { BENCH_MAX_SESSIONS: BIG_CAP, BENCH_CHECKPOINT_INTERVAL: '0' },
    workloads: ['new'],
  },
];

/** `variant`, and for a Reprise variant the same server from the checkout `baseline` (built). */
function withBaseline(variant, baseline) {
  if (!variant.id.startsWith('reprise')) return [variant];
  const file = `${baseline.replace(/\/$/, '')}/bench/servers/${variant.file}`;
  return [variant, { ...variant, id: `${variant.id}@base`, label: `${variant.label} [baseline]`, file }];
}

/** The run's settings from the environment; `quick` shortens every run (a smoke test of the bench). */
export function httpConfig({ quick = false } = {}) {
  const num = (name, fallback) => envNumber(name, fallback);
  return {
    duration: num('BENCH_DURATION', quick ? 1 : 5),
    connections: num('BENCH_CONNECTIONS', 50),
    rounds: num('BENCH_ROUNDS', quick ? 1 : 3),
    warmup: num('BENCH_WARMUP', quick ? 0.5 : 1),
    visitors: num('BENCH_VISITORS', 100),
    quiet: num('BENCH_QUIET', 0.25),
    quietWait: Number(process.env.BENCH_QUIET_WAIT || 0),
    retries: Number(process.env.BENCH_RETRIES || 0),
    workloads: (process.env.BENCH_WORKLOADS || 'returning,new').split(','),
    only: process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(',')) : undefined,
    diagnostics: process.env.BENCH_DIAGNOSTICS === '1',
    baseline: process.env.BENCH_BASELINE || undefined,
  };
}

/** Runs the HTTP benchmark; resolves the suite (module interface of bench/run.mjs) with every run attached. */
export async function run(options = {}) {
  const config = httpConfig(options);
  const selected = [...VARIANTS, ...(config.diagnostics ? DIAGNOSTICS : [])].filter(
    (v) => config.only === undefined || config.only.has(v.id) || v.id === 'bare',
  );
  const variants = config.baseline === undefined ? selected : selected.flatMap((v) => withBaseline(v, config.baseline));
  const runId = `${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}`;
  const redisRoot = `reprise-bench:${runId}:`;
  const state = { current: undefined };
  const abort = async () => {
    state.current?.child.kill('SIGKILL');
    await cleanRedis(redisRoot).catch(() => {});
    process.exit(130);
  };
  process.once('SIGINT', abort);
  process.once('SIGTERM', abort);
  const started = Date.now();
  console.log(
    `HTTP: ${config.rounds} rounds x ${config.duration} s, ${config.connections} connections, warm-up ${config.warmup} s, ${config.visitors} returning visitors`,
  );
  try {
    const runs = await runRounds(config, variants, redisRoot, state);
    const rows = summarize(runs, variants, config.workloads);
    const suite = describe(rows, runs, config, (Date.now() - started) / 1000);
    suite.raw = { config: { ...config, only: config.only && [...config.only] }, rows, runs };
    return suite;
  } finally {
    process.off('SIGINT', abort);
    process.off('SIGTERM', abort);
    const left = await cleanRedis(redisRoot);
    if (left > 0) console.log(`removed ${left} leftover Redis keys under ${redisRoot}`);
  }
}

async function runRounds(config, variants, redisRoot, state) {
  const runs = [];
  for (let round = 1; round <= config.rounds; round += 1) {
    for (const workload of config.workloads) {
      const list = variants.filter((v) => (v.workloads ?? ['returning', 'new']).includes(workload));
      // Interleaved, and each round starts at a different variant, so no variant always runs first.
      const shift = (round - 1) % list.length;
      for (const variant of [...list.slice(shift), ...list.slice(0, shift)]) {
        const one = await runQuietly(config, variant, workload, round, redisRoot, state);
        runs.push(one);
        logRun(one);
      }
    }
  }
  return runs;
}

function logRun(run) {
  const c = run.server.counters;
  const extra =
    c.evicted !== undefined
      ? `  created ${c.created} evicted ${c.evicted} checkpoints ${c.checkpoints ?? 0} dropped ${c.dropped} errors ${c.errors}`
      : '';
  console.log(
    `  round ${run.round} ${run.workload.padEnd(9)} ${run.variant.padEnd(24)} ${run.rps.toFixed(0).padStart(6)} req/s  p99 ${run.p99.toFixed(2)} ms  ` +
      `server ${run.server.cpuUsPerReq.toFixed(1)} us/req (${(run.server.cpuShare * 100).toFixed(0)}% of a core)  ` +
      `others ${run.foreignCores?.toFixed(2)} cores${run.attempts > 1 ? ` (attempt ${run.attempts})` : ''}${extra}`,
  );
}

/** One measured run, retried (config.retries) while other processes took more than config.quiet cores. */
async function runQuietly(config, variant, workload, round, redisRoot, state) {
  let best;
  for (let attempt = 0; attempt <= config.retries; attempt += 1) {
    if (config.quietWait > 0) await waitForQuiet(config);
    const one = await runOnce(config, variant, workload, round, redisRoot, state);
    one.attempts = attempt + 1;
    if (best === undefined || one.foreignCores < best.foreignCores) best = one;
    if (!(one.foreignCores > config.quiet)) break;
  }
  best.quiet = !(best.foreignCores > config.quiet);
  return best;
}

/** One measured run of one variant under one workload. */
async function runOnce(config, variant, workload, round, redisRoot, state) {
  const prefix = `${redisRoot}${variant.id}:${workload}:${round}:`;
  const server = await startServer(variant.file, { ...variant.env, BENCH_PREFIX: prefix });
  state.current = server;
  try {
    const cookies =
      workload === 'returning' ? await createVisitors(server.url, config.visitors, { expectCookie: variant.cookie !== false }) : undefined;
    const options = { connections: config.connections, cookies };
    await load(server.url, { ...options, duration: config.warmup });
    const before = await sample(server.child);
    const result = await load(server.url, { ...options, duration: config.duration });
    const after = await sample(server.child);
    const serverFigures = between(before, after);
    // CPU other processes used meanwhile, in cores (machine busy - server - this process).
    const serverUs = serverFigures.cpuUsPerReq * serverFigures.requests;
    const foreignCores =
      result.machineBusyUs === undefined ? undefined : (result.machineBusyUs - serverUs - result.loadCpuUs) / (result.duration * 1e6);
    const check = workload === 'returning' && variant.cookie !== false ? await checkKept(server.url, cookies[0], variant) : undefined;
    if (result.non2xx > 0 || result.errors > 0)
      console.warn(`  ! ${variant.id}/${workload}: ${result.non2xx} non-2xx, ${result.errors} errors`);
    return { variant: variant.id, workload, round, ...result, server: serverFigures, foreignCores, check };
  } finally {
    await stopServer(server.child);
    state.current = undefined;
    if (variant.redis) await cleanRedis(prefix);
  }
}

/** Returning visitors must still be the same sessions: their count went on past the load. */
async function checkKept(url, cookie, variant) {
  // In cookie mode the data travels in the (unchanged) cookie: 2; with a server-side session, more.
  const views = await getViews(url, cookie);
  const ok = variant.dataInCookie ? views === 2 : views > 2;
  if (!ok) console.warn(`  ! ${variant.id}: the first visitor's count is ${views}: sessions were not kept`);
  return { views, ok };
}

/** Medians per row; ratios to bare Koa (and to koa-session's cookie mode) are taken per round, then their median. */
function summarize(runs, variants, workloads) {
  const rows = [];
  for (const workload of workloads) {
    for (const variant of variants) {
      if (!(variant.workloads ?? ['returning', 'new']).includes(workload)) continue;
      const mine = runs.filter((r) => r.variant === variant.id && r.workload === workload);
      if (mine.length === 0) continue;
      const peer = (id, r) => runs.find((b) => b.variant === id && b.workload === workload && b.round === r.round);
      const ratio = (id, pick) => median(mine.map((r) => (peer(id, r) ? pick(r) / pick(peer(id, r)) : NaN)));
      const counters = (key) => median(mine.map((r) => r.server.counters[key]));
      rows.push({
        variant: variant.id,
        label: variant.label,
        workload,
        rps: median(mine.map((r) => r.rps)),
        p99: median(mine.map((r) => r.p99)),
        cpuUsPerReq: median(mine.map((r) => r.server.cpuUsPerReq)),
        rpsRatio: ratio('bare', (r) => r.rps),
        cpuRatio: ratio('bare', (r) => r.server.cpuUsPerReq),
        rpsVsCookie: ratio('koa-session-cookie', (r) => r.rps),
        cpuVsRedisStore: ratio('koa-session-redis', (r) => r.server.cpuUsPerReq),
        rssMb: median(mine.map((r) => r.server.rssMb)),
        foreignCores: median(mine.map((r) => r.foreignCores)),
        quietRuns: mine.filter((r) => r.quiet).length,
        runs: mine.length,
        evicted: counters('evicted'),
        created: counters('created'),
        dropped: counters('dropped'),
        errors: counters('errors'),
        kept: mine.every((r) => r.check === undefined || r.check.ok),
      });
    }
  }
  return rows;
}

function notes(row) {
  const parts = [`${row.quietRuns}/${row.runs} quiet`];
  if (!row.kept) parts.push('SESSIONS NOT KEPT');
  if (row.evicted === undefined || Number.isNaN(row.evicted)) return parts.join('; ');
  if (row.workload === 'new') parts.push(`${fmt(row.evicted, 0)} evicted of ${fmt(row.created, 0)} created`);
  if (row.dropped > 0) parts.push(`${fmt(row.dropped, 0)} snapshots dropped by MemoryAdapter (maxEntries 10,000)`);
  if (row.errors > 0) parts.push(`${fmt(row.errors, 0)} errors`);
  return parts.join('; ');
}

/** The suite: the table, and the issue's HTTP goals (1, the eviction half of 2, and 3) judged from the same run. */
function describe(rows, runs, config, elapsed) {
  const find = (variant, workload) => rows.find((r) => r.variant === variant && r.workload === workload);
  const goals = [];
  const newVisitor = find('reprise-memory', 'new');
  if (newVisitor && Number.isFinite(newVisitor.rpsVsCookie))
    goals.push({
      goal: '1. new visitor: Reprise (memory) req/s vs koa-session (cookie)',
      target: '>= 1.5x',
      measured: `${fmt(newVisitor.rpsVsCookie, 2)}x`,
      met: newVisitor.rpsVsCookie >= 1.5,
    });
  for (const id of ['reprise-memory-cap1000', 'reprise-redis-cap1000']) {
    const row = find(id, 'new');
    const peer = find('koa-session-redis', 'new');
    if (row && peer)
      goals.push({
        goal: `2. new visitor + eviction: ${row.label.split(',')[0]} CPU/req vs koa-session (Redis store) new visitor`,
        target: '<= 1.00x',
        measured: `${fmt(row.cpuVsRedisStore, 2)}x (${fmt(row.cpuUsPerReq, 1)} vs ${fmt(peer.cpuUsPerReq, 1)} µs)`,
        met: row.cpuVsRedisStore <= 1,
      });
  }
  for (const id of ['reprise-memory', 'reprise-redis']) {
    const row = find(id, 'returning');
    if (row)
      goals.push({
        goal: `3. returning visitor: ${row.label} server CPU/req vs bare Koa`,
        target: '<= 1.10x',
        measured: `${fmt(row.cpuRatio, 2)}x (${fmt(row.cpuUsPerReq, 1)} µs)`,
        met: row.cpuRatio <= 1.1,
      });
  }
  const foreign = median(runs.map((r) => r.foreignCores));
  const quiet = runs.filter((r) => r.quiet).length;
  return {
    name: 'http',
    title: 'HTTP: autocannon over loopback, server CPU per request',
    columns: ['variant', 'workload', 'req/s', 'p99 ms', 'server CPU µs/req', 'req/s vs bare', 'CPU vs bare', 'notes (medians per run)'],
    rows: rows.map((r) => [
      r.label,
      r.workload,
      fmt(r.rps, 0),
      fmt(r.p99, 2),
      fmt(r.cpuUsPerReq, 1),
      fmt(r.rpsRatio, 2),
      fmt(r.cpuRatio, 2),
      notes(r),
    ]),
    goals,
    notes: [
      `${config.rounds} rounds × ${config.duration} s (warm-up ${config.warmup} s), ${config.connections} connections, ${config.visitors} returning visitors; signed cookies everywhere; variants interleaved, each round starting at another; medians, ratios taken within each round.`,
      `Server CPU per request is process.cpuUsage() of the server process over the measured load divided by the requests it served (all its threads, GC included).`,
      `Other processes took a median ${fmt(foreign, 2)} cores during the runs; ${quiet}/${runs.length} runs quiet (< ${config.quiet} cores). ${fmt(elapsed, 0)} s.`,
      `Machine: ${os.cpus().length} CPUs (${os.cpus()[0]?.model}), Node ${process.version}.`,
    ],
  };
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const suite = await run({ quick: process.argv.includes('--quick') });
  printSuite(suite);
  console.log(`results: ${saveResult('http', suite)}`);
}
