// Flush at shutdown: how fast `SessionManager.shutdown()` writes the snapshots of N live sessions
// through RedisAdapter and PostgresAdapter, next to what each store takes when the same values are
// written the plainest batched way (pipelined SET on Redis, a multi-row upsert on Postgres), in the
// same run, interleaved.
//
//   npm run flush -w @reprise/bench          (after `npx tsc -b`: it runs on the built packages)
//   FLUSH_SESSIONS=20000 FLUSH_ROUNDS=3 node bench/flush.mjs
//
// FLUSH_MODE=checkpoint times a checkpoint pass instead: N live sessions changed, then the time until
// every one is written as a checkpoint (`checkpointInterval` 1 ms, so the pass starts at once).
//
// Environment: FLUSH_MODE (shutdown | checkpoint), FLUSH_SESSIONS (default 20000), FLUSH_ROUNDS (3), FLUSH_STORES (redis,postgres),
// FLUSH_PIPELINE (SETs per Redis pipeline, 1000), FLUSH_PG_ROWS (rows per upsert statement, 1000:
// faster here than 10000), REDIS_URL (redis://127.0.0.1:6379),
// POSTGRES_URL (postgresql://root@127.0.0.1:5432/test).
// Every key goes under a prefix unique to the run and every table is unique to the run; both are
// removed after each round and at the end, also after Ctrl-C. Results: bench/results/flush-<run id>.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import { createClient } from '@keyv/redis';
import pg from 'pg';
import { SessionManager } from '@reprise/core';
import { RedisAdapter } from '@reprise/redis';
import { PostgresAdapter, createIndexSql, createTableSql, parseTableName } from '@reprise/postgres';
import { REDIS_URL, cleanRedis, envNumber, machineBusyUs } from './lib.mjs';

const POSTGRES_URL = process.env.POSTGRES_URL ?? 'postgresql://root@127.0.0.1:5432/test';
const num = (name, fallback) => envNumber(name, fallback, { integer: true });
const config = {
  sessions: num('FLUSH_SESSIONS', 20_000),
  rounds: num('FLUSH_ROUNDS', 3),
  pipeline: num('FLUSH_PIPELINE', 1000),
  pgRows: num('FLUSH_PG_ROWS', 1000),
  stores: (process.env.FLUSH_STORES || 'redis,postgres').split(','),
  mode: process.env.FLUSH_MODE || 'shutdown',
};
if (!['shutdown', 'checkpoint'].includes(config.mode)) throw new Error(`FLUSH_MODE must be shutdown or checkpoint, got ${config.mode}`);
/** What the issue asks of Reprise's flush, as a share of the store's limit. */
const GOALS = { redis: 0.4, postgres: 0.25 };
const sessionData = () => ({ views: 1, cart: ['apple', 'pear'] });

const runId = `${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}`;
const redisRoot = `reprise-flush:${runId}:`;
const tableRoot = `reprise_flush_${Date.now().toString(36)}_${process.pid}`;

// ---------------------------------------------------------------- measuring

// A full GC before each measurement and after it (outside the timed part): each run then starts
// without the previous one's garbage, and the heap it leaves is told apart from its garbage.
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');
const heapMb = () => process.memoryUsage().heapUsed / 2 ** 20;

/**
 * Runs `work` and measures its wall time, the event loop's delay meanwhile, and the heap: before
 * (after a full GC), right after (garbage included), and retained (after another full GC).
 */
async function timed(work) {
  gc();
  const heapBeforeMb = heapMb();
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const from = process.hrtime.bigint();
  await work();
  const to = process.hrtime.bigint();
  delay.disable();
  const heapAfterMb = heapMb();
  gc();
  return {
    seconds: Number(to - from) / 1e9,
    // The monotonic clock in µs, as in a .cpuprofile: the window to summarise a profile over.
    window: [Number(from / 1000n), Number(to / 1000n)],
    delayP99Ms: delay.count > 0 ? delay.percentile(99) / 1e6 : NaN,
    delayMaxMs: delay.count > 0 ? delay.max / 1e6 : NaN,
    heapBeforeMb,
    heapAfterMb,
    heapRetainedMb: heapMb(),
  };
}

