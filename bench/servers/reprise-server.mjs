// Shared by reprise-memory.mjs and reprise-redis.mjs. Reprise (@reprise/koa) on the memory adapter (BENCH_ADAPTER=memory, the default) or on Redis
// (BENCH_ADAPTER=redis, keys under the runner's prefix). BENCH_MAX_SESSIONS sets the cap
// (unset: the default cap of 100). The figures each sample carries: the manager's stats, and
// the errors and MemoryAdapter drops that the run produced (counted, not printed, so that a
// flood of process warnings does not become what is measured).
import { MemoryAdapter } from '@reprise/memory';
import { session } from '@reprise/koa';
import { RedisAdapter } from '@reprise/redis';
import { REDIS_URL, countViews, newApp, prefixFromEnv, serve } from './harness.mjs';

const kind = process.env.BENCH_ADAPTER ?? 'memory';
const maxSessions = process.env.BENCH_MAX_SESSIONS ? Number(process.env.BENCH_MAX_SESSIONS) : undefined;

let dropped = 0;
let errors = 0;
const adapter =
  kind === 'redis'
    ? new RedisAdapter({ url: REDIS_URL, prefix: prefixFromEnv() })
    : new MemoryAdapter({ onDrop: () => { dropped += 1; } });

const middleware = session({ adapter, ...(maxSessions === undefined ? {} : { maxSessions }) });
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
      pendingPersists: s.pendingPersists,
      persistFailures: s.persistFailures,
      errors,
      dropped,
    };
  },
  // No manager.shutdown(): it would persist every live session (up to 100k writes) just to exit.
  close: () => adapter.close?.(),
});
