// The cost of encryption at rest per record (snapshotKeys, docs/encryption.md), next to the codec's:
// encodeSnapshot / decodeRecord (devalue) and sealRecord / openRecord (AES-256-GCM, base64url) of one
// snapshot whose data is ~100 B, ~4 KB and ~64 KB. CPU µs per record, median of MICRO_ROUNDS (default
// 7) batches, each long enough to run ~200 ms. Reads the built core (run `npx tsc -b` first):
//   node bench/encryption.mjs
import { randomBytes } from 'node:crypto';
import { decodeRecord, encodeSnapshot } from '@reprise/core/adapter-kit';
// Internal to core (not exported): the functions the manager seals and opens every record with.
import { openRecord, sealRecord } from '../packages/core/dist/snapshot-cipher.js';
import { normalizeSnapshotEncryption } from '../packages/core/dist/snapshot-keys.js';

const ROUNDS = Number(process.env.MICRO_ROUNDS || 7);
const encryption = normalizeSnapshotEncryption({
  snapshotKeys: [
    { id: 'k2', key: randomBytes(32) },
    { id: 'k1', key: randomBytes(32) },
  ],
});
const ID = 'AAAAAAAAAAAAAAAAAAAAAAAA';

/** Session data of about `bytes` bytes once encoded: a cart of items with text, numbers and a Date. */
function data(bytes) {
  const items = [];
  let size = 0;
  for (let i = 0; size < bytes - 60; i++) {
    const item = { sku: `sku-${i}`, title: randomBytes(24).toString('base64'), qty: i % 5, price: 9.99 + i };
    items.push(item);
    size += 90;
  }
  return { user: 'ada', since: new Date(), cart: items.length > 0 ? items : undefined, views: 1 };
}

/** CPU µs per call of `fn`, median over the rounds (each round sized to ~200 ms from a first estimate). */
function measure(fn) {
  let n = 1;
  for (;;) {
    const start = process.cpuUsage();
    for (let i = 0; i < n; i++) fn();
    const used = process.cpuUsage(start);
    if (used.user + used.system > 20_000) break;
    n *= 4;
  }
  n *= 10;
  const samples = [];
  for (let round = 0; round < ROUNDS; round++) {
    const start = process.cpuUsage();
    for (let i = 0; i < n; i++) fn();
    const used = process.cpuUsage(start);
    samples.push((used.user + used.system) / n);
  }
  return samples.sort((a, b) => a - b)[samples.length >> 1];
}

console.log(`Per record, CPU µs, median of ${ROUNDS} rounds (node ${process.version})`);
console.log('| snapshot | encoded | sealed | encodeSnapshot | sealRecord | decodeRecord | openRecord | seal + open over encode + decode |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const [label, bytes] of [
  ['~100 B', 100],
  ['~4 KB', 4_096],
  ['~64 KB', 65_536],
]) {
  const now = Date.now();
  const snapshot = { version: 1, key: ID, sessionId: ID, data: data(bytes), createdAt: now, closedAt: now, reason: 'evicted' };
  const { text } = encodeSnapshot(snapshot, Infinity);
  const sealed = sealRecord(text, ID, encryption.keyring);
  if (openRecord(sealed, ID, encryption) !== text) throw new Error('round trip failed');
  const encode = measure(() => encodeSnapshot(snapshot, Infinity));
  const seal = measure(() => sealRecord(text, ID, encryption.keyring));
  const decode = measure(() => decodeRecord(text));
  const open = measure(() => openRecord(sealed, ID, encryption));
  const share = ((seal + open) / (encode + decode)) * 100;
  console.log(
    `| ${label} | ${Buffer.byteLength(text)} B | ${sealed.length} B | ${encode.toFixed(1)} | ${seal.toFixed(1)} | ${decode.toFixed(1)} | ${open.toFixed(1)} | +${share.toFixed(0)} % |`,
  );
}
