import { MemoryAdapter } from '@reprise/memory';
import { runAdapterTests } from '../src/index.js';

// The reference adapter passes the whole suite, registered with mocha's globals (the default).
runAdapterTests('MemoryAdapter', () => new MemoryAdapter());

// The same through explicit test functions and non-default options: coarse TTLs, a non-atomic
// claim (the exactly-once checks are reported as skipped), a small large value, an async factory.
runAdapterTests(
  'MemoryAdapter (options)',
  async () => new MemoryAdapter(),
  { describe, it, before, after },
  {
    ttlGranularity: 100,
    atomic: false,
    concurrency: 8,
    largeValueBytes: 4096,
    maxKeyLength: 300,
    keyPrefix: 'custom-prefix:',
  },
);
