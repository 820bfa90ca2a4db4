// koa-session 7 with an external store held in this process (a Map with expiry times): what
// koa-session costs when the data stays on the server without any I/O, next to Reprise's memory rows.
import session from 'koa-session';
import { countViews, newApp, serve } from './harness.mjs';

const entries = new Map();

const store = {
  get(key) {
    const entry = entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= Date.now()) {
      entries.delete(key);
      return undefined;
    }
    return entry.value;
  },
  set(key, sess, maxAge) {
    const ttl = typeof maxAge === 'number' ? maxAge : 24 * 3_600_000;
    entries.set(key, { value: sess, expiresAt: Date.now() + ttl });
  },
  destroy(key) {
    entries.delete(key);
  },
};

const app = newApp();
app.use(session({ key: 'koa.sess', maxAge: 7 * 24 * 3_600_000, sameSite: 'lax', store }, app));
app.use(countViews);
serve(app, { extra: () => ({ live: entries.size }) });
