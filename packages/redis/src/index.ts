export { RedisAdapter } from './redis-adapter.js';
export { DEFAULTS, COORDINATOR_DEFAULTS } from './options.js';
export type {
  RedisAdapterOptions,
  RedisAdapterUrlOptions,
  RedisAdapterClientOptions,
  RedisAdapterCommonOptions,
  RedisClient,
  RedisCoordinatorOptions,
} from './options.js';
export { RedisCoordinator } from './redis-coordinator.js';
