// Close bursts: N idle sessions reach their idle deadline at the same moment (a deploy, a spike
// eight hours earlier), and the event loop's delay is measured while they close, next to lru-cache's
// autopurge (ttl) expiring N entries at once in the same run.
//
//   npx tsc -b && node bench/expiry-burst.mjs
//   BURST_SESSIONS=100000 BURST_STORES=memory,redis BURST_ROUNDS=3 node bench/expiry-burst.mjs
//
// How: a manager whose clock is frozen while the N sessions are created (each `{ cart: [...] }`),
// so they share one deadline (idleTimeout 10 s after the freeze; the watch starts 20 ms before it). From that deadline until every
// close has finished (`stats().closed.expired === N` and no close running), the event loop's delay is
// recorded with `monitorEventLoopDelay({ resolution: 1 })`, and a probe standing for the requests
// served meanwhile runs every 2 ms (`setInterval`), touching a live session as a request would: its
// lateness (the gap since its previous run, beyond 2 ms) is the wait such a request saw. Stores: `memory` (the default MemoryAdapter, 10,000
// entries: most snapshots are dropped, as with the defaults), `redis` (RedisAdapter under a prefix of
// the run, removed afterwards). Process warnings are counted. Results: bench/results/burst-<run id>.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { LRUCache } from 'lru-cache';
import { SessionManager } from '@reprise/core';
import { MemoryAdapter } from '@reprise/memory';
import { RedisAdapter } from '@reprise/redis';
import { REDIS_URL, cleanRedis } from './lib.mjs';

