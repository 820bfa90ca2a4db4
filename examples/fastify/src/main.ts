import { createApp } from './app.js';

const port = Number(process.env.PORT ?? 3000);
const app = await createApp({ secret: process.env.REPRISE_SECRET });
const address = await app.listen({ port, host: '127.0.0.1' });
console.log(
  `cart example listening on ${address} (try: curl -c jar -b jar -X POST -H 'content-type: application/json' -d '{"item":"apple"}' ${address}/cart)`,
);

// Closing Fastify closes every live session with reason 'shutdown': the closing hooks run, then the process exits.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void app.close().then(() => process.exit(0));
  });
}
