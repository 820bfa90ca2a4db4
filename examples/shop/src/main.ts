import type { AddressInfo } from 'node:net';
import { adapterFromEnv, type AdapterChoice } from './adapter.js';
import { createApp } from './app.js';
import { coordinatorFromEnv, type CoordinatorChoice } from './coordinator.js';

/** A non-negative integer from the environment, or `fallback` when unset. */
function envInt(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min) {
    console.error(`${name} must be an integer >= ${min}, got ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return value;
}

/** An optional integer from the environment (`undefined` when unset: Reprise's default applies). */
function envOptionalInt(name: string, min: number): number | undefined {
  const raw = process.env[name];
  return raw === undefined || raw === '' ? undefined : envInt(name, 0, min);
}

const port = envInt('PORT', 3000, 0); // 0: any free port (the listening line says which)
const maxSessions = envInt('REPRISE_MAX_SESSIONS', 3, 1);
const idleTimeout = envInt('REPRISE_IDLE_TIMEOUT_MS', 60_000, 1);
const checkpointInterval = envOptionalInt('REPRISE_CHECKPOINT_INTERVAL_MS', 0); // 0: off
const leaseMs = envOptionalInt('REPRISE_LEASE_MS', 30);
const handoverTimeout = envOptionalInt('REPRISE_HANDOVER_TIMEOUT_MS', 1);

// Comma-separated cookie signing keys, newest first (a development key otherwise).
const keys = process.env.REPRISE_KEYS?.split(',').filter((key) => key !== '');

// REPRISE_ADAPTER=memory (default) | redis (REDIS_URL, REPRISE_PREFIX) | postgres (DATABASE_URL, REPRISE_TABLE).
// REPRISE_COORDINATOR=1 (redis or postgres only): several instances, with leases and hand-overs on that store.
let choice: AdapterChoice;
let coordination: CoordinatorChoice | undefined;
try {
  choice = adapterFromEnv(process.env);
  coordination = coordinatorFromEnv(process.env, choice.kind);
  if (coordination === undefined) {
    for (const name of ['REPRISE_LEASE_MS', 'REPRISE_HANDOVER_TIMEOUT_MS'] as const) {
      if (process.env[name]) throw new Error(`${name} needs REPRISE_COORDINATOR=1 (several instances)`);
    }
  }
} catch (error) {
  console.error((error as Error).message);
  process.exit(2);
}

const { app, middleware } = createApp({
  maxSessions,
  idleTimeout,
  checkpointInterval,
  adapter: choice.adapter,
  keys: keys?.length ? keys : undefined,
  ...(coordination === undefined
    ? {}
    : { coordinator: coordination.coordinator, instanceId: coordination.instanceId, leaseMs, handoverTimeout }),
});
const { manager } = middleware;

const server = app.listen(port);
server.on('error', (error) => {
  console.error(`cannot listen on port ${port}: ${error.message}`);
  process.exit(1);
});
server.on('listening', () => {
  const { port: bound } = server.address() as AddressInfo;
  console.log(
    `Reprise shop listening on http://localhost:${bound} ` +
      `(${choice.description}, maxSessions=${maxSessions}, idleTimeout=${idleTimeout} ms` +
      (coordination === undefined ? '' : `; instance ${coordination.instanceId}, pid ${process.pid}, ${coordination.description}`) +
      '; Ctrl-C to stop)',
  );
  // REPRISE_INSTRUCTIONS=0: no curl walk-through (the cluster launcher prints its own).
  if (process.env.REPRISE_INSTRUCTIONS !== '0') console.log(instructions(`http://localhost:${bound}`));
  if (choice.kind !== 'memory') void probe();
});

/** Tells at once whether the store answers. Not fatal: sessions keep working, and snapshots wait in core's retry queue. */
async function probe(): Promise<void> {
  try {
    await choice.adapter.load('reprise-shop:probe');
    console.log(`[reprise] ${choice.kind} store reachable`);
  } catch (error) {
    const cause = (error as Error).cause instanceof Error ? `: ${((error as Error).cause as Error).message}` : '';
    console.log(
      `[reprise] warning: the ${choice.kind} store is unreachable now (${(error as Error).message}${cause}); live sessions keep working and snapshots are retried until it is back`,
    );
  }
}

