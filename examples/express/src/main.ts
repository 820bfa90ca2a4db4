import { createApp } from './app.js';

const port = Number(process.env.PORT ?? 3000);
const { app, manager } = createApp({ secret: process.env.REPRISE_SECRET });
const server = app.listen(port, '127.0.0.1', () => {
  console.log(
    `cart example listening on http://127.0.0.1:${port} (try: curl -c jar -b jar -H 'content-type: application/json' -d '{"item":"apple"}' http://127.0.0.1:${port}/cart)`,
  );
});

// Shutting the manager down closes every live session with reason 'shutdown': the closing hooks run, then the process exits.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    server.close();
    void manager.shutdown().then(() => process.exit(0));
  });
}
