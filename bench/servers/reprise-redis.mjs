// Reprise on @reprise/redis (`new RedisAdapter({ url, prefix })`, prefix unique per run).
process.env.BENCH_ADAPTER = 'redis';
await import('./reprise-server.mjs');
