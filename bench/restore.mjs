// Restores from returning cookies on Redis: N sessions evicted (their snapshots in Redis), then their
// ids resumed through `SessionManager.resume` (what the Koa middleware calls for a returning cookie),
// one at a time and 100 at a time, next to the plainest read of the same snapshot texts from the same
// node-redis client: `GETDEL` plus one `decodeRecord`. Same run, interleaved, medians of the rounds.
//
//   node bench/restore.mjs                 (after `npx tsc -b`: it runs on the built packages)
//   RESTORE_SESSIONS=10000 RESTORE_ROUNDS=3 RESTORE_CHECKPOINT_INTERVAL=0 node bench/restore.mjs
//
// Environment: RESTORE_PROFILE (a directory: CPU profile of the concurrent Reprise phase), RESTORE_SESSIONS (default 10000; 2000 with { quick: true }), RESTORE_ROUNDS (3; 1 quick),
// RESTORE_CONCURRENCY (100), RESTORE_CHECKPOINT_INTERVAL (ms; unset: the default on Redis, 5 s: every
// restore then also hands a checkpoint of the restored session to the write queue, its crash copy,
// and the timing waits for those writes too), REDIS_URL.
// Keys live under a prefix unique to the run, removed after each phase and at the end (also on
// Ctrl-C). Results: bench/results/restore-<run id>.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import os from 'node:os';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createClient } from '@keyv/redis';
import { SessionManager } from '@reprise/core';
import { decodeRecord } from '@reprise/core/adapter-kit';
import { RedisAdapter } from '@reprise/redis';
import { REDIS_URL, cleanRedis, envNumber } from './lib.mjs';

/** What the issue asks: restores at least this share of raw GETDEL + decode, both ways. */
const GOAL = 0.5;

/** A session's data: a user, a counter and a small cart with dates (about 300 bytes encoded). */
function sessionData(i) {
  const at = new Date(1_700_000_000_000 + i * 1000);
  return {
    user: `user-${i}`,
    views: i % 50,
    cart: [
      { sku: `sku-${i % 97}`, qty: 1, added: at },
      { sku: `sku-${(i + 1) % 97}`, qty: 2, added: at },
      { sku: `sku-${(i + 2) % 97}`, qty: 1, added: at },
    ],
    flags: new Set(['beta']),
  };
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

/** Runs `count` tasks, `concurrency` at a time (each worker takes the next index when its task ends). */
async function runPool(count, concurrency, task) {
  let next = 0;
  const worker = async () => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

/** Wall time and CPU of `work`; `ops` per second and CPU µs per op. */
async function measure(ops, work) {
  const cpu = process.cpuUsage();
  const from = process.hrtime.bigint();
  await work();
  const seconds = Number(process.hrtime.bigint() - from) / 1e9;
  const used = process.cpuUsage(cpu);
  return { perSecond: ops / seconds, cpuUs: (used.user + used.system) / ops };
}

/**
 * RESTORE_PROFILE=<dir>: a V8 CPU profile of the last Reprise restore phase at concurrency > 1 only
 * (setup, evictions and the raw reads left out), written to <dir>/restore-<n>.cpuprofile; summarize
 * it with `node bench/summarize-profile.mjs <file> <sessions>` (µs per restore).
 */
async function profiled(work, dir) {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 100 });
  await session.post('Profiler.start');
  try {
    await work();
  } finally {
    const { profile } = await session.post('Profiler.stop');
    mkdirSync(dir, { recursive: true });
    const file = `${dir.replace(/\/$/, '')}/restore-${process.pid}.cpuprofile`;
    writeFileSync(file, JSON.stringify(profile));
    console.log(`profile of the concurrent Reprise restores: ${file}`);
    session.disconnect();
  }
}

/** Resolves once the manager's write queue is empty (checked every turn of the event loop). */
async function writesSettled(manager) {
  await nextTurn();
  while (manager.stats().pendingPersists > 0) await nextTurn();
}