let stopping = false;
async function stop(signal: string): Promise<void> {
  if (stopping) {
    console.log(`${signal} again: exiting without waiting`);
    process.exit(1);
  }
  stopping = true;
  console.log(`${signal}: stopping; every live session closes with reason 'shutdown' (its closing hook runs)`);
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  try {
    await manager.shutdown(); // waits for requests in flight, runs the closing hooks, writes the snapshots, releases the leases
    server.closeAllConnections();
    await closed;
    await coordination?.coordinator.leave(); // stops taking hand-over requests, closes the coordinator's connections
    await manager.adapter.close?.(); // the manager never closes the adapter: its owner does
  } catch (error) {
    console.error('shutdown failed:', error);
    process.exit(1);
  }
  const { closed: byReason, persisted, handoversIn, handoversOut, takeovers, adoptions, leasesLost } = manager.stats();
  const several =
    coordination === undefined
      ? ''
      : `; hand-overs in ${handoversIn}, out ${handoversOut}, takeovers ${takeovers}, adoptions ${adoptions}, leases lost ${leasesLost}`;
  console.log(`shutdown complete: closed ${JSON.stringify(byReason)}; snapshots written: ${persisted}${several}`);
  process.exit(0);
}
process.on('SIGINT', (signal) => void stop(signal));
process.on('SIGTERM', (signal) => void stop(signal));
// Started by a launcher with an IPC channel (the cluster): stop cleanly if the launcher goes away.
if (process.send !== undefined) {
  process.on('disconnect', () => {
    if (!stopping) void stop('launcher gone');
  });
}

function instructions(base: string): string {
  const c = (jar: string, rest: string): string => `  curl -s -c ${jar}.jar -b ${jar}.jar ${rest}`;
  // v2 .. v(maxSessions + 1): enough visitors to push v1 out.
  const others =
    maxSessions <= 10 ? Array.from({ length: maxSessions }, (_, i) => `v${i + 2}`).join(' ') : `$(seq -f v%g 2 ${maxSessions + 1})`;
  return [
    '',
    `Try it (in another terminal; each cookie jar file is one browser; watch this log):`,
    '',
    `# 1. Visitor v1 fills a cart (the first write creates the session and its cookie)`,
    c('v1', `-X POST '${base}/cart/apple?qty=2'`),
    c('v1', `-X POST ${base}/cart/pear`),
    `# 2. ${maxSessions} more visitors; with maxSessions=${maxSessions} the last one evicts the oldest idle session (v1): its closing hook logs what it saved`,
    `  for v in ${others}; do curl -s -c $v.jar -b $v.jar -X POST ${base}/cart/milk; echo; done`,
    `# 3. v1 comes back with its cookie: the cart is restored under the same session id (the cookie does not change)`,
    c('v1', `${base}/cart`),
    c('v1', `${base}/me                      # the live activity log starts again at the restore`),
    `# 4. The stats: closes by reason, restores; and v1's id and expiry`,
    c('v1', `${base}/admin/sessions`),
    `# 5. Close v1 by hand: an involuntary reason is restored from the cookie, 'closed' is not`,
    c('v1', `-X POST '${base}/admin/close?reason=expired'`),
    c('v1', `${base}/cart                    # restored`),
    c('v1', `-X POST '${base}/admin/close?reason=closed'`),
    c('v1', `${base}/cart                    # empty: an explicit close is final`),
    `# 6. Preferences follow the user: log in, set them, log out in browser a1 ...`,
    c('a1', `-X POST '${base}/login?user=alice'`),
    c('a1', `-X POST '${base}/prefs?theme=dark&lang=fr'`),
    c('a1', `-X POST ${base}/logout`),
    `#    ... and log in from another browser a2: the preferences come back`,
    c('a2', `-X POST '${base}/login?user=alice'`),
    `# 7. Open ${base}/admin/live in a browser: the live sessions (age, idle time, data size), closes per`,
    `#    minute by reason, and a Close button per session`,
    `# 8. Stop the server (Ctrl-C): every live session's closing hook runs with reason 'shutdown'`,
    `#    (rm -f v*.jar a?.jar to start over)`,
    '',
  ].join('\n');
}
