export { MemoryAdapter } from './memory-adapter.js';
export type { MemoryAdapterOptions } from './options.js';