/**
 * The adapter, seen through an object that records every write the core hands it (the encoded
 * snapshots: the bytes the limit then writes) and counts the calls per method, fences included
 * (`takeVersioned` with a version: how the core gives up a write that may still land). Other
 * members are the adapter's own, bound to it (its private fields need the real `this`).
 */
function recording(adapter) {
  const writes = [];
  const calls = { save: 0, saveIfNewer: 0, saveManyIfNewer: 0, saveManyEntries: 0, fences: 0 };
  const wrappers = {
    save(key, value, ttlMs) {
      calls.save += 1;
      writes.push({ key, value, version: 0, ttlMs });
      return adapter.save(key, value, ttlMs);
    },
    saveIfNewer(key, value, version, ttlMs) {
      calls.saveIfNewer += 1;
      writes.push({ key, value, version, ttlMs });
      return adapter.saveIfNewer(key, value, version, ttlMs);
    },
    saveManyIfNewer(batch) {
      calls.saveManyIfNewer += 1;
      calls.saveManyEntries += batch.length;
      for (const write of batch) writes.push(write);
      return adapter.saveManyIfNewer(batch);
    },
    takeVersioned(key, fence) {
      if (fence !== undefined) calls.fences += 1;
      return adapter.takeVersioned(key, fence);
    },
  };
  const proxy = new Proxy(adapter, {
    get(target, name) {
      if (Object.hasOwn(wrappers, name) && typeof target[name] === 'function') return wrappers[name];
      const value = Reflect.get(target, name, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { adapter: proxy, writes, calls };
}

/** The last write of each key (a retried write is recorded once per attempt), as the limit writes them. */
function distinctWrites(writes) {
  return [...new Map(writes.map((write) => [write.key, write])).values()];
}

/**
 * Counts a manager's 'error' events by code, and the snapshots it gave up ('persistFailed') by
 * reason, numbers left out. The listeners also keep both from becoming process warnings.
 */
function countFailures(manager) {
  const errors = {};
  const givenUp = {};
  manager.on('error', (error) => {
    errors[error.code] = (errors[error.code] ?? 0) + 1;
  });
  manager.on('persistFailed', (_snapshot, error) => {
    const why = error.message.replace(/^snapshot \S+ /, '').replace(/\d+/g, 'N');
    givenUp[why] = (givenUp[why] ?? 0) + 1;
  });
  return { errors, givenUp };
}

/**
 * Cores the machine spends busy over one second while this script does nothing: other processes
 * (the stores idle). On a shared machine that is the main source of noise; `undefined` off Linux.
 */
async function backgroundCores() {
  const before = machineBusyUs();
  await sleep(1000);
  return before === undefined ? undefined : (machineBusyUs() - before) / 1e6;
}

// ---------------------------------------------------------------- the stores

/** Every key under `prefix` (SCAN), batch by batch. */
async function* scanKeys(client, prefix) {
  for await (const found of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) {
    const keys = Array.isArray(found) ? found : [found];
    if (keys.length > 0) yield keys;
  }
}

async function redisStore() {
  const client = createClient({ url: REDIS_URL });
  client.on('error', () => {});
  await client.connect();
  const prefixes = (round) => ({ reprise: `${redisRoot}reprise:${round}:`, limit: `${redisRoot}limit:${round}:` });
  return {
    id: 'redis',
    label: 'Redis',
    limitLabel: `pipelined \`SET … PX\`, ${config.pipeline} per pipeline`,
    unit: 'SETs/s',
    newAdapter: (round) => new RedisAdapter({ url: REDIS_URL, prefix: prefixes(round).reprise }),
    countReprise: (round) => countSnapshots(prefixes(round).reprise),
    countLimit: async (round) => {
      let n = 0;
      for await (const keys of scanKeys(client, prefixes(round).limit)) n += keys.length;
      return n;
    },
    /** The limit: plain SETs of the same values, each pipeline's commands issued in one tick and awaited together. */
    async limit(writes, round) {
      const prefix = prefixes(round).limit;
      for (let i = 0; i < writes.length; i += config.pipeline) {
        const batch = writes.slice(i, i + config.pipeline);
        await Promise.all(batch.map((w) => client.set(prefix + w.key, w.value, { expiration: { type: 'PX', value: Math.ceil(w.ttlMs) } })));
      }
    },
    async clear(round) {
      for (const prefix of Object.values(prefixes(round))) {
        for await (const keys of scanKeys(client, prefix)) await client.unlink(keys);
      }
    },
    close: () => client.close(),
  };
  /** The adapter's keys under `prefix`: a hash with a `value` field is a snapshot, one without a floor. */
  async function countSnapshots(prefix) {
    const found = { snapshots: 0, floors: 0 };
    for await (const keys of scanKeys(client, prefix)) {
      for (const has of await Promise.all(keys.map((key) => client.hExists(key, 'value')))) {
        if (has) found.snapshots += 1;
        else found.floors += 1;
      }
    }
    return found;
  }
}

async function postgresStore() {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  const reprise = `${tableRoot}`;
  const limit = `${tableRoot}_limit`;
  // The limit's table is the adapter's, DDL and index included (the adapter creates its own on its first call).
  await client.query(createTableSql(parseTableName(limit)));
  await client.query(createIndexSql(parseTableName(limit)));
  // Same bytes as the adapter stores: id = SHA-256 of the key's UTF-8, the value as UTF-8 bytes.
  const upsert = [
    `INSERT INTO "${limit}" (id, key, value, version, expires_at)`,
    "SELECT sha256(convert_to(w.key, 'UTF8')), w.key, convert_to(w.value, 'UTF8'), w.version, now() + w.ttl * interval '1 millisecond'",
    'FROM unnest($1::text[], $2::text[], $3::bigint[], $4::float8[]) AS w(key, value, version, ttl)',
    'ON CONFLICT (id) DO UPDATE SET key = EXCLUDED.key, value = EXCLUDED.value, version = EXCLUDED.version, expires_at = EXCLUDED.expires_at',
  ].join('\n');
  /** Rows with a value are snapshots, rows without one floors (what a fence leaves). */
  const countRows = async (table) => {
    const sql = `SELECT count(value)::int AS snapshots, (count(*) - count(value))::int AS floors FROM "${table}"`;
    return (await client.query(sql)).rows[0];
  };
  return {
    id: 'postgres',
    label: 'Postgres',
    limitLabel: `multi-row upsert (\`INSERT … SELECT FROM unnest … ON CONFLICT\`), ${config.pgRows} rows per statement`,
    unit: 'rows/s',
    newAdapter: () => new PostgresAdapter({ connectionString: POSTGRES_URL }, { table: reprise }),
    countReprise: () => countRows(reprise),
    countLimit: async () => (await countRows(limit)).snapshots,
    /** The limit: statements of `config.pgRows` rows, one after the other on one connection. */
    async limit(writes) {
      for (let i = 0; i < writes.length; i += config.pgRows) {
        const batch = writes.slice(i, i + config.pgRows);
        await client.query(upsert, [
          batch.map((w) => w.key),
          batch.map((w) => w.value),
          batch.map((w) => String(w.version)),
          batch.map((w) => w.ttlMs),
        ]);
      }
    },
    async clear() {
      await client.query(`TRUNCATE "${limit}"`);
      await client.query(`TRUNCATE "${reprise}"`).catch(() => {}); // absent until an adapter made it
    },
    async close() {
      await dropTables(client);
      await client.end();
    },
  };
}

async function dropTables(client) {
  await client.query(`DROP TABLE IF EXISTS "${tableRoot}", "${tableRoot}_limit"`);
}

/**
 * Makes the adapter ready before anything is timed: connected (all of pg's 10 pool connections
 * opened), the table made, the scripts loaded. Leaves nothing behind.
 */
async function warmUp(adapter) {
  const write = { key: 'warm-up', value: 'x', version: 1, ttlMs: 60_000 };
  await Promise.all(Array.from({ length: 10 }, (_, i) => adapter.load(`warm-up-${i}`)));
  await adapter.saveIfNewer(write.key, write.value, write.version, write.ttlMs);
  await adapter.saveManyIfNewer?.([{ ...write, version: 2 }]);
  await adapter.delete(write.key);
}

// ---------------------------------------------------------------- one round

/** Reprise: N sessions created, then `shutdown()` timed; checks that every snapshot is in the store. */
async function repriseRun(store, round) {
  const adapter = store.newAdapter(round);
  let closing;
  const close = () => (closing ??= adapter.close());
  try {
    await warmUp(adapter);
    const recorder = recording(adapter);
    const checkpoints = config.mode === 'checkpoint';
    const manager = new SessionManager({
      adapter: recorder.adapter,
      maxSessions: config.sessions + 1,
      checkpointInterval: checkpoints ? 1 : 0,
    });
    const { errors, givenUp } = countFailures(manager);
    for (let i = 0; i < config.sessions; i += 1) manager.create(sessionData());
    const measured = await timed(() => (checkpoints ? checkpointed(manager) : manager.shutdown()));
    const stats = manager.stats();
    if (checkpoints) {
      await manager.shutdown(); // outside the timed part: the closes write the same keys again
    }
    await close(); // waits for the adapter's calls still in flight: what lands late is counted
    const { snapshots: stored, floors } = await store.countReprise(round);
    const written = checkpoints ? stats.checkpoints : stats.persisted;
    const ok = stored === config.sessions && written === config.sessions && stats.persistGivenUp === 0 && stats.checkpointFailures === 0;
    return {
      ...measured,
      rate: config.sessions / measured.seconds,
      ok,
      stored,
      floors,
      persisted: written,
      persistGivenUp: stats.persistGivenUp,
      persistFailures: stats.persistFailures,
      superseded: stats.superseded,
      errors,
      givenUp,
      calls: recorder.calls,
      writes: recorder.writes,
    };
  } finally {
    await close();
  }
}

/** Resolves once every live session of `manager` is written as a checkpoint (or one failed). */
async function checkpointed(manager) {
  for (;;) {
    const { checkpoints, checkpointFailures } = manager.stats();
    if (checkpoints + checkpointFailures >= config.sessions) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** The store's limit: the values Reprise wrote, written the plainest batched way. */
async function limitRun(store, writes, round) {
  const measured = await timed(() => store.limit(writes, round));
  const stored = await store.countLimit(round);
  return { ...measured, rate: writes.length / measured.seconds, ok: stored === writes.length, stored };
}

async function runRound(store, round) {
  try {
    const background = await backgroundCores();
    const reprise = await repriseRun(store, round);
    const writes = distinctWrites(reprise.writes);
    reprise.writes = undefined;
    reprise.distinctKeys = writes.length;
    reprise.valueBytes = median(writes.map((w) => Buffer.byteLength(w.value)));
    const limit = await limitRun(store, writes, round);
    return { store: store.id, round, background, reprise, limit, ratio: reprise.ok && limit.ok ? reprise.rate / limit.rate : NaN };
  } finally {
    await store.clear(round);
  }
}

// ---------------------------------------------------------------- report

const median = (values) => {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const fmt = (value, digits) => (Number.isFinite(value) ? value.toFixed(digits) : '—');
const thousands = (value) => (Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : '—');

/** One figure per round ("a, b, c"), or one when every round had the same; `undefined` when all are 0. */
function perRound(values) {
  if (values.every((v) => !v)) return undefined;
  return new Set(values).size === 1 ? String(values[0]) : `${values.join(', ')} per round`;
}

function repriseNotes(runs) {
  const good = runs.filter((r) => r.reprise.ok);
  const parts = [`${good.length}/${runs.length} complete`];
  for (const r of runs.filter((x) => !x.reprise.ok)) {
    const { stored, floors, persisted, persistGivenUp, superseded } = r.reprise;
    parts.push(
      `round ${r.round} FAILED: ${stored} snapshots (+ ${floors} floors) in the store, persisted ${persisted}, given up ${persistGivenUp}, superseded ${superseded}`,
    );
  }
  const calls = runs[0].reprise.calls;
  const how = [];
  if (calls.saveManyIfNewer > 0) how.push(`${calls.saveManyIfNewer} \`saveManyIfNewer\` batches (${calls.saveManyEntries} entries)`);
  if (calls.saveIfNewer > 0) how.push(`${calls.saveIfNewer} \`saveIfNewer\` calls`);
  if (calls.save > 0) how.push(`${calls.save} \`save\` calls`);
  parts.push(`core wrote through ${how.join(' + ') || 'nothing'} (round 1)`);
  parts.push(`${fmt(median(runs.map((r) => r.reprise.seconds)), 2)} s`);
  const counted = (label, pick) => {
    const figures = perRound(runs.map((r) => pick(r.reprise) ?? 0));
    if (figures !== undefined) parts.push(`${label}: ${figures}`);
  };
  counted('failed attempts', (r) => r.persistFailures);
  counted('fences (`takeVersioned` of a given-up write)', (r) => r.calls.fences);
  for (const why of new Set(runs.flatMap((r) => Object.keys(r.reprise.givenUp)))) counted(`given up "${why}"`, (r) => r.givenUp[why]);
  for (const code of new Set(runs.flatMap((r) => Object.keys(r.reprise.errors)))) counted(`'error' events ${code}`, (r) => r.errors[code]);
  parts.push(`value ${fmt(median(runs.map((r) => r.reprise.valueBytes)), 0)} B`);
  parts.push(`others busy before each round: ${runs.map((r) => fmt(r.background, 2)).join(', ')} cores`);
  return parts.join('; ');
}

function table(results, stores) {
  const lines = [
    '| store | what | N | rate/s | ratio to limit | loop delay p99/max ms | heap MB before / after / after GC | notes (medians of the rounds) |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |',
  ];
  for (const store of stores) {
    const runs = results.filter((r) => r.store === store.id);
    if (runs.length === 0) continue;
    const row = (what, pick, ratio, notes) => {
      const ok = runs.map(pick).filter((x) => x.ok);
      const rate = ok.length === 0 ? 'failed' : thousands(median(ok.map((x) => x.rate)));
      const delay = `${fmt(median(runs.map((r) => pick(r).delayP99Ms)), 1)} / ${fmt(median(runs.map((r) => pick(r).delayMaxMs)), 1)}`;
      const heap = ['heapBeforeMb', 'heapAfterMb', 'heapRetainedMb']
        .map((key) => fmt(median(runs.map((r) => pick(r)[key])), 0))
        .join(' / ');
      lines.push(`| ${store.label} | ${what} | ${config.sessions} | ${rate} | ${ratio} | ${delay} | ${heap} | ${notes} |`);
    };
    const ratio = median(runs.map((r) => r.ratio));
    const goal = GOALS[store.id];
    const verdict = Number.isFinite(ratio) ? ` (goal ≥ ${goal}: ${ratio >= goal ? 'met' : 'not met'})` : '';
    row(
      config.mode === 'checkpoint' ? 'Reprise checkpoint pass, checkpoints' : 'Reprise `shutdown()`, snapshots',
      (r) => r.reprise,
      `${fmt(ratio, 2)}${verdict}`,
      repriseNotes(runs),
    );
    const limitOk = runs.filter((r) => r.limit.ok).length;
    row(
      `limit: ${store.limitLabel}`,
      (r) => r.limit,
      '1.00',
      `${store.unit}; ${limitOk}/${runs.length} complete; ${fmt(median(runs.map((r) => r.limit.seconds)), 2)} s`,
    );
  }
  return lines.join('\n');
}

/** The command as typed: the FLUSH_* and URL variables that were set, node's flags, the script. */
function commandLine() {
  const vars = Object.keys(process.env)
    .filter((name) => /^(FLUSH_|REDIS_URL$|POSTGRES_URL$)/.test(name))
    .map((name) => `${name}=${process.env[name]}`);
  return [...vars, 'node', ...process.execArgv, path.relative(process.cwd(), process.argv[1]) || process.argv[1]].join(' ');
}

// ---------------------------------------------------------------- main

const makers = { redis: redisStore, postgres: postgresStore };
for (const id of config.stores) if (!makers[id]) throw new Error(`FLUSH_STORES: unknown store ${id} (redis, postgres)`);

const abort = async () => {
  await cleanRedis(redisRoot).catch(() => {});
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client
    .connect()
    .then(() => dropTables(client))
    .catch(() => {})
    .finally(() => client.end().catch(() => {}));
  process.exit(130);
};
process.once('SIGINT', abort);
process.once('SIGTERM', abort);

const started = new Date();
console.log(
  `Reprise ${config.mode === 'checkpoint' ? 'checkpoint pass' : 'flush at shutdown'}: ${config.sessions} sessions, ${config.rounds} rounds, stores ${config.stores.join(', ')}`,
);
const stores = [];
const results = [];
try {
  for (const id of config.stores) stores.push(await makers[id]());
  for (let round = 1; round <= config.rounds; round += 1) {
    // Each round starts at a different store; within a store, Reprise then its limit on the same values.
    const shift = (round - 1) % stores.length;
    for (const store of [...stores.slice(shift), ...stores.slice(0, shift)]) {
      const result = await runRound(store, round);
      results.push(result);
      const { reprise: r, limit: l } = result;
      console.log(
        `  round ${round} ${store.id.padEnd(8)} Reprise ${r.ok ? `${thousands(r.rate).padStart(7)} snapshots/s` : 'FAILED'} (${r.seconds.toFixed(2)} s, stored ${r.stored}${r.floors > 0 ? ` + ${r.floors} floors` : ''}, persisted ${r.persisted}, given up ${r.persistGivenUp}, superseded ${r.superseded}, ` +
          `loop p99/max ${fmt(r.delayP99Ms, 1)}/${fmt(r.delayMaxMs, 1)} ms, heap ${fmt(r.heapBeforeMb, 0)}/${fmt(r.heapAfterMb, 0)}/${fmt(r.heapRetainedMb, 0)} MB)  ` +
          `limit ${l.ok ? `${thousands(l.rate).padStart(7)} ${store.unit}` : `FAILED (stored ${l.stored})`} (${l.seconds.toFixed(2)} s)  ratio ${fmt(result.ratio, 2)}  (others ${fmt(result.background, 2)} cores before)`,
      );
    }
  }
} finally {
  for (const store of stores) await store.close();
}

const markdown = table(results, stores);
const elapsed = (Date.now() - started.getTime()) / 1000;
const machine = {
  node: process.version,
  cpus: os.cpus().length,
  cpuModel: os.cpus()[0]?.model,
  platform: `${os.type()} ${os.release()} ${os.arch()}`,
};
const resultsDir = fileURLToPath(new URL('./results/', import.meta.url));
mkdirSync(resultsDir, { recursive: true });
const file = `${resultsDir}flush-${runId}.json`;
writeFileSync(
  file,
  JSON.stringify({ runId, command: commandLine(), started, config, machine, elapsedSeconds: elapsed, results, table: markdown }, null, 2),
);

console.log(`\n${markdown}\n`);
console.log(`${started.toISOString()}; ${machine.cpus} CPUs (${machine.cpuModel}), Node ${machine.node}; ${elapsed.toFixed(0)} s in all`);
console.log(`command: ${commandLine()}`);
console.log(`results: ${file}`);
const left = await cleanRedis(redisRoot);
if (left > 0) console.log(`removed ${left} leftover Redis keys under ${redisRoot}`);
if (results.some((r) => !r.reprise.ok || !r.limit.ok)) process.exitCode = 1;
