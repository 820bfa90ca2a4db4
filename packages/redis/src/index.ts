export { RedisAdapter } from './redis-adapter.js';
export { DEFAULTS } from './options.js';
export type {
  RedisAdapterOptions,
  RedisAdapterUrlOptions,
  RedisAdapterClientOptions,
  RedisAdapterCommonOptions,
  RedisClient,
} from './options.js';
export { RedisCoordinator, COORDINATOR_DEFAULTS } from './redis-coordinator.js';
export type { RedisCoordinatorOptions } from './redis-coordinator.js';
