export { PostgresAdapter, MAX_TTL_MS } from './postgres-adapter.js';
export { DEFAULTS, WARNING_CODE, COORDINATOR_DEFAULTS } from './options.js';
export type { PostgresAdapterOptions, PostgresConnection, PostgresCoordinatorOptions } from './options.js';
export { createTableSql, createIndexSql, migrateTableSql } from './sql.js';
export { parseTableName } from './identifiers.js';
export type { TableName } from './identifiers.js';
export { PostgresCoordinator } from './postgres-coordinator.js';
export { createLeaseTableSql, createLeaseIndexSql, createLeaseDeadlineIndexSql } from './coordinator-sql.js';
