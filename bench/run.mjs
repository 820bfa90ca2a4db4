// The benchmark: every variant under both workloads, interleaved, for several rounds; medians.
//
//   npm run bench                    (from the repo root: builds the packages first)
//   BENCH_DURATION=5 BENCH_CONNECTIONS=10 BENCH_ROUNDS=3 node bench/run.mjs
//
// Environment: BENCH_DURATION (s, default 5), BENCH_CONNECTIONS (10), BENCH_ROUNDS (3),
// BENCH_WARMUP (s, 1), BENCH_VISITORS (returning sessions, 100), BENCH_ONLY (comma-separated
// variant ids), BENCH_WORKLOADS (comma-separated: returning,new), BENCH_BASELINE (a built checkout whose
// servers run next to these, ids suffixed '@base'), REDIS_URL.
// On a shared machine: BENCH_QUIET_WAIT (s, default 0) waits before each run until other processes
// use less than BENCH_QUIET cores (default 0.25); BENCH_RETRIES (default 0) reruns a run during which
// they used more, keeping the quietest attempt. Both make a run longer; the defaults do not wait.
// Each server is its own process; this process generates the load. Results: bench/results/.
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { between, cleanRedis, createVisitors, envNumber, getViews, load, sample, startServer, stopServer, waitForQuiet } from './lib.mjs';

const num = (name, fallback) => envNumber(name, fallback);
const config = {
  duration: num('BENCH_DURATION', 5),
  connections: num('BENCH_CONNECTIONS', 10),
  rounds: num('BENCH_ROUNDS', 3),
  warmup: num('BENCH_WARMUP', 1),
  visitors: num('BENCH_VISITORS', 100),
  quiet: num('BENCH_QUIET', 0.25),
  quietWait: Number(process.env.BENCH_QUIET_WAIT || 0),
  retries: Number(process.env.BENCH_RETRIES || 0),
};

const waitForQuietMachine = () => waitForQuiet(config);
const BIG_CAP = '100000';

/** The variants. `cap100` rows keep Reprise's default cap (100): new visitors evict constantly. */
const VARIANTS = [
  { id: 'bare', label: 'bare Koa', file: 'bare.mjs', cookie: false },
  { id: 'koa-session-cookie', label: 'koa-session (cookie)', file: 'koa-session-cookie.mjs', dataInCookie: true },
  { id: 'koa-session-redis', label: 'koa-session (Redis store)', file: 'koa-session-redis.mjs', redis: true },
  { id: 'reprise-memory', label: 'Reprise (memory)', file: 'reprise-memory.mjs', env: { BENCH_MAX_SESSIONS: BIG_CAP } },
  { id: 'reprise-redis', label: 'Reprise (Redis)', file: 'reprise-redis.mjs', redis: true, env: { BENCH_MAX_SESSIONS: BIG_CAP } },
  { id: 'reprise-memory-cap100', label: 'Reprise (memory), default cap 100', file: 'reprise-memory.mjs', workloads: ['new'] },
  { id: 'reprise-redis-cap100', label: 'Reprise (Redis), default cap 100', file: 'reprise-redis.mjs', redis: true, workloads: ['new'] },
  // The same two without checkpoints: what an eviction costs on its own (with them, the uncapped
  // variant also pays the checkpoints of its sessions, which the capped one evicts first).
  {
    id: 'reprise-redis-no-checkpoints',
    label: 'Reprise (Redis), no checkpoints',
    file: 'reprise-redis.mjs',
    redis: true,
    env: { BENCH_MAX_SESSIONS: BIG_CAP, BENCH_CHECKPOINT_INTERVAL: '0' },
    workloads: ['new'],
  },
  {
    id: 'reprise-redis-cap100-no-checkpoints',
    label: 'Reprise (Redis), default cap 100, no checkpoints',
    file: 'reprise-redis.mjs',
    redis: true,
    env: { BENCH_CHECKPOINT_INTERVAL: '0' },
    workloads: ['new'],
  },
  // Diagnostics (see servers/signers.mjs): the same Reprise server with a cheaper cookie signature check.
  {
    id: 'reprise-memory-hmac',
    label: 'diagnostic: Reprise (memory), signer HMAC + timingSafeEqual',
    file: 'reprise-memory.mjs',
    env: { BENCH_MAX_SESSIONS: BIG_CAP, BENCH_SIGNER: 'hmac' },
    workloads: ['returning'],
  },
  {
    id: 'reprise-memory-cached',
    label: 'diagnostic: Reprise (memory), verified signatures cached',
    file: 'reprise-memory.mjs',
    env: { BENCH_MAX_SESSIONS: BIG_CAP, BENCH_SIGNER: 'cached' },
    workloads: ['returning'],
  },
];
const WORKLOADS = (process.env.BENCH_WORKLOADS || 'returning,new').split(',');
const only = process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(',')) : undefined;
// BENCH_BASELINE=<another checkout, built>: each selected Reprise variant also runs from that
// checkout's bench/servers (id suffixed '@base'), interleaved in the same rounds: before/after figures
// of one run on one machine.
const baseline = process.env.BENCH_BASELINE;
const selected = VARIANTS.filter((v) => only === undefined || only.has(v.id) || v.id === 'bare');
const variants = baseline
  ? selected.flatMap((v) =>
      v.id.startsWith('reprise')
        ? [v, { ...v, id: `${v.id}@base`, label: `${v.label} [baseline]`, file: `${baseline.replace(/\/$/, '')}/bench/servers/${v.file}` }]
        : [v],
    )
  : selected;