/**
 * @param {{ quick?: boolean }} [options]
 * @returns {Promise<{ name: string, title: string, columns: string[], rows: (string|number)[][],
 *   goals: { goal: string, target: string, measured: string, met: boolean }[], notes: string[] }>}
 */
export async function run({ quick = false } = {}) {
  const config = {
    sessions: envNumber('RESTORE_SESSIONS', quick ? 2_000 : 10_000, { integer: true }),
    rounds: envNumber('RESTORE_ROUNDS', quick ? 1 : 3, { integer: true }),
    concurrency: envNumber('RESTORE_CONCURRENCY', 100, { integer: true }),
    checkpointInterval: process.env.RESTORE_CHECKPOINT_INTERVAL ? Number(process.env.RESTORE_CHECKPOINT_INTERVAL) : undefined,
  };
  const runId = `${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}`;
  const root = `reprise-restore:${runId}:`;
  const client = createClient({ url: REDIS_URL });
  client.on('error', () => {});
  await client.connect();
  const cleanup = () => cleanRedis(root);
  const onSignal = () => void cleanup().finally(() => process.exit(130));
  process.once('SIGINT', onSignal);

  const adapter = new RedisAdapter({ client, prefix: `${root}store:` });
  const manager = new SessionManager({
    adapter,
    maxSessions: config.sessions + 1_000,
    ...(config.checkpointInterval === undefined ? {} : { checkpointInterval: config.checkpointInterval }),
  });
  let errors = 0;
  manager.on('error', () => {
    errors += 1;
  });
  const ids = Array.from({ length: config.sessions }, (_, i) => manager.create(sessionData(i)).id);
  const rawKeys = ids.map((_, i) => `${root}raw:${i}`);

  /** Evicts every session (their snapshots written), and stores a copy of each snapshot's text under a raw key. */
  async function prepare() {
    await Promise.all(ids.map((id) => manager.close(id, 'evicted')));
    await writesSettled(manager);
    const texts = await Promise.all(ids.map((id) => adapter.load(id)));
    if (texts.some((text) => text === undefined)) throw new Error('restore bench: a snapshot was not written');
    for (let first = 0; first < ids.length; first += 1_000) {
      await Promise.all(
        texts
          .slice(first, first + 1_000)
          .map((text, k) => client.set(rawKeys[first + k], text, { expiration: { type: 'PX', value: 600_000 } })),
      );
    }
    return texts[0].length;
  }

  const raw = (i) =>
    client.getDel(rawKeys[i]).then((text) => {
      if (decodeRecord(text).kind !== 'snapshot') throw new Error('restore bench: raw copy is not a snapshot');
    });
  const restore = async (i) => {
    const found = await manager.resume(ids[i]);
    if (found.kind !== 'restored') throw new Error(`restore bench: resume gave ${found.kind}`);
    manager.release(found.session);
  };
  const ways = [
    { id: 'sequential', concurrency: 1 },
    { id: `${config.concurrency} concurrent`, concurrency: config.concurrency },
  ];
  const samples = Object.fromEntries(ways.map((w) => [w.id, { raw: [], reprise: [] }]));
  let snapshotBytes = 0;
  const restoredBefore = manager.stats().restored;
  try {
    for (let round = 0; round < config.rounds; round++) {
      for (const way of ways) {
        snapshotBytes = await prepare();
        // Alternate which goes first, so that neither always runs on a warmer (or busier) machine.
        const order = round % 2 === 0 ? ['raw', 'reprise'] : ['reprise', 'raw'];
        for (const what of order) {
          const task = what === 'raw' ? raw : restore;
          const phase = async () => {
            await runPool(ids.length, way.concurrency, task);
            // The restores' follow-up writes (checkpoints of the restored sessions) are part of their cost.
            if (what === 'reprise') await writesSettled(manager);
          };
          const profileDir = what === 'reprise' && way.concurrency > 1 ? process.env.RESTORE_PROFILE : undefined;
          samples[way.id][what].push(await measure(ids.length, profileDir ? () => profiled(phase, profileDir) : phase));
        }
      }
    }
  } finally {
    await Promise.all(manager.sessions().map((s) => manager.close(s.id, 'closed')));
    await writesSettled(manager);
    await manager.shutdown();
    await adapter.close();
    await cleanup();
    await client.close();
    process.off('SIGINT', onSignal);
  }
  const restored = manager.stats().restored - restoredBefore;
  if (restored !== config.rounds * ways.length * ids.length) throw new Error(`restore bench: ${restored} restores counted`);

  const rows = [];
  const goals = [];
  const figures = {};
  for (const way of ways) {
    const rawPerSecond = median(samples[way.id].raw.map((s) => s.perSecond));
    const reprisePerSecond = median(samples[way.id].reprise.map((s) => s.perSecond));
    const rawCpu = median(samples[way.id].raw.map((s) => s.cpuUs));
    const repriseCpu = median(samples[way.id].reprise.map((s) => s.cpuUs));
    const ratio = reprisePerSecond / rawPerSecond;
    figures[way.id] = { rawPerSecond, reprisePerSecond, rawCpu, repriseCpu, ratio, samples: samples[way.id] };
    rows.push([
      way.id,
      Math.round(rawPerSecond).toLocaleString('en-US'),
      Math.round(reprisePerSecond).toLocaleString('en-US'),
      `${ratio.toFixed(2)}x`,
      rawCpu.toFixed(1),
      repriseCpu.toFixed(1),
      `${(rawCpu / repriseCpu).toFixed(2)}x`,
    ]);
    goals.push({
      goal: `restore, ${way.id}, vs raw GETDEL + decode`,
      target: `>= ${GOAL}x`,
      measured: `${ratio.toFixed(2)}x`,
      met: ratio >= GOAL,
    });
  }
  const checkpoints = config.checkpointInterval ?? manager.getOption('checkpointInterval');
  const result = {
    name: 'restore',
    title: `Restores from returning cookies on Redis (${ids.length.toLocaleString('en-US')} evicted sessions, median of ${config.rounds})`,
    columns: ['way', 'raw GETDEL + decode /s', 'Reprise resume /s', 'ratio', 'raw CPU µs/op', 'Reprise CPU µs/op', 'CPU ratio'],
    rows,
    goals,
    notes: [
      `Each row: ${ids.length} sessions evicted (snapshots of ${snapshotBytes} bytes in Redis), then restored by SessionManager.resume(id) and released, next to GETDEL + decodeRecord of copies of the same texts from the same node-redis client; interleaved, order alternating per round.`,
      checkpoints > 0
        ? `checkpointInterval ${checkpoints} ms (the Redis default): every restore also queues a checkpoint of the restored session (its crash copy); the Reprise timing includes those writes.`
        : 'checkpointInterval 0: no checkpoint after a restore.',
      'CPU µs/op: this process only (the Redis server not included), per restore; the CPU ratio (raw ÷ Reprise) is the steadier figure on a shared machine, the throughput ratio is the goal.',
      `Errors reported during the run: ${errors}.`,
      'Rerun: node bench/restore.mjs (RESTORE_SESSIONS, RESTORE_ROUNDS, RESTORE_CONCURRENCY, RESTORE_CHECKPOINT_INTERVAL).',
    ],
  };
  const dir = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    `${dir}restore-${runId}.json`,
    `${JSON.stringify({ ...result, config, figures, node: process.version, cpus: os.cpus().length }, null, 2)}\n`,
  );
  return result;
}

/** Prints a result as a table with its goals and notes. */
function print({ title, columns, rows, goals, notes }) {
  console.log(`\n${title}\n`);
  const widths = columns.map((c, i) => Math.max(c.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) => cells.map((c, i) => String(c).padStart(widths[i])).join('  ');
  console.log(line(columns));
  for (const row of rows) console.log(line(row));
  console.log('');
  for (const g of goals) console.log(`${g.met ? 'met    ' : 'NOT met'}  ${g.goal}: ${g.measured} (target ${g.target})`);
  for (const n of notes) console.log(`- ${n}`);
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  print(await run({ quick: process.argv.includes('--quick') }));
}
