// The shop as a cluster: N shop processes (dist/main.js, each on a free port, coordinated by leases
// on the store they share) behind a small round-robin proxy on one port.
//
//   npm run cluster -w @reprise-examples/shop            (after `npx tsc -b` at the root)
//   REPRISE_ADAPTER=postgres npm run cluster -w @reprise-examples/shop
//   REPRISE_PROXY=sticky npm run cluster -w @reprise-examples/shop
//
// Environment (besides the shop's own, passed on to every process): PORT (the proxy's, default 3000),
// REPRISE_INSTANCES (3), REPRISE_PROXY (round-robin | sticky), REPRISE_ADAPTER (redis by default
// here; postgres), REPRISE_RESTART (1: a process that dies is replaced; 0: not), and for the demo
// shorter defaults than Reprise's: REPRISE_LEASE_MS (5000) and REPRISE_CHECKPOINT_INTERVAL_MS (1000).
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startProxy, type Backend, type ProxyMode, type RoundRobinProxy } from './proxy.js';

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));
/** How long an instance may take to listen. */
const START_TIMEOUT_MS = 20_000;
/** How long the instances may take to stop after SIGTERM (their own shutdown is bounded by 10 s + 10 s). */
const STOP_TIMEOUT_MS = 30_000;
/** A second signal this soon after the first is the same Ctrl-C delivered twice (the terminal and npm). */
const SAME_SIGNAL_MS = 1_000;
/** Restarts stop after this many processes in a row died this soon after they started. */
const CRASH_LOOP = { ms: 5_000, times: 3 };

function fail(message: string): never {
  console.error(`[cluster] ${message}`);
  process.exit(2);
}

function envInt(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min) fail(`${name} must be an integer >= ${min}, got ${JSON.stringify(raw)}`);
  return value;
}

const port = envInt('PORT', 3000, 0);
const count = envInt('REPRISE_INSTANCES', 3, 1);
const mode = (process.env.REPRISE_PROXY || 'round-robin') as ProxyMode;
if (mode !== 'round-robin' && mode !== 'sticky')
  fail(`REPRISE_PROXY must be round-robin or sticky, got ${JSON.stringify(process.env.REPRISE_PROXY)}`);
const adapter = process.env.REPRISE_ADAPTER || 'redis';
if (adapter !== 'redis' && adapter !== 'postgres') {
  fail(`REPRISE_ADAPTER must be redis or postgres in a cluster (the instances share the store), got ${JSON.stringify(adapter)}`);
}
const restart = (process.env.REPRISE_RESTART ?? '1') !== '0';
const leaseMs = envInt('REPRISE_LEASE_MS', 5_000, 30);
const checkpointMs = envInt('REPRISE_CHECKPOINT_INTERVAL_MS', 1_000, 0);
/** Reprise's default unless set (the instances read it too). */
const handoverMs = envInt('REPRISE_HANDOVER_TIMEOUT_MS', 2_000, 1);

/** What every instance gets on top of this process's environment. */
const shared: NodeJS.ProcessEnv = {
  REPRISE_ADAPTER: adapter,
  REPRISE_COORDINATOR: '1',
  REPRISE_LEASE_MS: String(leaseMs),
  REPRISE_CHECKPOINT_INTERVAL_MS: String(checkpointMs),
  REPRISE_INSTRUCTIONS: '0',
  PORT: '0',
};

const COLORS = [36, 33, 35, 32, 34, 31];
const tty = process.stdout.isTTY === true;
const paint = (text: string, n: number): string => (tty ? `\u001b[${COLORS[n % COLORS.length]}m${text}\u001b[0m` : text);

