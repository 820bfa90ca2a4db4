// Plain JavaScript (types in session-app.d.ts) so that the server processes of the restart tests
// (fixtures/session-server.mjs) run it with plain node on the built packages: no loader, fast start.
import Koa from 'koa';
import { session } from '@reprise/koa';

/** The cookie signing key of every test app and fixture process (so another process accepts the cookies). */
export const TEST_KEYS = ['reprise-integration-tests'];

/**
 * A small Koa app on `session()` for the integration tests:
 * - `POST /visit?name=N&item=I`: writes the session (name, one more `I` in the cart (a Map), `since`
 *   (a Date) on the first write);
 * - `GET /me`: reads it (a read creates no session; the cookie of a closed session restores it);
 * - `GET /stats`: `manager.stats()`.
 * Errors are Koa's own: a failure is a 500 for the test to see.
 */
export function sessionApp(options) {
  const middleware = session(options);
  const app = new Koa();
  app.keys = TEST_KEYS;
  app.silent = true;
  app.use(middleware);
  app.use(async (ctx) => {
    const route = `${ctx.method} ${ctx.path}`;
    if (route === 'POST /visit') {
      const name = String(ctx.query.name ?? '');
      const item = String(ctx.query.item ?? '');
      if (name === '' || item === '') ctx.throw(400, 'name and item are required');
      const data = ctx.session;
      data.name = name;
      data.since ??= new Date();
      data.cart ??= new Map();
      data.cart.set(item, (data.cart.get(item) ?? 0) + 1);
      ctx.body = view(ctx);
    } else if (route === 'GET /me') {
      ctx.body = view(ctx);
    } else if (route === 'GET /stats') {
      ctx.body = middleware.manager.stats();
    }
  });
  return { app, middleware };
}

function view(ctx) {
  const data = ctx.session;
  // Every session of this app has a name: no name means no session (reading ctx.liveSession would create one).
  const has = data.name !== undefined;
  return {
    sessionId: has ? ctx.liveSession.id : null,
    name: data.name ?? null,
    cart: [...(data.cart ?? new Map())],
    since: data.since?.toISOString() ?? null,
  };
}
