import Router from '@koa/router';
import { activityOf } from '../activity.js';
import { httpError } from '../http-error.js';
import { cartSize, hasSession, userKey, type Prefs, type ShopEnv } from '../session-data.js';

const USER = /^[a-z0-9_-]{1,32}$/i;
const LANG = /^[a-z]{2}$/;

/**
 * Login, preferences and logout (no passwords: this is a demo of where the data goes).
 * - `POST /login?user=alice`: new session id (fixation defence), then the user's snapshot (saved at
 *   their last logout, from any browser) is merged in: their preferences come back.
 * - `POST /prefs?theme=dark&lang=fr`: stores preferences in `ctx.session.prefs` (logged-in users).
 * - `POST /logout`: the session is closed explicitly; its snapshot goes under `user:<login>` (the
 *   closing hook keeps only the preferences there) and the cookie is cleared.
 * - `GET /me`: who you are, your preferences, and the live (never persisted) activity log.
 */
export function accountRouter(env: ShopEnv): Router {
  const router = new Router();

  router.post('/login', async (ctx) => {
    const user = typeof ctx.query.user === 'string' ? ctx.query.user : '';
    if (!USER.test(user)) throw httpError(400, 'user must be 1 to 32 letters, digits, _ or -');
    const current = ctx.session.user;
    if (current !== undefined && current !== user) throw httpError(409, `logged in as ${current}: log out first`);
    const live = ctx.liveSession; // creates the session when the visitor has none
    live.regenerate(); // a new id at login: a cookie planted before login is worthless after it
    // Merges the snapshot of this user's last logout, from whatever browser (its keys win).
    const restored = await live.restore(userKey(user));
    // While logged in, the snapshot stays under the session id: an eviction or an expiry is restored
    // from this browser's cookie, cart included. Only a logout writes under the user's key.
    live.persistKey = live.id;
    ctx.session.user = user;
    ctx.session.prefs ??= {};
    activityOf(live, env).add(restored ? `logged in as ${user}, preferences restored` : `logged in as ${user}`);
    ctx.body = { user, prefs: ctx.session.prefs, prefsRestored: restored, sessionId: live.id };
  });

  router.post('/prefs', (ctx) => {
    const user = ctx.session.user;
    if (user === undefined) throw httpError(401, 'log in first: POST /login?user=<name>');
    const updates: Prefs = {};
    const { theme, lang } = ctx.query;
    if (theme !== undefined) {
      if (theme !== 'light' && theme !== 'dark') throw httpError(400, "theme must be 'light' or 'dark'");
      updates.theme = theme;
    }
    if (lang !== undefined) {
      if (typeof lang !== 'string' || !LANG.test(lang)) throw httpError(400, 'lang must be two lowercase letters');
      updates.lang = lang;
    }
    if (Object.keys(updates).length === 0) throw httpError(400, 'nothing to set: use ?theme=light|dark and/or ?lang=xx');
    ctx.session.prefs = { ...ctx.session.prefs, ...updates };
    activityOf(ctx.liveSession, env).add(`set preferences ${JSON.stringify(updates)}`);
    ctx.body = { user, prefs: ctx.session.prefs };
  });

  router.post('/logout', (ctx) => {
    const user = ctx.session.user;
    if (user === undefined) throw httpError(409, 'not logged in');
    // The snapshot of this explicit close goes under the user's key: the next login restores it,
    // from any browser. The old cookie is cleared and can never revive this session.
    ctx.liveSession.persistKey = userKey(user);
    ctx.session = null;
    ctx.body = { loggedOut: user };
  });

  router.get('/me', (ctx) => {
    if (!hasSession(ctx)) {
      ctx.body = { sessionId: null, user: null, prefs: null, cart: 0, activity: [] };
      return;
    }
    const live = ctx.liveSession;
    ctx.body = {
      sessionId: live.id,
      user: ctx.session.user ?? null,
      prefs: ctx.session.prefs ?? null,
      cart: cartSize(ctx.session.cart).units,
      // Live only: lost at close, a restored session starts a new log.
      activity: activityOf(live, env).entries,
    };
  });

  return router;
}