/** One shop process. */
interface Instance {
  readonly id: string;
  readonly n: number;
  readonly child: ChildProcess;
  readonly startedAt: number;
  port?: number;
  /** Resolves when its stdout and stderr are closed and it exited. */
  readonly closed: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const instances = new Map<string, Instance>();
let serial = 0;
let proxy: RoundRobinProxy | undefined;
let stopping = false;
let quickDeaths = 0;

function log(line: string): void {
  console.log(`[cluster] ${line}`);
}

/** Starts `shop-<n>` and resolves once it listens (its port read from its "listening on" line). */
function startInstance(): Promise<Instance> {
  serial += 1;
  const n = serial;
  const id = `shop-${n}`;
  const child = fork(MAIN, [], {
    env: { ...process.env, ...shared, REPRISE_INSTANCE_ID: id },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    // Its own process group: a Ctrl-C in the terminal reaches this launcher only, which stops the
    // instances with SIGTERM one time each. If the launcher dies, the IPC channel closes and each
    // instance stops by itself (see main.ts).
    detached: true,
  });
  const tag = paint(`[${id}]`, n - 1);
  let listening: ((port: number) => void) | undefined;
  const ready = new Promise<number>((resolve) => (listening = resolve));
  for (const [stream, out] of [
    [child.stdout!, process.stdout],
    [child.stderr!, process.stderr],
  ] as const) {
    createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
      out.write(`${tag} ${line}\n`);
      const found = / listening on http:\/\/localhost:(\d+) /.exec(line);
      if (found) listening?.(Number(found[1]));
    });
  }
  const closed = once(child, 'close').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
  const instance: Instance = { id, n, child, startedAt: Date.now(), closed };
  instances.set(id, instance);
  void closed.then((how) => onClosed(instance, how));
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    ready.then((bound) => {
      instance.port = bound;
      return instance;
    }),
    closed.then((how) => {
      throw new Error(`${id} ${describeExit(how)} before listening`);
    }),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${id} did not listen within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
      timer.unref();
    }),
  ]).finally(() => clearTimeout(timer));
}

function describeExit({ code, signal }: { code: number | null; signal: NodeJS.Signals | null }): string {
  return signal !== null ? `was killed by ${signal}` : `exited with code ${code}`;
}

function backends(): Backend[] {
  return [...instances.values()].filter((i) => i.port !== undefined).map((i) => ({ host: '127.0.0.1', port: i.port! }));
}

function onClosed(instance: Instance, how: { code: number | null; signal: NodeJS.Signals | null }): void {
  instances.delete(instance.id);
  if (stopping) {
    log(`${instance.id} ${describeExit(how)}`);
    return;
  }
  proxy?.setBackends(backends());
  log(`${instance.id} (pid ${instance.child.pid}) ${describeExit(how)}; the proxy no longer sends it requests`);
  if (proxy === undefined) return; // still starting: main() reports it
  if (!restart) {
    if (instances.size === 0) log('no instance is left: the proxy answers 502 (REPRISE_RESTART=0); Ctrl-C to stop');
    return;
  }
  if (how.code === 2) {
    log(`not restarting ${instance.id}: exit code 2 means its settings are wrong`);
    return;
  }
  quickDeaths = Date.now() - instance.startedAt < CRASH_LOOP.ms ? quickDeaths + 1 : 0;
  if (quickDeaths >= CRASH_LOOP.times) {
    log(`not restarting: ${quickDeaths} processes in a row died within ${CRASH_LOOP.ms} ms of their start`);
    return;
  }
  setTimeout(() => void replace(instance), 1_000);
}

/** Starts a new process in place of a dead one (under a new name: its leases are not its own). */
async function replace(dead: Instance): Promise<void> {
  if (stopping) return;
  try {
    const fresh = await startInstance();
    if (stopping) return;
    proxy?.setBackends(backends());
    log(
      `${fresh.id} (pid ${fresh.child.pid}, port ${fresh.port}) replaces ${dead.id} behind the proxy. ${dead.id}'s live sessions are taken ` +
        `over by the first instance their visitors reach once its leases lapse (${leaseMs} ms), from their last checkpoint`,
    );
  } catch (error) {
    log(`could not start a replacement for ${dead.id}: ${(error as Error).message}`);
  }
}

let firstSignalAt = 0;
async function stop(signal: NodeJS.Signals): Promise<void> {
  if (stopping) {
    if (Date.now() - firstSignalAt < SAME_SIGNAL_MS) return; // the same Ctrl-C, delivered by npm too
    log(`${signal} again: killing every instance without waiting`);
    for (const { child } of instances.values()) child.kill('SIGKILL');
    process.exit(130);
  }
  stopping = true;
  firstSignalAt = Date.now();
  log(
    `${signal}: stopping; SIGTERM to ${[...instances.keys()].join(', ') || 'no instance'} (each closes its live sessions with 'shutdown' and releases their leases)`,
  );
  const left = [...instances.values()];
  for (const { child } of left) child.kill('SIGTERM');
  const timer = setTimeout(() => {
    log(`instances still running after ${STOP_TIMEOUT_MS} ms: SIGKILL`);
    for (const { child } of instances.values()) child.kill('SIGKILL');
  }, STOP_TIMEOUT_MS);
  const exits = await Promise.all(left.map(async (i) => ({ listened: i.port !== undefined, ...(await i.closed) })));
  clearTimeout(timer);
  await proxy?.close();
  // A replacement still starting has no signal handler yet: SIGTERM ends it at once, and that is fine.
  const clean = exits.every((how) => how.code === 0 || (!how.listened && how.signal === 'SIGTERM'));
  log(clean ? 'stopped' : 'stopped (some instance did not exit cleanly)');
  process.exit(clean ? 0 : 1);
}
process.on('SIGINT', (signal) => void stop(signal));
process.on('SIGTERM', (signal) => void stop(signal));

