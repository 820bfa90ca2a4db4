// In-process: the cost of one eviction (close: hooks, encoding, the write handed to the queue) on
// top of a create, core only (no Koa): SessionManager.create at the cap, one event-loop turn per
// create, against the same creates under a cap that is never reached.
//   node bench/evict-micro.mjs   (env: EVICT_ITERATIONS per batch, default 20000; EVICT_ROUNDS, default 5)
// Exports run({ quick }) for bench/run.mjs; standalone it prints the table and writes
// bench/results/evict-micro-<timestamp>.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { SessionManager } from '@reprise/core';
import { MemoryAdapter } from '@reprise/memory';

const ITERATIONS = Number(process.env.EVICT_ITERATIONS || 20_000);
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

async function batch(manager, n) {
  const start = process.cpuUsage();
  for (let i = 0; i < n; i += 1) {
    const session = manager.create();
    session.data.views = 1;
    await new Promise((resolve) => setImmediate(resolve));
  }
  const cpu = process.cpuUsage(start);
  return (cpu.user + cpu.system) / n;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

/** The benchmark module interface of bench/run.mjs. */
export async function run({ quick = false } = {}) {
  const n = quick ? Math.min(ITERATIONS, 5_000) : ITERATIONS;
  const rounds = quick ? Math.min(ROUNDS, 3) : ROUNDS;
  const measured = Object.entries(variants).map(([name, build]) => ({ name, manager: build(), samples: [] }));
  for (const row of measured) await batch(row.manager, n); // warm-up
  for (let r = 0; r < rounds; r += 1) for (const row of measured) row.samples.push(await batch(row.manager, n));
  const base = median(measured[0].samples);
  const rows = measured.map((row) => {
    const m = median(row.samples);
    return [row.name, m.toFixed(2), `+${(m - base).toFixed(2)}`, String(row.manager.stats().closed.evicted)];
  });
  return {
    name: 'evict-micro',
    title: `One eviction on top of a create, in-process, core only: CPU µs per create, median of ${rounds} batches of ${n}`,
    columns: ['variant', 'µs per create', 'over a create without eviction', 'evicted'],
    rows,
    goals: [],
    notes: [
      'SessionManager.create at the cap (100, checkpoints off): each create evicts the least recently active session (closing hooks: none, encoding, the write handed to the queue); one setImmediate turn after each create, for every row.',
      "The null adapter takes every write and keeps nothing: what Reprise's close path costs without the adapter's own work.",
    ],
  };
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = await run();
  console.log(result.title);
  console.log(`| ${result.columns.join(' | ')} |\n| --- | ---: | ---: | ---: |`);
  for (const row of result.rows) console.log(`| ${row.join(' | ')} |`);
  const dir = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  const file = `${dir}evict-micro-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
  writeFileSync(file, JSON.stringify(result, null, 2));
  console.log(`results: ${file}`);
}
