import { OptionError } from '@reprise/core';
import type { Registry } from 'prom-client';
import { MetricSet, type Observed } from './metric-set.js';
import { resolvePrometheusOptions, type PrometheusMetricsOptions } from './options.js';

/** What {@link registerPrometheusMetrics} returns. */
export interface PrometheusMetrics {
  /** Takes this manager's series out of the registry (the metrics themselves go with the last manager). Idempotent. */
  unregister(): void;
}

/** The metric sets of each registry, by prefix. */
const SETS = new WeakMap<Registry, Map<string, MetricSet>>();

/**
 * Exposes a `SessionManager`'s counters, gauges and two histograms in a prom-client registry (see the
 * README for every metric). Gauges and counters are read from `manager.stats()` at scrape time, so a
 * request pays nothing; hook and store durations come from core's `node:diagnostics_channel` channels
 * (`reprise:hooks`, `reprise:store`), subscribed only while some manager is registered.
 *
 * Several managers may share a registry: give each a distinct constant label (`labels: { manager: 'web' }`).
 * @throws OptionError (`ERR_REPRISE_OPTION`) on a wrong option, a manager registered twice in one
 *   registry under one prefix, or label names different from those of the managers already there.
 */
export function registerPrometheusMetrics(manager: Observed, options?: PrometheusMetricsOptions): PrometheusMetrics {
  if (typeof manager?.stats !== 'function')
    throw new OptionError('registerPrometheusMetrics needs a SessionManager (an object with stats())');
  const { registry, prefix, labels } = resolvePrometheusOptions(options);
  const labelNames = Object.keys(labels).sort();
  let byPrefix = SETS.get(registry);
  if (byPrefix === undefined) {
    byPrefix = new Map();
    SETS.set(registry, byPrefix);
  }
  let set = byPrefix.get(prefix);
  if (set === undefined) {
    set = new MetricSet(registry, prefix, labelNames);
    byPrefix.set(prefix, set);
  }
  if (set.has(manager))
    throw new OptionError(`this manager is registered already in this registry under the prefix ${JSON.stringify(prefix)}`);
  if (set.labelNames.join() !== labelNames.join()) {
    throw new OptionError(
      `labels must have the names of the managers registered under ${JSON.stringify(prefix)} already (${set.labelNames.join(', ') || 'none'}), got ${labelNames.join(', ') || 'none'}`,
    );
  }
  set.attach(manager, Object.freeze({ ...labels }));
  const owned = set;
  let done = false;
  return {
    unregister(): void {
      if (done) return;
      done = true;
      owned.detach(manager);
      if (owned.empty) byPrefix.delete(prefix);
    },
  };
}
