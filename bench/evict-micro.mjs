// In-process: the cost of one eviction (close: hooks, encoding, the write handed to the queue) on
// top of a create, core only (no Koa): SessionManager.create at the cap, one event-loop turn per
// create, against the same creates under a cap that is never reached.
//   node bench/evict-micro.mjs   (env: EVICT_ITERATIONS per batch, default 20000; EVICT_ROUNDS, default 5)
import { SessionManager } from '@reprise/core';
import { MemoryAdapter } from '@reprise/memory';

const N = Number(process.env.EVICT_ITERATIONS || 20_000);
const ROUNDS = Number(process.env.EVICT_ROUNDS || 5);

/** A store that takes every write and keeps nothing: what the close path costs without the adapter's own work. */
const nullAdapter = {
  name: 'null',
  ordered: true,
  async save() {},
  async load() {
    return undefined;
  },
  async take() {
    return undefined;
  },
  async delete() {},
  async saveIfNewer() {
    return true;
  },
  async saveManyIfNewer(writes) {
    return writes.map(() => true);
  },
  async takeVersioned() {
    return undefined;
  },
};

const variants = {
  'create, no eviction': () => new SessionManager({ adapter: new MemoryAdapter(), maxSessions: 10_000_000, checkpointInterval: 0 }),
  'create + eviction, null adapter': () => new SessionManager({ adapter: nullAdapter, maxSessions: 100, checkpointInterval: 0 }),
  'create + eviction, memory adapter': () =>
    new SessionManager({ adapter: new MemoryAdapter({ onDrop: () => {} }), maxSessions: 100, checkpointInterval: 0 }),
};

async function batch(manager) {
  const start = process.cpuUsage();
  for (let i = 0; i < N; i += 1) {
    const session = manager.create();
    session.data.views = 1;
    await new Promise((resolve) => setImmediate(resolve));
  }
  const cpu = process.cpuUsage(start);
  return (cpu.user + cpu.system) / N;
}

const rows = Object.entries(variants).map(([name, build]) => ({ name, manager: build(), samples: [] }));
for (const row of rows) await batch(row.manager);
for (let r = 0; r < ROUNDS; r += 1) for (const row of rows) row.samples.push(await batch(row.manager));
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
console.log('| variant | µs per create |\n| --- | ---: |');
for (const row of rows) console.log(`| ${row.name} | ${median(row.samples).toFixed(2)} |`);
for (const row of rows) console.log(row.name, JSON.stringify(row.manager.stats().closed));
