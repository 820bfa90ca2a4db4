// The snapshot codec against its peers: Reprise's encodeSnapshot/decodeRecord (format R2), devalue
// alone, JSON.stringify/parse (lossy: Dates become strings, Maps become {}) and v8.serialize/deserialize,
// on three session data sets built deterministically: a ~100 B session, a 20-item cart with a Date and a
// Map of options per item (~3.7 KB), and a ~64 KB session. Each data set is measured in its own Node
// process: each round runs every (codec, operation) once, in an order rotated from round to round
// (interleaved), as a batch timed with process.cpuUsage() (user + system CPU of this process, so other
// processes on the machine count less); the figures are medians over rounds. Goal: Reprise's encode +
// decode of the cart within 1.5x of JSON.stringify + JSON.parse of the same data, the ratio taken in each
// round, then its median.
//   node bench/codec.mjs [--quick] [--one-process]      (build first: npx tsc -b)
// Results: bench/results/codec-<timestamp>.json.
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import v8 from 'node:v8';
import { decodeRecord, encodeSnapshot } from '@reprise/core/adapter-kit';
import { parse as devalueParse, stringify as devalueStringify } from 'devalue';

const BASE_TIME = Date.UTC(2026, 0, 15, 9, 30);
const COLORS = ['red', 'green', 'blue', 'black', 'white'];
const SIZES = ['S', 'M', 'L', 'XL'];

/** A ~100 B session: an id, a counter, a Date. */
export function smallSession() {
  return { userId: 'user-000042', views: 3, lastSeen: new Date(BASE_TIME) };
}

/** One cart line: strings, numbers, a Date and a Map of options. */
function cartItem(i) {
  return {
    sku: `SKU-${String(1000 + i * 37).padStart(6, '0')}`,
    name: `Product ${i + 1}, ${COLORS[i % 5]}`,
    price: Math.round((9.99 + i * 3.25) * 100) / 100,
    qty: 1 + (i % 4),
    addedAt: new Date(BASE_TIME + i * 61_000),
    options: new Map([
      ['size', SIZES[i % 4]],
      ['color', COLORS[i % 5]],
      ['giftWrap', i % 3 === 0],
      ['engraving', i % 7 === 0 ? 'For you' : ''],
    ]),
  };
}

/** The 20-item cart of the issue. */
export function cartSession(items = 20) {
  return {
    userId: 'user-000042',
    currency: 'EUR',
    locale: 'fr-FR',
    createdAt: new Date(BASE_TIME - 3_600_000),
    cart: Array.from({ length: items }, (_, i) => cartItem(i)),
    coupon: null,
    step: 'shipping',
    total: 1234.5,
  };
}

/** A ~64 KB session: a long cart, a browsing history with Dates, a Set of flags. */
export function largeSession() {
  const data = cartSession(250);
  data.history = Array.from({ length: 400 }, (_, i) => ({ path: `/products/${(i * 7919) % 1000}`, at: new Date(BASE_TIME + i * 5_000) }));
  data.flags = new Set(['beta', 'newsletter', 'vip']);
  return data;
}

const snapshotOf = (data) => ({
  version: 1,
  key: 'cart:user-000042',
  sessionId: 'AAAAAAAAAAAAAAAAAAAAAAAA',
  data,
  createdAt: BASE_TIME,
  closedAt: BASE_TIME + 60_000,
  reason: 'evicted',
});

/** The codecs: each prepares its input once and returns an encode and a decode operation. */
const CODECS = [
  {
    name: 'Reprise (R2)',
    prepare(data) {
      const snapshot = snapshotOf(data);
      const text = encodeSnapshot(snapshot, Number.POSITIVE_INFINITY).text;
      return {
        bytes: Buffer.byteLength(text),
        encode: () => encodeSnapshot(snapshot, Number.POSITIVE_INFINITY),
        decode: () => decodeRecord(text),
      };
    },
  },
  {
    name: 'devalue alone',
    prepare(data) {
      const text = devalueStringify(data);
      return { bytes: Buffer.byteLength(text), encode: () => devalueStringify(data), decode: () => devalueParse(text) };
    },
  },
  {
    name: 'JSON (lossy)',
    prepare(data) {
      const text = JSON.stringify(data);
      return { bytes: Buffer.byteLength(text), encode: () => JSON.stringify(data), decode: () => JSON.parse(text) };
    },
  },
  {
    name: 'v8.serialize',
    prepare(data) {
      const buffer = v8.serialize(data);
      return {
        bytes: buffer.length,
        note: `${Buffer.byteLength(buffer.toString('base64'))} B as base64`,
        encode: () => v8.serialize(data),
        decode: () => v8.deserialize(buffer),
      };
    },
  },
];