const num = (name, fallback) => {
  const value = process.env[name] ? Number(process.env[name]) : fallback;
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer`);
  return value;
};
const config = {
  sessions: num('BURST_SESSIONS', 100_000),
  rounds: num('BURST_ROUNDS', 3),
  stores: (process.env.BURST_STORES || 'memory,redis').split(','),
};
/** Idle timeout: long enough for the N sessions to be created before their shared deadline. */
const IDLE_MS = 10_000;
const PROBE_EVERY_MS = 2;
const runId = `${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}`;
const redisRoot = `reprise-burst:${runId}:`;

// With the defaults (no 'error' listener), what the manager and the adapter report goes to process warnings.
let warnings = 0;
const warningCodes = new Map();
process.on('warning', (warning) => {
  warnings += 1;
  warningCodes.set(warning.code ?? warning.name, (warningCodes.get(warning.code ?? warning.name) ?? 0) + 1);
});

/**
 * Loop delay and probe lateness from `start()` until `stop()`. The probe runs on a `setInterval` of
 * PROBE_EVERY_MS: each run's lateness is its gap since the previous run beyond the interval, which is
 * what a request arriving then waited.
 */
function watchLoop() {
  const delay = monitorEventLoopDelay({ resolution: 1 });
  const lateness = [];
  let interval;
  return {
    start(work) {
      delay.enable();
      let last = performance.now();
      interval = setInterval(() => {
        const now = performance.now();
        lateness.push(Math.max(0, now - last - PROBE_EVERY_MS));
        last = now;
        work();
      }, PROBE_EVERY_MS);
    },
    stop() {
      clearInterval(interval);
      delay.disable();
      lateness.sort((a, b) => a - b);
      const pick = (q) => lateness[Math.min(lateness.length - 1, Math.floor(q * lateness.length))] ?? NaN;
      return {
        loopP99Ms: delay.percentile(99) / 1e6,
        loopMaxMs: delay.max / 1e6,
        probes: lateness.length,
        probeP99Ms: pick(0.99),
        probeMaxMs: lateness.at(-1) ?? NaN,
      };
    },
  };
}

async function repriseRun(storeId, round) {
  const prefix = `${redisRoot}${round}:`;
  const adapter = storeId === 'redis' ? new RedisAdapter({ url: REDIS_URL, prefix }) : new MemoryAdapter();
  let frozen = Date.now();
  // Checkpoints off: the closes alone are measured (a checkpoint pass of the N sessions would otherwise run in the middle).
  const manager = new SessionManager({
    adapter,
    maxSessions: config.sessions + 10,
    idleTimeout: IDLE_MS,
    checkpointInterval: 0,
    now: () => frozen ?? Date.now(),
  });
  for (let i = 0; i < config.sessions; i += 1) manager.create({ cart: [`sku-${i}`, 'apple'] });
  const visitor = manager.create({ cart: ['kept'] });
  const deadline = frozen + IDLE_MS;
  frozen = undefined; // the clock runs again: every session is due at `deadline`
  if (Date.now() > deadline - 200) throw new Error(`creating ${config.sessions} sessions took past the deadline: raise IDLE_MS`);
  const warningsBefore = warnings;
  warningCodes.clear();
  await sleep(Math.max(0, deadline - Date.now() - 20));
  const watch = watchLoop();
  const started = performance.now();
  // The probe is a request on the one visitor who keeps coming back: held and released, as a request does.
  watch.start(() => {
    const session = manager.acquire(visitor.id);
    if (session !== undefined) manager.release(session);
  });
  while (manager.stats().closed.expired < config.sessions || manager.stats().closing > 0) await sleep(1);
  const seconds = (performance.now() - started) / 1000;
  // A few more turns before the watch stops: a probe held up by the burst's last block records it.
  await sleep(20);
  const watched = watch.stop();
  await manager.shutdown();
  const stats = manager.stats();
  await adapter.close?.();
  if (storeId === 'redis') await cleanRedis(prefix);
  return {
    store: storeId,
    round,
    seconds,
    closesPerSecond: config.sessions / seconds,
    ...watched,
    persisted: stats.persisted,
    persistGivenUp: stats.persistGivenUp,
    warnings: warnings - warningsBefore,
    warningCodes: Object.fromEntries(warningCodes),
  };
}

/** lru-cache with ttl and ttlAutopurge: N entries set at one moment, expiring together. */
async function lruRun(round) {
  const cache = new LRUCache({ max: config.sessions + 10, ttl: IDLE_MS, ttlAutopurge: true });
  for (let i = 0; i < config.sessions; i += 1) cache.set(`k${i}`, { cart: [`sku-${i}`, 'apple'] });
  await sleep(IDLE_MS - 50);
  const watch = watchLoop();
  const started = performance.now();
  watch.start(() => cache.get('k0'));
  // Bounded: autopurge has been seen to leave entries behind now and then (their timers fired a little
  // early); the purge then is counted as incomplete rather than waited for.
  while (cache.size > 0 && performance.now() - started < 10_000) await sleep(1);
  const left = cache.size;
  const seconds = (performance.now() - started) / 1000;
  await sleep(20);
  return { store: 'lru-cache', round, seconds, closesPerSecond: (config.sessions - left) / seconds, left, ...watch.stop() };
}

const median = (values) => {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : sorted[sorted.length >> 1];
};
const fmt = (value, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : '—');

const results = [];
console.log(
  `Close burst: ${config.sessions} sessions expiring at once, ${config.rounds} rounds, stores ${config.stores.join(', ')} and lru-cache`,
);
for (let round = 1; round <= config.rounds; round += 1) {
  for (const storeId of config.stores) {
    const r = await repriseRun(storeId, round);
    results.push(r);
    console.log(
      `  round ${round} reprise-${storeId.padEnd(6)} ${fmt(r.seconds, 2)} s (${Math.round(r.closesPerSecond)} closes/s), loop p99/max ${fmt(r.loopP99Ms)}/${fmt(r.loopMaxMs)} ms, probe p99/max ${fmt(r.probeP99Ms)}/${fmt(r.probeMaxMs)} ms (${r.probes} probes), persisted ${r.persisted}, given up ${r.persistGivenUp}, warnings ${r.warnings} ${JSON.stringify(r.warningCodes)}`,
    );
  }
  const l = await lruRun(round);
  results.push(l);
  console.log(
    `  round ${round} lru-cache       ${fmt(l.seconds, 2)} s${l.left > 0 ? ` (${l.left} entries never purged)` : ''}, loop p99/max ${fmt(l.loopP99Ms)}/${fmt(l.loopMaxMs)} ms, probe p99/max ${fmt(l.probeP99Ms)}/${fmt(l.probeMaxMs)} ms`,
  );
}

const lines = [
  '| what | N | closes/s | loop delay p99 / max ms | probe lateness p99 / max ms | process warnings |',
  '| --- | ---: | ---: | ---: | ---: | ---: |',
];
for (const what of [...config.stores.map((s) => s), 'lru-cache']) {
  const runs = results.filter((r) => r.store === what);
  const m = (key, d = 1) => fmt(median(runs.map((r) => r[key])), d);
  const label =
    what === 'lru-cache' ? 'lru-cache, ttlAutopurge' : `Reprise, ${what === 'memory' ? 'MemoryAdapter (defaults)' : 'RedisAdapter'}`;
  lines.push(
    `| ${label} | ${config.sessions} | ${m('closesPerSecond', 0)} | ${m('loopP99Ms')} / ${m('loopMaxMs')} | ${m('probeP99Ms')} / ${m('probeMaxMs')} | ${what === 'lru-cache' ? '—' : m('warnings', 0)} |`,
  );
}
const table = lines.join('\n');
const machine = { node: process.version, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model };
const dir = fileURLToPath(new URL('./results/', import.meta.url));
mkdirSync(dir, { recursive: true });
const file = `${dir}burst-${runId}.json`;
writeFileSync(file, JSON.stringify({ runId, config, machine, results, table }, null, 2));
console.log(`\n${table}\n\n${new Date().toISOString()}; ${machine.cpus} CPUs, Node ${machine.node}\nresults: ${file}`);
await cleanRedis(redisRoot);
