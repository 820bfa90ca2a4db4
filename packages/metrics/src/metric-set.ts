import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { HOOK_CHANNEL, STORE_CHANNEL, type HookTiming, type ManagerStats, type StoreTiming } from '@reprise/core';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { CLOSED, COUNTERS, DURATION_BUCKETS, GAUGES, HOOK_DURATION, STORE_DURATION } from './catalog.js';

/** What the metric set reads of a manager. */
export interface Observed {
  stats(): ManagerStats;
}

type Labels = Readonly<Record<string, string>>;

/**
 * The metrics of one prefix in one registry, shared by every manager registered there (each adds
 * its series, told apart by its constant labels). Gauges and counters are read from `stats()` at
 * scrape time; the two histograms are fed by core's `node:diagnostics_channel` channels, to which the
 * set subscribes while it has managers.
 */
export class MetricSet {
  readonly labelNames: readonly string[];
  readonly #registry: Registry;
  readonly #names: string[] = [];
  readonly #attached = new Map<object, Labels>();
  /** The histogram series each manager has fed (its full label sets), removed when it is detached. */
  readonly #series = new Map<object, Map<string, { histogram: Histogram; labels: Labels }>>();
  readonly #hookDuration: Histogram;
  readonly #storeDuration: Histogram;
  readonly #onHook = (message: unknown): void => this.#hook(message as HookTiming);
  readonly #onStore = (message: unknown): void => this.#store(message as StoreTiming);

  constructor(registry: Registry, prefix: string, labelNames: readonly string[]) {
    this.#registry = registry;
    this.labelNames = labelNames;
    const managers = (): [Observed, Labels][] => [...this.#attached] as [Observed, Labels][];
    for (const spec of GAUGES) {
      this.#add(prefix + spec.name);
      new Gauge({
        name: prefix + spec.name,
        help: spec.help,
        labelNames,
        registers: [registry],
        collect() {
          this.reset();
          for (const [manager, labels] of managers()) this.set(labels, spec.read(manager.stats()));
        },
      });
    }
    for (const spec of COUNTERS) {
      this.#add(prefix + spec.name);
      new Counter({
        name: prefix + spec.name,
        help: spec.help,
        labelNames,
        registers: [registry],
        collect() {
          this.reset();
          for (const [manager, labels] of managers()) this.inc(labels, spec.read(manager.stats()));
        },
      });
    }
    this.#add(prefix + CLOSED.name);
    new Counter({
      name: prefix + CLOSED.name,
      help: CLOSED.help,
      labelNames: [...labelNames, 'reason'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [manager, labels] of managers()) {
          for (const [reason, count] of Object.entries(manager.stats().closed)) this.inc({ ...labels, reason }, count);
        }
      },
    });
    this.#add(prefix + HOOK_DURATION.name);
    this.#hookDuration = new Histogram({
      name: prefix + HOOK_DURATION.name,
      help: HOOK_DURATION.help,
      labelNames: [...labelNames, 'kind', 'reason'],
      buckets: [...DURATION_BUCKETS],
      registers: [registry],
    });
    this.#add(prefix + STORE_DURATION.name);
    this.#storeDuration = new Histogram({
      name: prefix + STORE_DURATION.name,
      help: STORE_DURATION.help,
      labelNames: [...labelNames, 'operation', 'outcome'],
      buckets: [...DURATION_BUCKETS],
      registers: [registry],
    });
  }

  get empty(): boolean {
    return this.#attached.size === 0;
  }

  has(manager: object): boolean {
    return this.#attached.has(manager);
  }

  attach(manager: Observed, labels: Labels): void {
    if (this.#attached.size === 0) {
      subscribe(HOOK_CHANNEL, this.#onHook);
      subscribe(STORE_CHANNEL, this.#onStore);
    }
    this.#attached.set(manager, labels);
    this.#series.set(manager, new Map());
  }

  /** Takes `manager`'s series out; the last one out removes the metrics from the registry. */
  detach(manager: object): void {
    const labels = this.#attached.get(manager);
    if (labels === undefined) return;
    this.#attached.delete(manager);
    const series = this.#series.get(manager);
    this.#series.delete(manager);
    if (this.#attached.size > 0) {
      for (const { histogram, labels: full } of series?.values() ?? []) histogram.remove(full);
      return;
    }
    unsubscribe(HOOK_CHANNEL, this.#onHook);
    unsubscribe(STORE_CHANNEL, this.#onStore);
    for (const name of this.#names) this.#registry.removeSingleMetric(name);
  }

  #add(name: string): void {
    this.#names.push(name);
  }

  #hook(message: HookTiming): void {
    const labels = this.#attached.get(message.manager);
    if (labels === undefined) return;
    this.#observe(message.manager, this.#hookDuration, { ...labels, kind: message.kind, reason: message.reason ?? '' }, message.durationMs);
  }

  #store(message: StoreTiming): void {
    const labels = this.#attached.get(message.manager);
    if (labels === undefined) return;
    this.#observe(
      message.manager,
      this.#storeDuration,
      { ...labels, operation: message.operation, outcome: message.failed ? 'error' : 'ok' },
      message.durationMs,
    );
  }

  /** Observes `ms` (as seconds) on `histogram` under `labels`, remembering the series as `manager`'s. */
  #observe(manager: object, histogram: Histogram, labels: Labels, ms: number): void {
    histogram.observe(labels, ms / 1000);
    const key = `${histogram === this.#hookDuration ? 'h' : 's'}${JSON.stringify(labels)}`;
    const series = this.#series.get(manager);
    if (series !== undefined && !series.has(key)) series.set(key, { histogram, labels });
  }
}
