export { MemoryAdapter } from './memory-adapter.js';
export type { MemoryAdapterOptions } from './options.js';
export { MemoryCoordinator, MemoryCluster } from './memory-coordinator.js';
