import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Koa from 'koa';
import type { SessionMiddleware } from '@reprise/koa';
import { RedisAdapter } from '@reprise/redis';
import { closeServer, listen } from './http.js';
import { OwnRedis } from './own-redis.js';
import { requireRedisServer } from './services.js';
import type { VisitorData } from './session-app.js';

/** What a test of a Redis outage runs on; each set by the fixture's start functions. */
export interface OutageRig {
  redis?: OwnRedis | undefined;
  adapter?: RedisAdapter | undefined;
  middleware?: SessionMiddleware<VisitorData> | undefined;
  server?: Server | undefined;
  aofDir?: string | undefined;
}

/**
 * Inside a `describe`: a redis-server of the test's own with an append-only file (its keys survive a
 * kill, as a real one's would), a `RedisAdapter` on it that reconnects within 200 ms, and the session
 * server the test builds on it. After each test: the server closed, Redis started again if the test
 * left it down (so the manager's shutdown can write), the manager shut down, the adapter closed, Redis
 * killed and its files removed. Skips (or, with CI=true, fails) without a `redis-server` binary.
 */
export function redisOutageFixture(prefix: string): {
  rig: OutageRig;
  startRedis(commandTimeout: number): Promise<{ redis: OwnRedis; adapter: RedisAdapter }>;
  serve(built: { app: Koa; middleware: SessionMiddleware<VisitorData> }): Promise<Server>;
} {
  const rig: OutageRig = {};

  before(async function () {
    await requireRedisServer(this);
  });

  afterEach(async function () {
    const { server, redis, middleware, adapter, aofDir } = rig;
    if (server !== undefined) await closeServer(server);
    if (redis !== undefined && !redis.running) await redis.start();
    await middleware?.manager.shutdown();
    await adapter?.close();
    await redis?.kill();
    if (aofDir !== undefined) rmSync(aofDir, { recursive: true, force: true });
    for (const key of Object.keys(rig) as (keyof OutageRig)[]) delete rig[key];
  });

  return {
    rig,
    /** Starts the test's Redis and the adapter on it (`commandTimeout` ms per call; keys under the fixture's prefix). */
    async startRedis(commandTimeout) {
      rig.aofDir = mkdtempSync(join(tmpdir(), 'reprise-it-redis-'));
      const redis = (rig.redis = await OwnRedis.start({ aofDir: rig.aofDir }));
      const adapter = (rig.adapter = new RedisAdapter({ url: redis.url, prefix, maxReconnectDelay: 200, commandTimeout }));
      return { redis, adapter };
    },
    /** Serves the app the test built (its middleware's manager is shut down after the test). */
    async serve(built) {
      rig.middleware = built.middleware;
      rig.server = await listen(built.app);
      return rig.server;
    },
  };
}
