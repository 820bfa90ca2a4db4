// koa-session 7 in its default cookie mode: the session data travels in a signed cookie.
import session from 'koa-session';
import { countViews, newApp, serve } from './harness.mjs';

const app = newApp();
app.use(session({ key: 'koa.sess', maxAge: 7 * 24 * 3_600_000, sameSite: 'lax' }, app));
app.use(countViews);
serve(app);
