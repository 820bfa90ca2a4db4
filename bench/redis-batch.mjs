// The Redis adapter's write scripts on their own, next to pipelined SET, from one node-redis
// connection, on new keys: what Redis takes before any Reprise code runs.
//
//   node bench/redis-batch.mjs            (after `npx tsc -b`: it loads the built scripts)
//
// Environment: REDIS_BATCH_WRITES (per measurement, default 20000), REDIS_BATCH_ROUNDS (3),
// REDIS_URL. Each measurement writes under a prefix of its own, removed right after; every
// pipeline holds 1,000 writes (as core's batches do): SETs, one `saveIfNewer` EVALSHA per write,
// or the batch script over 50, 100 (the adapter's run size) or 1,000 keys per EVALSHA.
import { createClient } from '@keyv/redis';
import { SAVE_IF_NEWER, SAVE_MANY_IF_NEWER } from '../packages/redis/dist/scripts.js';
import { REDIS_URL, cleanRedis } from './lib.mjs';

const WRITES = Number(process.env.REDIS_BATCH_WRITES || 20_000);
const ROUNDS = Number(process.env.REDIS_BATCH_ROUNDS || 3);
const PIPELINE = 1_000;
const VALUE = 'x'.repeat(172); // the size of flush.mjs's snapshots
const TTL = '600000';
const root = `reprise-redis-batch:${process.pid}:`;

const client = createClient({ url: REDIS_URL });
await client.connect();
await client.scriptLoad(SAVE_IF_NEWER.source);
await client.scriptLoad(SAVE_MANY_IF_NEWER.source);

/** Issues `commandsFor(first, count)` for each pipeline of 1,000 writes, awaiting each pipeline. */
async function measure(name, commandsFor) {
  const prefix = `${root}${name}:`;
  const started = process.hrtime.bigint();
  for (let first = 0; first < WRITES; first += PIPELINE) await Promise.all(commandsFor(prefix, first, Math.min(PIPELINE, WRITES - first)));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await cleanRedis(prefix);
  return WRITES / seconds;
}

const variants = {
  'pipelined SET … PX': (prefix, first, count) =>
    Array.from({ length: count }, (_, i) => client.set(prefix + (first + i), VALUE, { expiration: { type: 'PX', value: Number(TTL) } })),
  'saveIfNewer, one EVALSHA per write': (prefix, first, count) =>
    Array.from({ length: count }, (_, i) =>
      client.evalSha(SAVE_IF_NEWER.sha1, { keys: [prefix + (first + i)], arguments: [VALUE, '5', TTL] }),
    ),
  ...Object.fromEntries(
    [50, 100, 1_000].map((perRun) => [
      `batch script, ${perRun} keys per EVALSHA`,
      (prefix, first, count) => {
        const runs = [];
        for (let start = first; start < first + count; start += perRun) {
          const keys = [];
          const args = [];
          for (let k = start; k < Math.min(start + perRun, first + count); k++) {
            keys.push(prefix + k);
            args.push(VALUE, '5', TTL);
          }
          runs.push(client.evalSha(SAVE_MANY_IF_NEWER.sha1, { keys, arguments: args }));
        }
        return runs;
      },
    ]),
  ),
};

const rates = Object.fromEntries(Object.keys(variants).map((name) => [name, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, commandsFor] of Object.entries(variants)) rates[name].push(await measure(name, commandsFor));
}
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const set = median(rates['pipelined SET … PX']);
console.log(
  `Redis writes from one connection, ${WRITES} new keys of ${VALUE.length} B per measurement, 1,000 per pipeline, median of ${ROUNDS} rounds (interleaved)`,
);
console.log('| what | writes/s | vs SET |\n| --- | ---: | ---: |');
for (const [name, values] of Object.entries(rates))
  console.log(`| ${name} | ${Math.round(median(values)).toLocaleString('en-US')} | ${(median(values) / set).toFixed(2)} |`);
await cleanRedis(root);
await client.close();