const DATA_SETS = [
  { name: 'session ~100 B', build: smallSession },
  { name: 'cart, 20 items', build: cartSession, goal: true },
  { name: 'session ~64 KB', build: largeSession },
];

let sink = 0;

/** Runs `fn` `count` times; CPU µs per call. */
function cpuPerCall(fn, count) {
  const start = process.cpuUsage();
  for (let i = 0; i < count; i += 1) sink ^= fn() === undefined ? 0 : 1;
  const used = process.cpuUsage(start);
  return (used.user + used.system) / count;
}

/** Calls `fn` for about `ms` milliseconds, so that the JIT has compiled and settled it before measuring. */
function warmUp(fn, ms) {
  const until = Date.now() + ms;
  while (Date.now() < until) for (let i = 0; i < 50; i += 1) fn();
}

/** How many calls make a batch of about `ms` milliseconds. */
function calibrate(fn, ms) {
  let count = 16;
  for (;;) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < count; i += 1) fn();
    const elapsed = Number(process.hrtime.bigint() - started) / 1e6;
    if (elapsed >= ms / 4) return Math.max(16, Math.round((count * ms) / elapsed));
    count *= 4;
  }
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

const fmt = (us) => (us < 10 ? us.toFixed(2) : us < 100 ? us.toFixed(1) : us.toFixed(0));

/**
 * Measures one data set: every codec's encode and decode, interleaved over rounds.
 * @returns {{ codec: string, encode: number[], decode: number[], bytes: number, note?: string }[]} CPU µs per call, one per round
 */
export function measureSet(index, { quick = false } = {}) {
  const rounds = quick ? 3 : 9;
  const batchMs = quick ? 20 : 40;
  const data = DATA_SETS[index].build();
  const jobs = [];
  for (const codec of CODECS) {
    const prepared = codec.prepare(data);
    for (const op of ['encode', 'decode']) {
      const fn = prepared[op];
      warmUp(fn, quick ? 200 : 500);
      jobs.push({ codec, prepared, op, fn, count: calibrate(fn, batchMs), samples: [] });
    }
  }
  for (let round = 0; round < rounds; round += 1) {
    for (let j = 0; j < jobs.length; j += 1) {
      const job = jobs[(j + round * 3) % jobs.length];
      job.samples.push(cpuPerCall(job.fn, job.count));
    }
  }
  if (sink === 42) console.log('');
  return CODECS.map((codec) => {
    const [encode, decode] = ['encode', 'decode'].map((op) => jobs.find((j) => j.codec === codec && j.op === op));
    return { codec: codec.name, encode: encode.samples, decode: decode.samples, bytes: encode.prepared.bytes, note: encode.prepared.note };
  });
}

/** Runs `measureSet(index)` in a fresh Node process (the JIT sees only that data set's shapes). */
function measureSetInChild(index, quick) {
  return new Promise((resolve, reject) => {
    const args = [fileURLToPath(import.meta.url), '--child', String(index), ...(quick ? ['--quick'] : [])];
    execFile(process.execPath, args, { maxBuffer: 1 << 24 }, (error, stdout) => (error ? reject(error) : resolve(JSON.parse(stdout))));
  });
}

/**
 * @param {{ quick?: boolean, oneProcess?: boolean }} options `oneProcess`: measure the three data sets
 *   in this process, one after the other, instead of one child process each.
 * @returns {Promise<{ name: string, title: string, columns: string[], rows: (string|number)[][], goals: object[], notes: string[] }>}
 */
