export { MemoryAdapter } from './memory-adapter.js';
export type { MemoryAdapterOptions, MemoryClusterOptions } from './options.js';
export { MemoryCoordinator, MemoryCluster } from './memory-coordinator.js';