async function main(): Promise<void> {
  log(
    `starting ${count} shop processes on ${adapter} (leases of ${leaseMs} ms, checkpoints every ${checkpointMs} ms) and a ${mode} proxy on port ${port}`,
  );
  let started: Instance[];
  try {
    started = await Promise.all(Array.from({ length: count }, () => startInstance()));
  } catch (error) {
    log(`${(error as Error).message}; stopping the others`);
    stopping = true;
    for (const { child } of instances.values()) child.kill('SIGTERM');
    await Promise.all([...instances.values()].map((i) => i.closed));
    process.exit(1);
  }
  try {
    proxy = await startProxy({ backends: backends(), mode, port });
  } catch (error) {
    log(`the proxy cannot listen on port ${port}: ${(error as Error).message}`);
    await stop('SIGTERM');
    return;
  }
  if (stopping) return;
  console.log(instructions(`http://127.0.0.1:${proxy.port}`, started));
}

function instructions(base: string, started: Instance[]): string {
  const c = (rest: string): string => `  curl -s -c c1.jar -b c1.jar ${rest}`;
  const who = `-w '  <- %{http_code} from %header{x-shop-instance}\\n'`;
  const routing =
    mode === 'round-robin'
      ? 'round-robin: each request goes to the next instance, whatever its cookie'
      : 'sticky: a request with a session cookie goes to the instance its cookie hashes to';
  return [
    '',
    `Reprise shop cluster on ${base}: ${started.length} instances behind a proxy (${routing}), ${adapter} store`,
    ...started.map((i) => `  ${paint(i.id, i.n - 1)}  pid ${i.child.pid}  port ${i.port}`),
    '',
    'Try it (in another terminal; c1.jar is one browser; watch this log):',
    '',
    '# 1. Fill a cart. Each request may land on another instance (the X-Shop-Instance header says which, printed',
    '#    after the body): that instance asks the one that has the session live to hand it over ("reason=handover"',
    '#    in its log), then restores it under the same id. The cookie never changes',
    `  for i in 1 2 3 4 5 6; do curl -s -c c1.jar -b c1.jar -X POST '${base}/cart/apple' ${who}; done`,
    '# 2. The stats of the instance that answers: stats.handoversIn, handoversOut, takeovers, leasesLost, leases',
    c(`${base}/admin/sessions`),
    '# 3. Crash the instance that has the session live now (it answered the last request: "instance":{"id","pid"}',
    '#    above): no hook runs there, the lease stays until it lapses',
    '  kill -9 <its pid>',
    '#    The next request for that session asks the dead owner to hand it over: no answer comes within',
    `#    ${handoverMs} ms, so it answers 503 with Retry-After (the cookie is kept) while the lease lives (${leaseMs} ms).`,
    '#    Once the lease lapsed, the instance that has the request takes the session over from its last checkpoint',
    `#    (at most ${checkpointMs} ms old): the cart is back, under the same id.`,
    `  for i in 1 2 3 4; do curl -s -c c1.jar -b c1.jar -X POST '${base}/cart/pear' ${who}; done`,
    c(`${base}/admin/sessions       # "takeovers": 1 on the instance that took it over (each answer comes from another one)`),
    `# 4. This launcher replaces the dead process${restart ? ` by a new one (shop-${count + 1}, on a new port) and tells the proxy` : ' (no: REPRISE_RESTART=0)'}`,
    '# 5. Ctrl-C: SIGTERM to every instance; each closes its live sessions with reason shutdown (hooks run,',
    '#    snapshots written, leases released), then this launcher closes the proxy. rm -f c1.jar to start over',
    '#    (%header{...} needs curl 7.84 or newer; with an older curl use -i and read X-Shop-Instance)',
    '',
  ].join('\n');
}

void main();
