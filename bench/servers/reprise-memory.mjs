// Reprise on its embedded memory adapter. The cap comes from BENCH_MAX_SESSIONS (unset: default 100).
process.env.BENCH_ADAPTER = 'memory';
await import('./reprise-server.mjs');