const runId = `${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}`;
const redisRoot = `reprise-bench:${runId}:`;

let current;
const abort = async () => {
  if (current) current.child.kill('SIGKILL');
  await cleanRedis(redisRoot).catch(() => {});
  process.exit(130);
};
process.once('SIGINT', abort);
process.once('SIGTERM', abort);

/** One measured run, retried (config.retries) while other processes took more than config.quiet cores. */
async function runQuietly(variant, workload, round) {
  let best;
  for (let attempt = 0; attempt <= config.retries; attempt += 1) {
    if (config.quietWait > 0) await waitForQuietMachine();
    const run = await runOnce(variant, workload, round);
    run.attempts = attempt + 1;
    if (best === undefined || run.foreignCores < best.foreignCores) best = run;
    if (!(run.foreignCores > config.quiet)) break;
  }
  best.quiet = !(best.foreignCores > config.quiet);
  return best;
}

/** One measured run of one variant under one workload. */
async function runOnce(variant, workload, round) {
  const prefix = `${redisRoot}${variant.id}:${workload}:${round}:`;
  const server = await startServer(variant.file, { ...variant.env, BENCH_PREFIX: prefix });
  current = server;
  try {
    const cookies =
      workload === 'returning' ? await createVisitors(server.url, config.visitors, { expectCookie: variant.cookie !== false }) : undefined;
    const options = { connections: config.connections, cookies };
    await load(server.url, { ...options, duration: config.warmup });
    const before = await sample(server.child);
    const result = await load(server.url, { ...options, duration: config.duration });
    const after = await sample(server.child);
    const server_ = between(before, after);
    // CPU other processes used meanwhile, in cores (machine busy - server - this process).
    const serverUs = server_.cpuUsPerReq * server_.requests;
    const foreignCores =
      result.machineBusyUs === undefined ? undefined : (result.machineBusyUs - serverUs - result.loadCpuUs) / (result.duration * 1e6);
    // Returning visitors must still be the same sessions: their count went on past the load.
    let check;
    if (workload === 'returning' && variant.cookie !== false) {
      // In cookie mode the data travels in the (unchanged) cookie: 2; with a server-side session, more.
      const views = await getViews(server.url, cookies[0]);
      check = { views, ok: variant.dataInCookie ? views === 2 : views > 2 };
      if (!check.ok) console.warn(`  ! ${variant.id}: the first visitor's count is ${views}: sessions were not kept`);
    }
    if (result.non2xx > 0 || result.errors > 0)
      console.warn(`  ! ${variant.id}/${workload}: ${result.non2xx} non-2xx, ${result.errors} errors`);
    return { variant: variant.id, workload, round, ...result, server: server_, foreignCores, check };
  } finally {
    await stopServer(server.child);
    current = undefined;
    if (variant.redis) await cleanRedis(prefix);
  }
}

