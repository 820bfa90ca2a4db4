// CPU profile of one server under one workload:
//   node bench/profile.mjs [server file, default reprise-memory.mjs] [returning|new, default returning]
// Env: BENCH_DURATION (s, default 10), BENCH_CONNECTIONS (10), BENCH_VISITORS (100),
// BENCH_MAX_SESSIONS and BENCH_CHECKPOINT_INTERVAL (passed to the Reprise servers), BENCH_PROF_INTERVAL (µs, default 100).
// The server runs with `node --cpu-prof`; the profile (open it in Chrome DevTools) and a text summary
// (self time and inclusive time per function, and self time per package, in µs per request) go
// to bench/results/profiles/.
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { between, cleanRedis, createVisitors, load, sample, startServer, stopServer } from './lib.mjs';
import { summarize } from './summarize-profile.mjs';

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
if (process.env.BENCH_CHECKPOINT_INTERVAL) env.BENCH_CHECKPOINT_INTERVAL = process.env.BENCH_CHECKPOINT_INTERVAL;
// BENCH_NODE_FLAGS (space-separated) adds V8/Node flags to the server, e.g. --single-threaded-gc to see the GC on the main thread.
const flags = (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
const server = await startServer(file, env, [...flags, '--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-interval=${interval}`]);
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

const title =
  `Profile of servers/${file}, ${workload} visitors: ${measured.rps.toFixed(0)} req/s, p99 ${measured.p99.toFixed(2)} ms, ` +
  `server CPU ${measured.server.cpuUsPerReq.toFixed(1)} µs/req (cpuUsage, measured window); profile: ${newest.name}; ` +
  `sampling interval ${interval} µs; samples of the measured window only.`;
const { text: summary } = summarize(profile, { requests: measured.server.requests, window: measured.window, title });
const out = `${dir}${file.replace(/\.mjs$/, '')}-${workload}.txt`;
writeFileSync(out, `${summary}\n`);
console.log(summary);
console.log(`\nsummary: ${out}`);
