import { customField, optionsSchema, parseOptions, patternField, type ParsedOptions } from '@reprise/core/adapter-kit';
import { Registry, register as globalRegistry } from 'prom-client';

/** Options of {@link registerPrometheusMetrics}. Every option is optional; `undefined` means the default. */
export interface PrometheusMetricsOptions {
  /** The prom-client `Registry` to register in. Default: prom-client's global `register`. */
  registry?: Registry | undefined;
  /**
   * Prefix of every metric name: letters, digits and `_`, starting with a letter or `_`. Default
   * `'reprise_'` (`reprise_sessions_live`, ...).
   */
  prefix?: string | undefined;
  /**
   * Constant labels of this manager's series, e.g. `{ manager: 'web' }`: give one when several
   * managers share a registry (each manager's series then differ by it). Every manager registered
   * under one prefix in one registry must use the same label names. Default `{}`.
   */
  labels?: Readonly<Record<string, string>> | undefined;
}

const DEFAULTS = Object.freeze({ prefix: 'reprise_', labels: Object.freeze({}) as Readonly<Record<string, string>> });

const LABEL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Label names Reprise uses itself on some series. */
export const RESERVED_LABELS: ReadonlySet<string> = new Set(['reason', 'kind', 'operation', 'outcome', 'le']);

function validLabels(value: unknown): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  return Object.entries(value).every(
    ([name, v]) => LABEL_NAME.test(name) && !name.startsWith('__') && !RESERVED_LABELS.has(name) && typeof v === 'string',
  );
}

const PROMETHEUS_OPTIONS = optionsSchema<PrometheusMetricsOptions>()(
  {
    registry: customField<Registry>((value) => value instanceof Registry, 'must be a prom-client Registry'),
    prefix: patternField(/^[A-Za-z_][A-Za-z0-9_]*$/, 'letters, digits and _, starting with a letter or _'),
    labels: customField<Readonly<Record<string, string>>>(
      validLabels,
      `must be an object of string values whose names are Prometheus label names (not ${[...RESERVED_LABELS].join(', ')})`,
    ),
  },
  { ...DEFAULTS, registry: globalRegistry },
);

/** The options, normalized. */
export type ResolvedPrometheusOptions = Readonly<ParsedOptions<typeof PROMETHEUS_OPTIONS>>;

/**
 * Validates and completes the options of {@link registerPrometheusMetrics}.
 * @throws OptionError (`ERR_REPRISE_OPTION`) on a wrong value or an unknown option name.
 */
export function resolvePrometheusOptions(options: unknown): ResolvedPrometheusOptions {
  return Object.freeze(parseOptions(PROMETHEUS_OPTIONS, options === undefined ? {} : options, { what: 'registerPrometheusMetrics' }));
}
