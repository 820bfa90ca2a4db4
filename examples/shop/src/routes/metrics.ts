import Router from '@koa/router';
import { registerPrometheusMetrics } from '@reprise/metrics';
import { Registry } from 'prom-client';

/**
 * `GET /metrics`: the session manager's metrics in Prometheus's text format (`@reprise/metrics`):
 * live sessions, closes by reason, hook and store durations, pending writes, ... Its own registry,
 * so that several shops in one process (the tests) do not collide. Unprotected here: a real app
 * serves it on an internal port or behind authentication.
 */
export function metricsRouter(manager: Parameters<typeof registerPrometheusMetrics>[0]): Router {
  const registry = new Registry();
  registerPrometheusMetrics(manager, { registry });
  const router = new Router();
  router.get('/metrics', async (ctx) => {
    ctx.type = registry.contentType;
    ctx.body = await registry.metrics();
  });
  return router;
}