export async function run({ quick = false, oneProcess = false } = {}) {
  const rows = [];
  const goals = [];
  const figures = [];
  for (let index = 0; index < DATA_SETS.length; index += 1) {
    const set = DATA_SETS[index];
    const results = oneProcess ? measureSet(index, { quick }) : await measureSetInChild(index, quick);
    const json = results.find((r) => r.codec === 'JSON (lossy)');
    const jsonTotals = json.encode.map((e, r) => e + json.decode[r]);
    for (const { codec, encode, decode, bytes, note } of results) {
      const totals = encode.map((e, r) => e + decode[r]);
      const ratio = median(totals.map((t, r) => t / jsonTotals[r]));
      const entry = {
        data: set.name,
        codec,
        encodeUs: median(encode),
        decodeUs: median(decode),
        totalUs: median(totals),
        bytes,
        vsJson: ratio,
      };
      figures.push(note === undefined ? entry : { ...entry, note });
      rows.push([
        set.name,
        codec,
        fmt(entry.encodeUs),
        fmt(entry.decodeUs),
        fmt(entry.totalUs),
        note ? `${bytes} (${note})` : bytes,
        `${ratio.toFixed(2)}x`,
      ]);
      if (set.goal && codec === 'Reprise (R2)') {
        goals.push({
          goal: 'codec encode+decode vs JSON.stringify+parse (20-item cart)',
          target: '<= 1.5x',
          measured: `${ratio.toFixed(2)}x`,
          met: ratio <= 1.5,
        });
      }
    }
  }
  const { rounds, batchMs } = quick ? { rounds: 3, batchMs: 20 } : { rounds: 9, batchMs: 40 };
  return {
    name: 'codec',
    title: 'Snapshot codec: encode + decode per call (µs of CPU, medians)',
    columns: ['data', 'codec', 'encode µs', 'decode µs', 'total µs', 'bytes', 'total vs JSON'],
    rows,
    goals,
    notes: [
      `Per data set: each operation warmed up for ${quick ? 200 : 500} ms, then ${rounds} rounds, interleaved (every codec and operation once per round, order rotated); batches of ~${batchMs} ms timed with process.cpuUsage(); medians.`,
      oneProcess
        ? 'All data sets measured in one process, one after the other (--one-process).'
        : 'Each data set in its own Node process, as a server encodes the sessions of one application (--one-process measures them in this process, one after the other).',
      'vs JSON: (encode + decode) / (JSON.stringify + JSON.parse) of the same data, per round, then the median.',
      'JSON is lossy here (Dates become strings, Maps {}); devalue and v8.serialize write the types but check nothing (no drops, no reserved keys, no depth bound).',
      'Reprise: encodeSnapshot (envelope, drop reports, UTF-8 byte count, so the text is flattened) and decodeRecord (JSON.parse and the validating walk).',
    ],
    figures,
  };
}

function table({ columns, rows }) {
  const widths = columns.map((c, i) => Math.max(c.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) => `| ${cells.map((c, i) => (i < 2 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join(' | ')} |`;
  return [line(columns), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...rows.map(line)].join('\n');
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
const childIndex = process.argv.indexOf('--child');

if (isMain && childIndex !== -1) {
  process.stdout.write(JSON.stringify(measureSet(Number(process.argv[childIndex + 1]), { quick: process.argv.includes('--quick') })));
} else if (isMain) {
  const quick = process.argv.includes('--quick');
  const started = Date.now();
  const result = await run({ quick, oneProcess: process.argv.includes('--one-process') });
  console.log(`${result.title}\n\n${table(result)}\n`);
  for (const g of result.goals) console.log(`goal: ${g.goal}: ${g.measured} (target ${g.target}) ${g.met ? 'met' : 'NOT met'}`);
  for (const n of result.notes) console.log(`- ${n}`);
  const dir = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  const file = `${dir}codec-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
  const machine = { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, node: process.version };
  writeFileSync(file, JSON.stringify({ ...result, machine, seconds: (Date.now() - started) / 1000 }, null, 2));
  console.log(
    `\n${machine.cpus} CPUs (${machine.cpuModel}), Node ${machine.node}; ${((Date.now() - started) / 1000).toFixed(0)} s; results: ${file}`,
  );
}
