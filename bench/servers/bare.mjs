// Bare Koa: the baseline. app.keys set like every other variant; the handler touches no session.
import { newApp, serve } from './harness.mjs';

const app = newApp();
app.use(async (ctx) => {
  ctx.body = { views: 1 };
});
serve(app);
