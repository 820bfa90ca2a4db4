// The session structures in process: heap per live session beyond its data, and the cost per
// operation of create, touch, evict and expire at 1k, 100k and 1M live sessions, next to lru-cache
// (with a TTL, holding the same data objects) and a plain Map, in the same run.
//
//   npx tsc -b && node bench/structures.mjs            (about 60-90 s)
//   node bench/structures.mjs --quick                  (no 1M rows)
//
// How: each size runs in its own child process started with --expose-gc (a clean heap, no JIT state
// from another size). Memory: heapUsed after two full GCs, before and after building the structure
// with N sessions, the data objects allocated beforehand (so "beyond its data": ids, entries, the
// session objects), after a warm-up of the same code on a throwaway structure. Operations: CPU time
// (process.cpuUsage, user + system, so the other processes on the machine do not count) of a round of
// operations at a steady size, median of 3 rounds. Every Reprise manager has a MemoryAdapter (defaults)
// and a frozen, injected clock (so nothing expires unless the benchmark moves it).
// - create: SessionManager.create() below the cap, in batches of at most size/10 (the batch's sessions are
//   closed, untimed, after it, so the size stays near N); lru-cache: set() of new keys, same batches.
// - touch: SessionManager.touch(id) of a random live session; lru-cache: get(id) (updateAgeOnGet).
// - evict: create() at the cap: one eviction per create, the victim's close (hooks, encode, write into
//   the MemoryAdapter) included (the CPU until every close finished); lru-cache at its max: set() of a
//   new key, bare and with a dispose() that encodes the same snapshot (encodeSnapshot) and saves it in
//   a MemoryAdapter. The close path alone: close(id, 'evicted') of idle sessions at the same size.
// - expire: the oldest N/10 sessions (at most 20,000) reach their idle deadline together; the CPU from the
//   clock step until every one closed (paced by ClosePacer over turns of the event loop), per session;
//   lru-cache: purgeStale() of as many entries stale together, with the same dispose() (encode + save).
// Results: bench/results/structures-<timestamp>.json.
import { fork } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const SELF = fileURLToPath(import.meta.url);
const MEMORY_SIZES = [10_000, 100_000, 1_000_000];
const OP_SIZES = [1_000, 100_000, 1_000_000];
/** The goals: bytes per session, and the flatness and peer ratios of the operations. */
const MAX_BYTES = 300;
const MAX_GROWTH = 1.5;
const MAX_VS_LRU = 2;

// ---------------------------------------------------------------- child side: the measurements

const heap = () => process.memoryUsage().heapUsed;
const cpu = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) * 1_000; // ns
};
/** With STRUCTURES_VERBOSE=1, each phase's end and its seconds on stderr. */
let phaseStart = performance.now();
const phase = (name) => {
  if (process.env.STRUCTURES_VERBOSE) console.error(`  ${name}: ${((performance.now() - phaseStart) / 1000).toFixed(1)} s`);
  phaseStart = performance.now();
};
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const turn = () => new Promise((resolve) => setImmediate(resolve));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A full GC, then time for the GC's background threads (concurrent sweeping) to finish: their CPU is
 * the process's, and would otherwise be counted in the next measurement.
 */
async function quiet() {
  // A scavenge (young generation) is enough: a full GC of a 1M-session heap would take a second.
  globalThis.gc({ type: 'minor' });
  await sleep(30);
}

/** heapUsed once pending work ran and full GCs no longer change it (sweeping and timers settle). */
async function settledHeap() {
  let last = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 6; i++) {
    await sleep(10);
    globalThis.gc();
    const now = heap();
    // Stable within 0.1 % (or 64 KiB): a full GC of a large heap takes a while, so few of them.
    if (Math.abs(now - last) < Math.max(64 * 1024, now / 1000)) return now;
    last = now;
  }
  return last;
}
const dataFor = (i) => ({ user: i, views: 1, cart: ['a', 'b'] });

async function libs() {
  const { SessionManager } = await import('@reprise/core');
  const { encodeSnapshot, newSessionId } = await import('@reprise/core/adapter-kit');
  const { MemoryAdapter } = await import('@reprise/memory');
  const { LRUCache } = await import('lru-cache');
  // Internal modules (not exported by the package), for the rows of the structures without the close path.
  const { Registry } = await import('../packages/core/dist/registry.js');
  const { LiveSession } = await import('../packages/core/dist/live-session.js');
  return { SessionManager, encodeSnapshot, newSessionId, MemoryAdapter, LRUCache, Registry, LiveSession };
}

