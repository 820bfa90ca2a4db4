// Shared by reprise-memory.mjs and reprise-redis.mjs. Reprise (@reprise/koa) on the memory adapter (BENCH_ADAPTER=memory, the default) or on Redis
// (BENCH_ADAPTER=redis, keys under the runner's prefix). With Redis, BENCH_COORDINATOR=1 adds a
// RedisCoordinator on the same prefix (several instances: cluster.mjs), named BENCH_INSTANCE_ID. BENCH_MAX_SESSIONS sets the cap
// (unset: the default cap of 100), BENCH_CHECKPOINT_INTERVAL the checkpoint interval in ms. The figures each sample carries: the manager's stats, and
// the errors and MemoryAdapter drops that the run produced (counted, not printed, so that a
// flood of process warnings does not become what is measured).
import { MemoryAdapter } from '@reprise/memory';
import { session } from '@reprise/koa';
import { RedisAdapter, RedisCoordinator } from '@reprise/redis';
import { REDIS_URL, countViews, newApp, prefixFromEnv, serve } from './harness.mjs';

const kind = process.env.BENCH_ADAPTER ?? 'memory';
const maxSessions = process.env.BENCH_MAX_SESSIONS ? Number(process.env.BENCH_MAX_SESSIONS) : undefined;
// BENCH_CHECKPOINT_INTERVAL (ms; unset: the default, 5 s on Redis, 0 on the memory adapter).
const checkpointInterval = process.env.BENCH_CHECKPOINT_INTERVAL ? Number(process.env.BENCH_CHECKPOINT_INTERVAL) : undefined;

let dropped = 0;
let errors = 0;
const adapter =
  kind === 'redis'
    ? new RedisAdapter({ url: REDIS_URL, prefix: prefixFromEnv() })
    : new MemoryAdapter({
        onDrop: () => {
          dropped += 1;
        },
      });

// Several instances (cluster.mjs): leases and hand-overs on the same Redis and prefix.
const coordinator =
  kind === 'redis' && process.env.BENCH_COORDINATOR === '1'
    ? new RedisCoordinator({ url: REDIS_URL }, { prefix: prefixFromEnv() })
    : undefined;

const middleware = session({
  adapter,
  ...(coordinator === undefined ? {} : { coordinator, instanceId: process.env.BENCH_INSTANCE_ID || undefined }),
  ...(maxSessions === undefined ? {} : { maxSessions }),
  ...(checkpointInterval === undefined ? {} : { checkpointInterval }),
});
middleware.manager.on('error', () => {
  errors += 1;
});

const app = newApp();
app.use(middleware);
app.use(countViews);
serve(app, {
  extra: () => {
    const s = middleware.manager.stats();
    return {
      live: s.live,
      created: s.created,
      evicted: s.closed.evicted,
      restored: s.restored,
      persisted: s.persisted,
      checkpoints: s.checkpoints,
      pendingPersists: s.pendingPersists,
      persistFailures: s.persistFailures,
      handoversIn: s.handoversIn,
      handoversOut: s.handoversOut,
      takeovers: s.takeovers,
      leasesLost: s.leasesLost,
      leases: s.leases,
      restoreFailures: s.restoreFailures,
      errors,
      dropped,
    };
  },
  // No manager.shutdown(): it would persist every live session (up to 100k writes) just to exit.
  close: async () => {
    await coordinator?.leave();
    await adapter.close?.();
  },
});
