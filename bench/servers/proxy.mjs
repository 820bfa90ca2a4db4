// The shop example's round-robin proxy (examples/shop/src/proxy.ts, imported through the workspace
// link `@reprise-examples/shop/proxy`, built to dist/ by `tsc -b`) in a process of its own, so that
// its CPU is neither the servers' nor the load generator's. Same IPC protocol as harness.mjs:
// { type: 'ready', port }, { type: 'sample' } -> CPU, { type: 'stop' }.
// BENCH_BACKENDS: JSON array of ports on 127.0.0.1; BENCH_PROXY_MODE: round-robin | sticky;
// BENCH_PROXY_COOKIE: the cookie sticky mode hashes (default reprise.sid).
import { startProxy } from '@reprise-examples/shop/proxy';

const ports = JSON.parse(process.env.BENCH_BACKENDS ?? '[]');
const proxy = await startProxy({
  backends: ports.map((port) => ({ host: '127.0.0.1', port })),
  mode: process.env.BENCH_PROXY_MODE || 'round-robin',
  cookieName: process.env.BENCH_PROXY_COOKIE || 'reprise.sid',
});
process.send?.({ type: 'ready', port: proxy.port });
process.on('message', async (message) => {
  if (message?.type === 'sample') {
    const mem = process.memoryUsage();
    process.send({
      type: 'sample',
      cpu: process.cpuUsage(),
      requests: 0,
      hrtime: Number(process.hrtime.bigint()) / 1e3,
      rss: mem.rss,
      heapUsed: mem.heapUsed,
      extra: {},
    });
  } else if (message?.type === 'stop') {
    await proxy.close();
    process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