/** A clock that stands still unless moved. */
function frozenClock() {
  const clock = { t: Date.now(), now: () => clock.t };
  return clock;
}

/** Waits until the manager has no close running (the async part of evictions and expiries). */
async function settled(manager) {
  while (manager.stats().closing > 0) await turn();
}

/**
 * A MemoryAdapter with its defaults, already at its bound (10,000 entries): every later save drops the
 * oldest entry, at every size alike (otherwise whether saves drop depends on how many ran before).
 */
function fullAdapter(L) {
  const adapter = new L.MemoryAdapter();
  for (let i = 0; i < 10_000; i++) void adapter.save(`fill:${i}`, 'x');
  return adapter;
}

function newManager(L, maxSessions, clock, idleTimeout = 8 * 3_600_000) {
  return new L.SessionManager({ adapter: fullAdapter(L), maxSessions, idleTimeout, now: clock.now });
}

/** A session owner that is never called (the structures rows close nothing). */
const OWNER = {};

/** The manager's registry alone (maxSessions the size of the run), on the frozen clock, no close path. */
function structureOnly(L, clock, idleTimeout, events) {
  const settings = { maxSessions: Number.MAX_SAFE_INTEGER, idleTimeout, absoluteTimeout: undefined };
  const pacer = { take: () => true, next: () => Promise.resolve() };
  const registry = new L.Registry(settings, clock.now, { expired() {}, evict() {}, ...events }, pacer);
  return { registry, settings };
}

/** lru-cache as a session store: idle TTL slid by get(), on the same frozen clock. */
function newLru(L, max, clock, dispose) {
  return new L.LRUCache({
    max,
    ttl: 8 * 3_600_000,
    updateAgeOnGet: true,
    // Read the clock at every check (by default lru-cache keeps a reading for 1 ms of real time).
    ttlResolution: 0,
    perf: { now: clock.now },
    ...(dispose === undefined ? {} : { dispose }),
  });
}

/** lru-cache's counterpart of a close: the same snapshot encoded and saved in a MemoryAdapter. */
function encodeAndSave(L, clock) {
  const adapter = fullAdapter(L);
  return (data, key) => {
    const snapshot = { version: 1, key, sessionId: key, data, createdAt: clock.t, closedAt: clock.t, reason: 'evicted' };
    void adapter.save(key, L.encodeSnapshot(snapshot, 1 << 20).text, 86_400_000);
  };
}

/** The same code compiled on a throwaway structure (out of scope once done), so code and feedback are not counted. */
async function warmUp(name, build) {
  const warm = build(30_000, dataFor);
  if (name === 'reprise') await warm.shutdown();
}

/**
 * Heap per entry of a structure of `n` entries. In a function of its own: once it returns nothing
 * refers to the structure (a variable of a loop would keep it alive into the next measurement).
 */
async function bytesPerEntry(build, n, datas) {
  const before = await settledHeap();
  const built = build(n, (i) => datas[i]);
  const after = await settledHeap();
  if (built.size !== n) throw new Error(`${built.size} entries, not ${n}`);
  return (after - before) / n;
}

async function memoryRows(L, n) {
  const datas = Array.from({ length: n }, (_, i) => dataFor(i));
  const clock = frozenClock();
  // Each builds a structure of `count` sessions; Reprise's adapter is empty (nothing closes). Reprise
  // last: a manager holds a timer, so it is not dropped but measured last.
  const builders = {
    Map: (count, data) => {
      const map = new Map();
      for (let i = 0; i < count; i++) map.set(L.newSessionId(), data(i));
      return map;
    },
    'lru-cache': (count, data) => {
      const lru = newLru(L, count + 10, clock);
      for (let i = 0; i < count; i++) lru.set(L.newSessionId(), data(i));
      return lru;
    },
    reprise: (count, data) => {
      const manager = new L.SessionManager({
        adapter: new L.MemoryAdapter({ maxEntries: 1e9 }),
        maxSessions: count + 10,
        now: clock.now,
      });
      for (let i = 0; i < count; i++) manager.create(data(i));
      return manager;
    },
  };
  const bytes = {};
  for (const [name, build] of Object.entries(builders)) {
    await warmUp(name, build);
    bytes[name] = await bytesPerEntry(build, n, datas);
    phase(`memory ${name} ${n}`);
  }
  return bytes;
}

