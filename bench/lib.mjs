// Runner-side plumbing shared by http.mjs, cluster.mjs and profile.mjs: start a server process, prepare the
// returning visitors' cookies, drive load with autocannon from this process, sample the server's
// CPU over IPC, and clean the Redis keys a server left.
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { createClient } from '@keyv/redis';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const SERVERS = fileURLToPath(new URL('./servers/', import.meta.url));

/**
 * Forks `servers/<file>` and resolves once it listens.
 * @returns {Promise<{ child: import('node:child_process').ChildProcess, port: number, url: string }>}
 */
export async function startServer(file, env = {}, execArgv = []) {
  // An absolute path runs a server file of another checkout (http.mjs's BENCH_BASELINE).
  const child = fork(file.startsWith('/') ? file : SERVERS + file, [], {
    env: { ...process.env, ...env },
    execArgv,
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const ready = new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${file} exited with ${code} before listening`)));
    child.on('message', (message) => {
      if (message?.type === 'ready') resolve(message.port);
    });
  });
  const port = await ready;
  return { child, port, url: `http://127.0.0.1:${port}` };
}

/** One sample of the server's own counters (CPU, requests served, memory, variant figures). */
export function sample(child) {
  return new Promise((resolve) => {
    const onMessage = (message) => {
      if (message?.type !== 'sample') return;
      child.off('message', onMessage);
      resolve(message);
    };
    child.on('message', onMessage);
    child.send({ type: 'sample' });
  });
}

export async function stopServer(child) {
  if (child.exitCode !== null) return;
  const exited = once(child, 'exit');
  child.send({ type: 'stop' });
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** The `name=value` pairs of a response's Set-Cookie headers, as one Cookie header. */
function cookieHeaderOf(response) {
  return response.headers
    .getSetCookie()
    .map((line) => line.split(';', 1)[0])
    .filter((pair) => pair.indexOf('=') < pair.length - 1) // a cleared cookie (empty value) is no cookie
    .join('; ');
}

/**
 * The returning visitors: `count` sessions, each created by one request without a cookie.
 * For bare Koa (no Set-Cookie) each visitor gets a dummy cookie of the same shape as Reprise's,
 * so that every variant parses the same request bytes.
 */
export async function createVisitors(url, count, { expectCookie = true } = {}) {
  const cookies = [];
  for (let i = 0; i < count; i += 1) {
    const response = await fetch(`${url}/`);
    await response.arrayBuffer();
    if (response.status !== 200) throw new Error(`visitor setup: status ${response.status}`);
    let cookie = cookieHeaderOf(response);
    if (cookie === '') {
      if (expectCookie) throw new Error('visitor setup: no session cookie set');
      const id = Buffer.from(String(i).padStart(18, '0')).toString('base64url');
      cookie = `reprise.sid=${id}; reprise.sid.sig=${'x'.repeat(27)}`;
    }
    cookies.push(cookie);
  }
  return cookies;
}

/** GETs `/` with `cookie` and returns the JSON body (used to check that a visitor still counts up). */
export async function getViews(url, cookie) {
  const response = await fetch(`${url}/`, { headers: cookie ? { cookie } : {} });
  return (await response.json()).views;
}

/**
 * Runs autocannon against `url` for `duration` s with `connections` connections from this process.
 * `cookies`: the returning visitors' Cookie headers, sent round-robin over all connections
 * (one shared counter, so concurrent connections hit different sessions); none: new visitors.
 * Latencies are collected from every response at full resolution (autocannon's own histogram
 * rounds to whole ms, too coarse for loopback p99s).
 */
export async function load(url, { duration, connections, cookies }) {
  const options = { url: `${url}/`, connections, duration, pipelining: 1 };
  if (cookies !== undefined) {
    const headers = cookies.map((cookie) => ({ cookie }));
    let next = 0;
    options.requests = [
      {
        method: 'GET',
        path: '/',
        setupRequest(request) {
          request.headers = headers[next];
          next = next + 1 === headers.length ? 0 : next + 1;
          return request;
        },
      },
    ];
  }
  let latencies = new Float64Array(1 << 16);
  let n = 0;
  const loadCpu = process.cpuUsage();
  const busyBefore = machineBusyUs();
  const instance = autocannon(options);
  instance.on('response', (_client, status, _bytes, responseTime) => {
    if (status < 200 || status >= 300) return;
    if (n === latencies.length) {
      const bigger = new Float64Array(latencies.length * 2);
      bigger.set(latencies);
      latencies = bigger;
    }
    latencies[n++] = responseTime;
  });
  const result = await instance;
  const cpu = process.cpuUsage(loadCpu);
  const busyAfter = machineBusyUs();
  const sorted = latencies.subarray(0, n).sort();
  const at = (q) => (n === 0 ? NaN : sorted[Math.min(n - 1, Math.ceil(q * n) - 1)]);
  return {
    requests: result.requests.total,
    ok: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    duration: result.duration,
    rps: result['2xx'] / result.duration,
    p50: at(0.5),
    p99: at(0.99),
    max: n === 0 ? NaN : sorted[n - 1],
    autocannonP99: result.latency.p99,
    loadCpuUs: cpu.user + cpu.system,
    machineBusyUs: busyBefore === undefined ? undefined : busyAfter - busyBefore,
  };
}

/**
 * CPU time the whole machine spent busy so far, in µs (Linux /proc/stat; `undefined` elsewhere).
 * Compared with what the server and the load generator used, it shows how much CPU other
 * processes took during a run: on a shared 2-core machine that is the main source of noise.
 */
export function machineBusyUs() {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number);
    const [user, nice, system, _idle, _iowait = 0, irq = 0, softirq = 0, steal = 0] = fields;
    return ((user + nice + system + irq + softirq + steal) * 1e6) / 100; // USER_HZ = 100
  } catch {
    return undefined;
  }
}

/** Deletes every Redis key under `prefix` (SCAN + UNLINK); returns how many. */
export async function cleanRedis(prefix) {
  const client = createClient({ url: REDIS_URL });
  client.on('error', () => {});
  await client.connect();
  let removed = 0;
  try {
    for await (const found of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) {
      const keys = Array.isArray(found) ? found : [found];
      if (keys.length === 0) continue;
      removed += await client.unlink(keys);
    }
  } finally {
    await client.close();
  }
  return removed;
}

/** Server figures between two samples: CPU µs per request, share of a core, and the variant's counters. */
export function between(a, b) {
  const requests = b.requests - a.requests;
  const cpuUs = b.cpu.user + b.cpu.system - (a.cpu.user + a.cpu.system);
  const wallUs = b.hrtime - a.hrtime;
  const delta = {};
  for (const [key, value] of Object.entries(b.extra ?? {})) {
    delta[key] = typeof value === 'number' ? value - (a.extra?.[key] ?? 0) : value;
  }
  return {
    requests,
    cpuUsPerReq: requests > 0 ? cpuUs / requests : NaN,
    userUsPerReq: requests > 0 ? (b.cpu.user - a.cpu.user) / requests : NaN,
    systemUsPerReq: requests > 0 ? (b.cpu.system - a.cpu.system) / requests : NaN,
    cpuShare: cpuUs / wallUs,
    rssMb: b.rss / 2 ** 20,
    heapUsedMb: b.heapUsed / 2 ** 20,
    counters: delta,
    gauges: { live: b.extra?.live, pendingPersists: b.extra?.pendingPersists },
  };
}

/**
 * A positive number from the environment variable `name`, or `fallback` when unset or empty.
 * `integer`: it must also be an integer. Throws a clear message otherwise.
 */
export function envNumber(name, fallback, { integer = false } = {}) {
  const value = process.env[name] === undefined || process.env[name] === '' ? fallback : Number(process.env[name]);
  if (!(integer ? Number.isInteger(value) : Number.isFinite(value)) || value <= 0)
    throw new Error(`${name} must be a positive ${integer ? 'integer' : 'number'}`);
  return value;
}

/** Waits (at most `quietWait` s) until the machine's busy CPU, nothing of ours running, is under `quiet` cores. */
export async function waitForQuiet({ quiet, quietWait }) {
  const until = Date.now() + quietWait * 1000;
  while (Date.now() < until) {
    const before = machineBusyUs();
    if (before === undefined) return;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    if ((machineBusyUs() - before) / 1e6 < quiet) return;
  }
}
