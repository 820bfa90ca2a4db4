import assert from 'node:assert/strict';
import type { Harness, TrackedAdapter } from './harness.js';
import { excessAfterSettling, settledBaseline } from './resources.js';

/**
 * Uses every method (`saveIfNewer` and `takeVersioned` too, when the adapter has them), a few calls at a time, so that lazy connections, pools and TTL machinery are
 * all started before the adapter is closed.
 */
async function exercise(adapter: TrackedAdapter, key: (suffix: string) => string): Promise<void> {
  const [plain, withTtl] = [key('plain'), key('ttl')];
  await Promise.all([adapter.save(plain, 'value'), adapter.save(withTtl, 'value', 3_600_000)]);
  await Promise.all(Array.from({ length: 5 }, () => adapter.load(plain)));
  await Promise.all([adapter.take(plain), adapter.delete(withTtl), adapter.load(key('missing'))]);
  if (!adapter.ordered) return;
  const [versioned, fenced] = [key('versioned'), key('fenced')];
  await adapter.saveIfNewer(versioned, 'value', 1, 3_600_000);
  await Promise.all([adapter.takeVersioned(versioned), adapter.takeVersioned(fenced, { version: 2, ttlMs: 3_600_000 })]);
  // The adapter is closed right after: its floors are deleted here, not by the group's cleanup.
  await Promise.all([adapter.delete(versioned), adapter.delete(fenced)]);
}

/**
 * `close()` resolves, and afterwards nothing the adapter opened (sockets, timers, other handles)
 * is still active. Each check makes its own adapter with the factory. See resources.ts for how
 * the resources are counted and why the count is robust.
 */
export function closeTests(harness: Harness): void {
  const { checkResources, closeSettleMs } = harness.options;
  const noLeak = 'after close() resolves, no socket, timer or other handle of the adapter stays open';

  harness.group(
    'close',
    (g) => {
      g.check('close() resolves', (context) =>
        g.withOwnAdapter(async (adapter) => {
          if (typeof adapter.raw.close !== 'function') context.skip('the adapter has no close()');
          await exercise(adapter, (suffix) => g.key(suffix));
          await adapter.close();
        }),
      );

      if (!checkResources) {
        g.skip(noLeak, 'options.checkResources is false');
        return;
      }
      g.check(
        noLeak,
        async () => {
          const baseline = await settledBaseline(closeSettleMs);
          await g.withOwnAdapter(async (adapter) => {
            await exercise(adapter, (suffix) => g.key(suffix));
            const hasClose = typeof adapter.raw.close === 'function';
            if (hasClose) await adapter.close();
            const excess = await excessAfterSettling(baseline, closeSettleMs);
            const when = hasClose
              ? `${closeSettleMs} ms after close() resolved`
              : `${closeSettleMs} ms after its calls settled (it has no close())`;
            assert.deepEqual(
              excess,
              [],
              `the adapter still holds, ${when}: ${excess.join(', ')} (counts of process.getActiveResourcesInfo() over those before the factory ran)`,
            );
          });
        },
        2 * closeSettleMs,
      );
    },
    { plannedWaitMs: 2 * closeSettleMs, shared: false },
  );
}