/** Runs `round` (which returns its ns and op count) 3 times; the median ns per op. */
async function perOp(round) {
  const results = [];
  for (let r = 0; r < 3; r++) {
    const { ns, ops } = await round();
    results.push(ns / ops);
  }
  return median(results);
}

async function opRows(L, n, quick) {
  const rows = {};
  const clock = frozenClock();
  const touches = n >= 1_000_000 ? 30_000 : quick ? 50_000 : 200_000;
  const batch = Math.min(Math.max(100, n / 10), 5_000);
  // At least 20,000 operations a round (10,000 quick), in batches that keep the size within 10 % of N.
  const batches = n >= 1_000_000 ? 2 : Math.max(4, Math.ceil((quick ? 10_000 : 20_000) / batch));

  // Expire: idleTimeout 20 ms on the frozen clock. 10 groups of k = 100 sessions made active 2 ms
  // apart, and the rest of the N held busy (as by a request in flight: never expired; lru-cache, which
  // has no such state, reads them every 9 steps instead). Each step moves the clock 2 ms: the oldest
  // group's deadline passes, its k sessions expire (CPU from the step until all closed), and k new
  // ones refill it (untimed). The same k at every size, so that every size pays the same per step
  // (the timer's wake-up after a real wait). 20 steps a round; round 0 warms up, rounds 1-3 measured.
  const k = Math.min(100, Math.floor(n / 10));
  const expireCycles = async ({ add, hold, refresh, wait, stepsPerRound = 20 }, t0) => {
    for (let g = 0; g < 10; g++) {
      clock.t = t0 + 2 * g;
      for (let i = 0; i < k; i++) add(i);
    }
    const rest = [];
    for (let i = 10 * k; i < n; i++) rest.push(hold(add(i)));
    clock.t = t0 + 19;
    const perRound = [];
    let expired = 0;
    for (let round = 0; round < 4; round++) {
      await quiet();
      let ns = 0;
      for (let step = 0; step < stepsPerRound; step++) {
        if (refresh !== undefined && (round * stepsPerRound + step) % 9 === 0) {
          clock.t += 1;
          refresh(rest);
          clock.t += 1;
        } else clock.t += 2;
        const start = cpu();
        expired += k;
        await wait(expired);
        ns += cpu() - start;
        for (let i = 0; i < k; i++) add(i);
      }
      perRound.push(ns / (k * stepsPerRound));
    }
    return { perOp: median(perRound.slice(1)), rest };
  };
  // Each structure on its own stretch of the clock, earlier than the manager's, whose sessions must
  // not expire afterwards: the clock ends where the manager's run ended.
  const T = clock.t;
  const manager = newManager(L, n * 2 + 10, clock, 20);
  const managerRun = await expireCycles(
    {
      add: (i) => manager.create(dataFor(i)),
      hold: (session) => manager.acquire(session.id),
      wait: async (count) => {
        // The timer is armed (real delay) for the oldest deadline: 2 ms after the previous step.
        await sleep(2);
        while (manager.stats().closed.expired < count) await sleep(1);
        await settled(manager);
      },
    },
    T,
  );
  rows.expire = managerRun.perOp;
  phase(`expire manager ${n}`);
  for (const session of managerRun.rest) manager.release(session);
  const managerEnd = clock.t;
  {
    let expired = 0;
    const { registry } = structureOnly(L, clock, 20, {
      expired: (session) => {
        registry.remove(session);
        expired += 1;
      },
    });
    const registryRun = await expireCycles(
      {
        add: (i) => {
          const session = new L.LiveSession(OWNER, L.newSessionId(), dataFor(i), clock.t, clock.t);
          registry.add(session);
          return session;
        },
        hold: (session) => {
          registry.hold(session);
          return session;
        },
        wait: async (count) => {
          await sleep(2);
          while (expired < count) await sleep(1);
        },
      },
      T - 1e7,
    );
    rows.structExpire = registryRun.perOp;
    phase(`expire registry ${n}`);
    registry.stop();
  }
  for (const [name, dispose, t0] of [
    ['lruPurge', undefined, T - 2e7],
    ['lruExpire', encodeAndSave(L, clock), T - 3e7],
  ]) {
    // ttl 19: lru-cache's entries are stale once older than ttl, Reprise's sessions at their deadline.
    const lru = new L.LRUCache({
      max: n * 2 + 10,
      ttl: 19,
      updateAgeOnGet: true,
      ttlResolution: 0,
      perf: { now: clock.now },
      ...(dispose ? { dispose } : {}),
    });
    const lruRun = await expireCycles(
      {
        add: (i) => {
          const key = L.newSessionId();
          lru.set(key, dataFor(i));
          return key;
        },
        hold: (key) => key,
        // purgeStale() walks all N entries: at 1M, a few steps say enough.
        stepsPerRound: n >= 1_000_000 ? 1 : 20,
        refresh: (rest) => {
          for (const key of rest) lru.get(key);
        },
        wait: async () => {
          lru.purgeStale();
        },
      },
      t0,
    );
    rows[name] = lruRun.perOp;
    phase(`${name} ${n}`);
    if (lru.size !== n) throw new Error(`lru-cache at ${lru.size}, not ${n}`);
  }
  clock.t = managerEnd;
  if (manager.size !== n) throw new Error(`manager at ${manager.size}, not ${n}`);

  const ids = manager.sessions().map((s) => s.id);
  const picks = Uint32Array.from({ length: touches }, () => Math.floor(Math.random() * ids.length));
  rows.touch = await perOp(async () => {
    await quiet();
    const start = cpu();
    for (let i = 0; i < touches; i++) manager.touch(ids[picks[i]]);
    return { ns: cpu() - start, ops: touches };
  });
  // The same touches within 1,000 sessions: what the structures cost without the cache misses of a
  // random session among N.
  const hot = Uint32Array.from(picks, (p) => p % Math.min(1_000, ids.length));
  rows.hotTouch = await perOp(async () => {
    await quiet();
    const start = cpu();
    for (let i = 0; i < touches; i++) manager.touch(ids[hot[i]]);
    return { ns: cpu() - start, ops: touches };
  });
  rows.request = await perOp(async () => {
    await quiet();
    const start = cpu();
    for (let i = 0; i < touches; i++) manager.release(manager.acquire(ids[picks[i]]));
    return { ns: cpu() - start, ops: touches };
  });
  phase(`touch ${n}`);
  rows.create = await perOp(async () => {
    let ns = 0;
    await quiet();
    for (let b = 0; b < batches; b++) {
      const made = [];
      const start = cpu();
      for (let i = 0; i < batch; i++) made.push(manager.create(dataFor(i)));
      ns += cpu() - start;
      for (const session of made) void manager.close(session.id);
      await settled(manager);
    }
    return { ns, ops: batch * batches };
  });
  phase(`create ${n}`);
  // The close path alone, at the same size: close(id, 'evicted') of idle sessions, until they all closed.
  rows.close = await perOp(async () => {
    let ns = 0;
    await quiet();
    for (let b = 0; b < batches; b++) {
      const made = Array.from({ length: batch }, (_, i) => manager.create(dataFor(i)));
      const start = cpu();
      for (const session of made) void manager.close(session.id, 'evicted');
      await settled(manager);
      ns += cpu() - start;
    }
    return { ns, ops: batch * batches };
  });
  phase(`close ${n}`);
  // At the cap: every create evicts one idle session (the least recently active of the probation segment).
  manager.setOption('maxSessions', manager.size);
  await settled(manager);
  rows.evict = await perOp(async () => {
    await quiet();
    const ops = batch * batches;
    const start = cpu();
    for (let b = 0; b < batches; b++) {
      for (let i = 0; i < batch; i++) manager.create(dataFor(i));
      await settled(manager);
    }
    return { ns: cpu() - start, ops };
  });
  phase(`evict ${n}`);
  // No shutdown: it would close (and write) N sessions; the process ends after the measurements.
  {
    // The same create at the cap, structures only: the victim leaves the registry, nothing else.
    const { registry, settings } = structureOnly(L, clock, 8 * 3_600_000, { evict: (session) => registry.remove(session) });
    for (let i = 0; i < n; i++) registry.add(new L.LiveSession(OWNER, L.newSessionId(), dataFor(i), clock.t, clock.t));
    settings.maxSessions = n;
    rows.structEvict = await perOp(async () => {
      const ops = batch * batches;
      await quiet();
      const start = cpu();
      for (let i = 0; i < ops; i++) {
        const session = new L.LiveSession(OWNER, L.newSessionId(), dataFor(i), clock.t, clock.t);
        registry.makeRoom();
        registry.add(session);
      }
      return { ns: cpu() - start, ops };
    });
    if (registry.size !== n) throw new Error(`registry at ${registry.size}, not ${n}`);
    registry.stop();
  }

  phase(`evict registry ${n}`);
  const lru = newLru(L, n * 2 + 10, clock);
  const keys = [];
  for (let i = 0; i < n; i++) {
    const key = L.newSessionId();
    keys.push(key);
    lru.set(key, dataFor(i));
  }
  rows.lruGet = await perOp(async () => {
    await quiet();
    const start = cpu();
    for (let i = 0; i < touches; i++) lru.get(keys[picks[i]]);
    return { ns: cpu() - start, ops: touches };
  });
  rows.lruHotGet = await perOp(async () => {
    await quiet();
    const start = cpu();
    for (let i = 0; i < touches; i++) lru.get(keys[hot[i]]);
    return { ns: cpu() - start, ops: touches };
  });
  rows.lruSet = await perOp(async () => {
    let ns = 0;
    await quiet();
    for (let b = 0; b < batches; b++) {
      const made = new Array(batch);
      const start = cpu();
      // A new visitor needs an id, as SessionManager.create() draws one.
      for (let i = 0; i < batch; i++) lru.set((made[i] = L.newSessionId()), dataFor(i));
      ns += cpu() - start;
      for (const key of made) lru.delete(key);
    }
    return { ns, ops: batch * batches };
  });
  phase(`lru get/set ${n}`);
  for (const [name, dispose] of [
    ['lruEvict', undefined],
    ['lruEvictEncode', encodeAndSave(L, clock)],
  ]) {
    const full = newLru(L, n, clock, dispose);
    for (let i = 0; i < n; i++) full.set(L.newSessionId(), dataFor(i));
    rows[name] = await perOp(async () => {
      const ops = batch * batches;
      await quiet();
      const start = cpu();
      for (let i = 0; i < ops; i++) full.set(L.newSessionId(), dataFor(i));
      await turn();
      return { ns: cpu() - start, ops };
    });
  }
  phase(`lru evict ${n}`);
  // MemoryAdapter's bound: a save past maxEntries (= N, up to 100k) drops the oldest-written entry.
  if (n <= 100_000) {
    const adapter = new L.MemoryAdapter({ maxEntries: n, onDrop: () => {} });
    for (let i = 0; i < n; i++) void adapter.save(`k${i}`, 'v', 3_600_000);
    let round = 0;
    rows.adapterBound = await perOp(async () => {
      const ops = 20_000;
      round += 1;
      await quiet();
      const start = cpu();
      for (let i = 0; i < ops; i++) void adapter.save(`r${round}:${i}`, 'v', 3_600_000);
      return { ns: cpu() - start, ops };
    });
    if (adapter.size !== n) throw new Error(`adapter at ${adapter.size}, not ${n}`);
  }
  phase(`adapter bound ${n}`);
  return rows;
}

