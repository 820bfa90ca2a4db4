// CPU profile of one server under one workload:
//   node bench/profile.mjs [server file, default reprise-memory.mjs] [returning|new, default returning]
// Env: BENCH_DURATION (s, default 10), BENCH_CONNECTIONS (10), BENCH_VISITORS (100),
// BENCH_MAX_SESSIONS (passed to the Reprise servers), BENCH_PROF_INTERVAL (µs, default 100).
// The server runs with `node --cpu-prof`; the profile (open it in Chrome DevTools) and a text summary
// (self time and inclusive time per function, and self time per package, in µs per request) go
// to bench/results/profiles/.
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { between, cleanRedis, createVisitors, load, sample, startServer, stopServer } from './lib.mjs';

const file = process.argv[2] ?? 'reprise-memory.mjs';
const workload = process.argv[3] ?? 'returning';
const duration = Number(process.env.BENCH_DURATION || 10);
const connections = Number(process.env.BENCH_CONNECTIONS || 10);
const visitors = Number(process.env.BENCH_VISITORS || 100);
const interval = Number(process.env.BENCH_PROF_INTERVAL || 100);
const dir = fileURLToPath(new URL('./results/profiles/', import.meta.url));
mkdirSync(dir, { recursive: true });

const prefix = `reprise-bench:profile-${process.pid}:`;
const startedAt = Date.now();
const env = { BENCH_PREFIX: prefix };
if (process.env.BENCH_MAX_SESSIONS) env.BENCH_MAX_SESSIONS = process.env.BENCH_MAX_SESSIONS;
const server = await startServer(file, env, ['--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-interval=${interval}`]);
let measured;
try {
  const cookies = workload === 'returning' ? await createVisitors(server.url, visitors, { expectCookie: file !== 'bare.mjs' }) : undefined;
  await load(server.url, { duration: 1, connections, cookies });
  const before = await sample(server.child);
  const result = await load(server.url, { duration, connections, cookies });
  const after = await sample(server.child);
  measured = { ...result, server: between(before, after), window: [before.hrtime, after.hrtime] };
} finally {
  await stopServer(server.child);
  await cleanRedis(prefix);
}

const newest = readdirSync(dir)
  .filter((name) => name.endsWith('.cpuprofile'))
  .map((name) => ({ name, mtime: statSync(dir + name).mtimeMs }))
  .filter((entry) => entry.mtime >= startedAt)
  .sort((a, b) => b.mtime - a.mtime)[0];
if (newest === undefined) throw new Error('no profile was written');
const profile = JSON.parse(readFileSync(dir + newest.name, 'utf8'));

// Self time per node from the samples and their time deltas, over the measured window only
// (V8's profile clock and process.hrtime are both the monotonic clock, in µs).
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const parent = new Map();
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
const self = new Map();
const [from, to] = measured.window;
let clock = profile.startTime;
let inWindow = 0;
for (let i = 0; i < profile.samples.length; i += 1) {
  clock += profile.timeDeltas[i];
  if (clock < from || clock > to) continue;
  inWindow += 1;
  const id = profile.samples[i];
  self.set(id, (self.get(id) ?? 0) + profile.timeDeltas[i]);
}
if (inWindow === 0) throw new Error(`no sample in the measured window (profile ${profile.startTime}..${clock}, window ${from}..${to})`);
const shortUrl = (url) =>
  url
    .replace(/^file:\/\/.*?\/node_modules\//, '')
    .replace(/^file:\/\/.*?\/packages\//, '@reprise/')
    .replace(/^file:\/\/.*?\/bench\//, 'bench/');
const keyOf = (node) => {
  const { functionName, url, lineNumber } = node.callFrame;
  return `${functionName || '(anonymous)'}  ${url ? `${shortUrl(url)}:${lineNumber + 1}` : ''}`.trim();
};
const category = (node) => {
  const { url, functionName } = node.callFrame;
  if (functionName === '(idle)') return 'idle';
  if (functionName === '(garbage collector)') return 'garbage collector';
  if (functionName === '(program)') return '(program): V8/native, unattributed';
  if (url.includes('/packages/koa/')) return '@reprise/koa';
  if (url.includes('/packages/core/')) return '@reprise/core';
  if (url.includes('/packages/memory/')) return '@reprise/memory';
  if (url.includes('/packages/redis/')) return '@reprise/redis';
  if (url.includes('/bench/')) return 'bench server code';
  const pkg = url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
  if (pkg) return pkg[1];
  if (url.startsWith('node:')) return 'node core (' + url.replace(/^node:(internal\/)?/, '').split('/')[0] + ')';
  return url === '' ? 'native/builtin' : url;
};

const requests = measured.server.requests;
const totalBusy = [...self.entries()].reduce((sum, [id, t]) => (byId.get(id).callFrame.functionName === '(idle)' ? sum : sum + t), 0);
const selfByKey = new Map();
const selfByCategory = new Map();
const inclusive = new Map();
const pathKeys = new Map();
const keysOnPath = (id) => {
  let keys = pathKeys.get(id);
  if (keys) return keys;
  const up = parent.get(id);
  keys = new Set(up === undefined ? [] : keysOnPath(up));
  keys.add(keyOf(byId.get(id)));
  pathKeys.set(id, keys);
  return keys;
};
for (const [id, t] of self) {
  const node = byId.get(id);
  const key = keyOf(node);
  selfByKey.set(key, (selfByKey.get(key) ?? 0) + t);
  const cat = category(node);
  selfByCategory.set(cat, (selfByCategory.get(cat) ?? 0) + t);
  if (cat !== 'idle') for (const k of keysOnPath(id)) inclusive.set(k, (inclusive.get(k) ?? 0) + t);
}
const perReq = (t) => (t / requests).toFixed(2).padStart(7);
const pct = (t) => ((100 * t) / totalBusy).toFixed(1).padStart(5) + '%';
const top = (map, n, filter = () => true) =>
  [...map.entries()]
    .filter(([k]) => filter(k))
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, t]) => `${perReq(t)} µs/req ${pct(t)}  ${k}`)
    .join('\n');

const summary = [
  `Profile of servers/${file}, ${workload} visitors: ${measured.rps.toFixed(0)} req/s, p99 ${measured.p99.toFixed(2)} ms, ` +
    `server CPU ${measured.server.cpuUsPerReq.toFixed(1)} µs/req (cpuUsage, measured window); profile: ${newest.name}`,
  `Samples of the measured window only (${requests} requests, ${inWindow} samples): ${(totalBusy / 1e3).toFixed(0)} ms busy on the main thread, ` +
    `${(totalBusy / requests).toFixed(1)} µs per request; sampling interval ${interval} µs (the profiler itself slows the server).`,
  '',
  'Self time by package:',
  top(selfByCategory, 25, (k) => k !== 'idle'),
  '',
  'Top frames by self time:',
  top(selfByKey, 35, (k) => !k.startsWith('(idle)')),
  '',
  'Inclusive time of Reprise frames (and the middleware chain around them):',
  top(inclusive, 40, (k) => /@reprise\/|koa-compose|koa\/dist|application|cookies|keygrip|bench\//.test(k)),
].join('\n');
const out = `${dir}${file.replace(/\.mjs$/, '')}-${workload}.txt`;
writeFileSync(out, summary + '\n');
console.log(summary);
console.log(`\nsummary: ${out}`);
