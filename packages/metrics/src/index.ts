export { registerPrometheusMetrics } from './prometheus.js';
export type { PrometheusMetrics } from './prometheus.js';
export type { PrometheusMetricsOptions } from './options.js';
export type { Observed } from './metric-set.js';
export { GAUGES, COUNTERS, CLOSED, HOOK_DURATION, STORE_DURATION, DURATION_BUCKETS } from './catalog.js';
export type { GaugeSpec, CounterSpec } from './catalog.js';
