// koa-session 7 with an external store over node-redis (the client @keyv/redis re-exports):
// GET on a returning cookie, SET ... PX on a change, DEL on destroy. Keys under the runner's prefix.
import { createClient } from '@keyv/redis';
import session from 'koa-session';
import { REDIS_URL, countViews, newApp, prefixFromEnv, serve } from './harness.mjs';

const prefix = prefixFromEnv();
const client = createClient({ url: REDIS_URL });
client.on('error', () => {});
await client.connect();

const store = {
  async get(key) {
    const value = await client.get(prefix + key);
    return value === null ? undefined : JSON.parse(value);
  },
  async set(key, sess, maxAge) {
    const ttl = typeof maxAge === 'number' ? Math.max(1, Math.ceil(maxAge)) : 24 * 3_600_000;
    await client.set(prefix + key, JSON.stringify(sess), { expiration: { type: 'PX', value: ttl } });
  },
  async destroy(key) {
    await client.del(prefix + key);
  },
};

const app = newApp();
app.use(session({ key: 'koa.sess', maxAge: 7 * 24 * 3_600_000, sameSite: 'lax', store }, app));
app.use(countViews);
serve(app, { close: () => client.close() });