async function child() {
  const [, , , sizeArg, what, quickArg] = process.argv;
  const n = Number(sizeArg);
  const L = await libs();
  // With the defaults, each MemoryAdapter drop past maxEntries is a process warning: not the point here.
  process.removeAllListeners('warning');
  process.on('warning', () => {});
  const out = {};
  if (what.includes('memory')) out.memory = await memoryRows(L, n);
  if (what.includes('ops')) out.ops = await opRows(L, n, quickArg === 'quick');
  process.send(out, () => process.exit(0));
}

// ---------------------------------------------------------------- parent side: the table and goals

function measureIn(size, what, quick) {
  return new Promise((resolve, reject) => {
    const proc = fork(SELF, ['--child', String(size), what.join(','), quick ? 'quick' : 'full'], {
      execArgv: ['--expose-gc', '--max-old-space-size=4096'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let result;
    proc.on('message', (message) => {
      result = message;
    });
    proc.on('exit', (code) => (code === 0 && result ? resolve(result) : reject(new Error(`size ${size}: child exited with ${code}`))));
  });
}

const fmt = (ns) => Math.round(ns).toLocaleString('en-US');

/** @returns {Promise<{ name: string, title: string, columns: string[], rows: (string|number)[][], goals: { goal: string, target: string, measured: string, met: boolean }[], notes: string[] }>} */
export async function run({ quick = false } = {}) {
  const memorySizes = quick ? MEMORY_SIZES.slice(0, 2) : MEMORY_SIZES;
  const opSizes = quick ? OP_SIZES.slice(0, 2) : OP_SIZES;
  const sizes = [...new Set([...memorySizes, ...opSizes])].sort((a, b) => a - b);
  const measured = {};
  for (const size of sizes) {
    const what = [memorySizes.includes(size) ? 'memory' : '', opSizes.includes(size) ? 'ops' : ''].filter(Boolean);
    measured[size] = await measureIn(size, what, quick);
  }
  const columns = ['measure', ...sizes.map((s) => `${s.toLocaleString('en-US')} sessions`)];
  const cell = (size, pick) => {
    const value = pick(measured[size]);
    return value === undefined ? '' : value;
  };
  const rows = [
    ['heap B/session beyond data: Reprise', ...sizes.map((s) => cell(s, (m) => m.memory && fmt(m.memory.reprise)))],
    ['heap B/session: lru-cache (ttl)', ...sizes.map((s) => cell(s, (m) => m.memory && fmt(m.memory['lru-cache'])))],
    ['heap B/session: Map', ...sizes.map((s) => cell(s, (m) => m.memory && fmt(m.memory.Map)))],
    ['create ns: Reprise', ...sizes.map((s) => cell(s, (m) => m.ops && fmt(m.ops.create)))],
    ['create ns: lru-cache set', ...sizes.map((s) => cell(s, (m) => m.ops && fmt(m.ops.lruSet)))],
    ['touch ns: Reprise touch(id)', ...sizes.map((s) => cell(s, (m) => m.ops && fmt(m.ops.touch)))],
    ['touch ns: lru-cache get', ...sizes.map((s) => cell(s, (m) => m.ops && fmt(m.ops.lruGet)))],
    ['touch ns, within 1,000 sessions: Reprise', ...sizes.map((s) => cell(s, (m) => m.ops && fmt(m.ops.hotTouch)))],
    ['touch ns, within 1,000 sessions: lru-cache get', ...sizes.map((s) => cell(s, (m) => m.ops && fmt(m.ops.lruHotGet)))],
    ['request ns: Reprise acquire+release', ...sizes.map((s) => cell(s, (m) => m.ops && fmt(m.ops.request)))],
    ['evict ns: Reprise structures (create at cap, victim out)', ...sizes.map((s) => cell(s, (m) => m.ops && fmt(m.ops.structEvict)))],
    ['evict ns: lru-cache set at max', ...sizes.map((s) => cell(s, (m) => m.ops && fmt(m.ops.lruEvict)))],
    ['evict ns: Reprise create at cap, with the close', ...sizes.map((s) => cell(s, (m) => m.ops && fmt(m.ops.evict)))],
    ['  close path alone: close(id, evicted)', ...sizes.map((s) => cell(s, (m) => m.ops && fmt(m.ops.close)))],
    ['evict ns: lru-cache set at max + encode + save', ...sizes.map((s) => cell(s, (m) => m.ops && fmt(m.ops.lruEvictEncode)))],
    ['expire ns: Reprise structures (timer, victim out)', ...sizes.map((s) => cell(s, (m) => m.ops && fmt(m.ops.structExpire)))],
    ['expire ns: lru-cache purgeStale', ...sizes.map((s) => cell(s, (m) => m.ops && fmt(m.ops.lruPurge)))],
    ['expire ns: Reprise, with the close', ...sizes.map((s) => cell(s, (m) => m.ops && fmt(m.ops.expire)))],
    ['expire ns: lru-cache purgeStale + encode + save', ...sizes.map((s) => cell(s, (m) => m.ops && fmt(m.ops.lruExpire)))],
    ['MemoryAdapter save past maxEntries (= N, to 100k) ns', ...sizes.map((s) => cell(s, (m) => m.ops && fmt(m.ops.adapterBound)))],
  ];

  const goals = [];
  const maxBytes = Math.max(...memorySizes.map((s) => measured[s].memory.reprise));
  goals.push({
    goal: 'goal 4: heap per live session beyond its data (10k..1M)',
    target: `<= ${MAX_BYTES} B`,
    measured: memorySizes.map((s) => `${fmt(measured[s].memory.reprise)} B`).join(' / '),
    met: maxBytes <= MAX_BYTES,
  });
  const ops = opSizes.map((s) => measured[s].ops);
  const peerNames = {
    lruSet: 'set',
    lruGet: 'get',
    lruHotGet: 'get',
    lruEvict: 'set at max',
    lruEvictEncode: 'set at max + encode + save',
    lruPurge: 'purgeStale',
    lruExpire: 'purgeStale + encode + save',
  };
  for (const [label, mine, peer] of [
    ['create', 'create', 'lruSet'],
    ['touch (random session)', 'touch', 'lruGet'],
    ['touch (within 1,000 sessions)', 'hotTouch', 'lruHotGet'],
    ['evict (structures)', 'structEvict', 'lruEvict'],
    ['expire (structures)', 'structExpire', 'lruPurge'],
    ['evict with the close', 'evict', 'lruEvictEncode'],
    ['expire with the close', 'expire', 'lruExpire'],
  ]) {
    const values = ops.map((o) => o[mine]);
    const growth = Math.max(...values) / Math.min(...values);
    goals.push({
      goal: `goal 5: ${label} flat from ${opSizes[0].toLocaleString('en-US')} to ${opSizes.at(-1).toLocaleString('en-US')}`,
      target: `<= ${MAX_GROWTH}x`,
      measured: `${growth.toFixed(2)}x (${values.map(fmt).join(' / ')} ns)`,
      met: growth <= MAX_GROWTH,
    });
    const vs = ops.map((o) => o[mine] / o[peer]);
    goals.push({
      goal: `goal 5: ${label} vs lru-cache ${peerNames[peer]}`,
      target: `<= ${MAX_VS_LRU}x at each size`,
      measured: vs.map((v) => `${v.toFixed(2)}x`).join(' / '),
      met: vs.every((v) => v <= MAX_VS_LRU),
    });
  }
  const notes = [
    'Each size in its own process (node --expose-gc); CPU time (user + system) per operation, median of 3 rounds; heap after two full GCs, data objects allocated beforehand, after a warm-up.',
    'Reprise: SessionManager with a MemoryAdapter with its defaults, filled to its bound (10,000 entries) first, so every snapshot written drops the oldest entry at every size alike; a frozen injected clock. Fewer operations at 1M (30,000 touches, 10,000 creates a round).',
    'lru-cache: max above the count (create, touch) or at it (evict), ttl 8 h with updateAgeOnGet, same clock; its evict and expire rows encode the same snapshot (encodeSnapshot) and save it in a MemoryAdapter from dispose().',
    "evict = create at the cap, the victim's close (closing hooks, encode, write) included; \"close path\" = close(id, 'evicted') of idle sessions at the same size, the part of evict that is not the create and the structures.",
    'expire: idleTimeout 20 ms; each 2 ms step of the clock passes the deadline of the oldest 100 sessions (idle: 10 groups of 100; the rest of the N held busy, never expired); CPU from the step until all closed, per session, 2,000 expiries a round (the wake-up of the timer after a real wait is in it, shared by the 100). lru-cache purgeStale() walks every entry, so its per-expiry cost grows with N (at 1M: one step, 100 expiries, a round).',
    `Rerun: node bench/structures.mjs${quick ? ' --quick' : ''}`,
  ];
  return { name: 'structures', title: 'Session structures: memory per session and cost per operation', columns, rows, goals, notes };
}

function printTable(result) {
  const widths = result.columns.map((c, i) => Math.max(c.length, ...result.rows.map((r) => String(r[i]).length)));
  const line = (cells) => cells.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ');
  console.log(`\n${result.title}\n`);
  console.log(line(result.columns));
  for (const row of result.rows) console.log(line(row));
  console.log('\nGoals');
  for (const g of result.goals) console.log(`  ${g.met ? 'met    ' : 'NOT met'}  ${g.goal}: ${g.measured} (target ${g.target})`);
  console.log('');
  for (const note of result.notes) console.log(`- ${note}`);
}

if (process.argv[2] === '--child') {
  await child();
} else if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = await run({ quick: process.argv.includes('--quick') });
  printTable(result);
  const dir = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  const file = `${dir}structures-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`\nJSON: ${file}`);
}