const median = (values) => {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

const runs = [];
const started = Date.now();
console.log(
  `Reprise bench: ${config.rounds} rounds x ${config.duration} s, ${config.connections} connections, warm-up ${config.warmup} s, ${config.visitors} returning visitors`,
);
for (let round = 1; round <= config.rounds; round += 1) {
  for (const workload of WORKLOADS) {
    const list = variants.filter((v) => (v.workloads ?? ['returning', 'new']).includes(workload));
    // Interleaved, and each round starts at a different variant, so no variant always runs first.
    const shift = (round - 1) % list.length;
    const ordered = [...list.slice(shift), ...list.slice(0, shift)];
    for (const variant of ordered) {
      const run = await runQuietly(variant, workload, round);
      runs.push(run);
      const c = run.server.counters;
      const extra =
        c.evicted !== undefined
          ? `  created ${c.created} evicted ${c.evicted} checkpoints ${c.checkpoints ?? 0} dropped ${c.dropped} errors ${c.errors}`
          : '';
      console.log(
        `  round ${round} ${workload.padEnd(9)} ${variant.id.padEnd(22)} ${run.rps.toFixed(0).padStart(6)} req/s  p99 ${run.p99.toFixed(2)} ms  ` +
          `server ${run.server.cpuUsPerReq.toFixed(1)} us/req (user ${run.server.userUsPerReq.toFixed(1)}, system ${run.server.systemUsPerReq.toFixed(1)}; ${(run.server.cpuShare * 100).toFixed(0)}% of a core)  ` +
          `load ${(run.loadCpuUs / run.requests).toFixed(1)} us/req  others ${run.foreignCores?.toFixed(2)} cores` +
          `${run.attempts > 1 ? ` (attempt ${run.attempts})` : ''}${extra}`,
      );
    }
  }
}

// Medians per row; ratios to bare Koa are taken per round (same run) and then their median.
const rows = [];
for (const workload of WORKLOADS) {
  for (const variant of variants) {
    if (!(variant.workloads ?? ['returning', 'new']).includes(workload)) continue;
    const mine = runs.filter((r) => r.variant === variant.id && r.workload === workload);
    const ratios = mine.map((r) => {
      const bare = runs.find((b) => b.variant === 'bare' && b.workload === workload && b.round === r.round);
      return { rps: r.rps / bare.rps, cpu: r.server.cpuUsPerReq / bare.server.cpuUsPerReq };
    });
    const counters = (key) => median(mine.map((r) => r.server.counters[key]));
    rows.push({
      variant: variant.id,
      label: variant.label,
      workload,
      rps: median(mine.map((r) => r.rps)),
      p99: median(mine.map((r) => r.p99)),
      cpuUsPerReq: median(mine.map((r) => r.server.cpuUsPerReq)),
      userUsPerReq: median(mine.map((r) => r.server.userUsPerReq)),
      systemUsPerReq: median(mine.map((r) => r.server.systemUsPerReq)),
      cpuShare: median(mine.map((r) => r.server.cpuShare)),
      loadUsPerReq: median(mine.map((r) => r.loadCpuUs / r.requests)),
      rpsRatio: median(ratios.map((x) => x.rps)),
      cpuRatio: median(ratios.map((x) => x.cpu)),
      rssMb: median(mine.map((r) => r.server.rssMb)),
      foreignCores: median(mine.map((r) => r.foreignCores)),
      quietRuns: mine.filter((r) => r.quiet).length,
      runs: mine.length,
      evicted: counters('evicted'),
      created: counters('created'),
      dropped: counters('dropped'),
      errors: counters('errors'),
    });
  }
}

const fmt = (value, digits) => (Number.isFinite(value) ? value.toFixed(digits) : '—');
const notes = (row) => {
  const parts = [`${row.quietRuns}/${row.runs} quiet`];
  if (row.evicted === undefined || Number.isNaN(row.evicted)) return parts.join('; ');
  if (row.workload === 'new') parts.push(`${fmt(row.evicted, 0)} evicted of ${fmt(row.created, 0)} created`);
  if (row.dropped > 0) parts.push(`${fmt(row.dropped, 0)} snapshots dropped by MemoryAdapter (maxEntries 10,000)`);
  if (row.errors > 0) parts.push(`${fmt(row.errors, 0)} errors`);
  return parts.join('; ');
};
const table = [
  '| variant | workload | req/s | p99 ms | server CPU µs/req | req/s vs bare | CPU vs bare | notes (medians per run) |',
  '| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |',
  ...rows.map(
    (r) =>
      `| ${r.label} | ${r.workload} | ${fmt(r.rps, 0)} | ${fmt(r.p99, 2)} | ${fmt(r.cpuUsPerReq, 1)} | ${fmt(r.rpsRatio, 2)} | ${fmt(r.cpuRatio, 2)} | ${notes(r)} |`,
  ),
].join('\n');

const elapsed = (Date.now() - started) / 1000;
const foreign = median(runs.map((r) => r.foreignCores));
const foreignMax = Math.max(...runs.map((r) => r.foreignCores ?? 0));
const machine = {
  node: process.version,
  platform: `${os.type()} ${os.release()} ${os.arch()}`,
  cpus: os.cpus().length,
  cpuModel: os.cpus()[0]?.model,
  memoryGb: Math.round(os.totalmem() / 2 ** 30),
};
const resultsDir = fileURLToPath(new URL('./results/', import.meta.url));
mkdirSync(resultsDir, { recursive: true });
const file = `${resultsDir}bench-${runId}.json`;
writeFileSync(
  file,
  JSON.stringify(
    { runId, config, machine, elapsedSeconds: elapsed, foreignCores: { median: foreign, max: foreignMax }, rows, runs, table },
    null,
    2,
  ),
);

console.log(`\n${table}\n`);
console.log(`${machine.cpus} CPUs (${machine.cpuModel}), Node ${machine.node}; ${elapsed.toFixed(0)} s in all; results: ${file}`);
const quietCount = runs.filter((r) => r.quiet).length;
console.log(
  `CPU taken by other processes during the runs: median ${fmt(foreign, 2)} cores, max ${fmt(foreignMax, 2)}; ` +
    `${quietCount}/${runs.length} runs quiet (others < ${config.quiet} cores)` +
    (quietCount < runs.length ? '  <- the machine was not quiet: figures are inflated and noisy' : ''),
);
const left = await cleanRedis(redisRoot);
if (left > 0) console.log(`removed ${left} leftover Redis keys under ${redisRoot}`);
