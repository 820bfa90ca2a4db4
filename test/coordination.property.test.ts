import { expect } from 'chai';
import fc from 'fast-check';
import { SessionManager, type LiveSession } from '@reprise/core';
import { MemoryAdapter, MemoryCluster, MemoryCoordinator } from '@reprise/memory';

type Data = { items: string[] };

const INSTANCES = 3;
const NUM_RUNS = Number(process.env.COORDINATION_PROPERTY_RUNS ?? 200);

/** One request: on instance `on`, for visitor `visitor`; `write` adds an item (acknowledged if the request got the session). */
interface Request {
  readonly on: number;
  readonly visitor: number;
  readonly write: boolean;
}

/** A step: requests sent together (their hand-overs interleave), or the cap of one instance lowered to 1 for a moment (evictions). */
type Step = { readonly t: 'requests'; readonly requests: readonly Request[] } | { readonly t: 'evict'; readonly on: number };

const requestArb = fc.record({ on: fc.nat(INSTANCES - 1), visitor: fc.nat(3), write: fc.boolean() });
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ t: fc.constant('requests' as const), requests: fc.array(requestArb, { minLength: 1, maxLength: 5 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('evict' as const), on: fc.nat(INSTANCES - 1) }) },
);

/**
 * Several instances (managers) on one store and one cluster, requests for the same sessions landing
 * on any of them at once (round-robin, not sticky), evictions in between; then every instance shuts
 * down and a new one restores each visitor. Checks, under any interleaving of the hand-overs:
 * - never two live copies of one session (one live owner at every step);
 * - every acknowledged write is in the visitor's context at the end, once;
 * - every live context's closing hook ran exactly once.
 */
describe('several instances: one live owner, nothing acknowledged lost, hooks once (property)', function () {
  this.timeout(300_000);

  it(`${NUM_RUNS} generated runs of 3 instances, 4 visitors, concurrent requests and evictions`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 12 }), async (steps) => {
        const cluster = new MemoryCluster();
        const adapter = new MemoryAdapter();
        const hookRuns = new Map<LiveSession<Data>, number>();
        const contexts = new Set<LiveSession<Data>>();
        const managers = Array.from({ length: INSTANCES }, (_, n) => {
          const manager = new SessionManager<Data>({
            adapter,
            coordinator: new MemoryCoordinator(cluster),
            instanceId: `i${n}`,
            checkpointInterval: 20,
            handoverTimeout: 2_000,
            leaseMs: 3_000,
            maxSessions: 100,
            onClose: (session) => void hookRuns.set(session as LiveSession<Data>, (hookRuns.get(session as LiveSession<Data>) ?? 0) + 1),
          });
          manager.on('error', () => {});
          manager.on('restore', (session) => void contexts.add(session as LiveSession<Data>));
          return manager;
        });
        const ids = Array.from({ length: 4 }, (_, n) => {
          const session = managers[n % INSTANCES]!.create({ items: [] });
          contexts.add(session);
          return session.id;
        });
        const acked = ids.map(() => [] as string[]);
        let serial = 0;
        try {
          for (const step of steps) {
            if (step.t === 'evict') {
              managers[step.on]!.setOption('maxSessions', 1);
              await new Promise((resolve) => setTimeout(resolve, 5));
              managers[step.on]!.setOption('maxSessions', 100);
              continue;
            }
            await Promise.all(
              step.requests.map(async ({ on, visitor, write }) => {
                const item = `r${serial++}@i${on}`;
                const resumed = await managers[on]!.resume(ids[visitor]!);
                if (resumed.kind !== 'live' && resumed.kind !== 'restored') return;
                try {
                  if (write) {
                    resumed.session.data.items.push(item);
                    acked[visitor]!.push(item);
                  }
                } finally {
                  managers[on]!.release(resumed.session);
                }
              }),
            );
            // One live owner per session, whatever happened.
            for (const id of ids) {
              const owners = managers.filter((manager) => manager.get(id) !== undefined).length;
              expect(owners, `live copies of ${id.slice(0, 6)}`).to.be.at.most(1);
            }
          }
          await Promise.all(managers.map((manager) => manager.shutdown()));
          for (const session of contexts) expect(hookRuns.get(session) ?? 0, `closing hooks of a context of ${session.id.slice(0, 6)}`).to.equal(1);
          // A new instance restores every visitor: every acknowledged item is there, once.
          const last = new SessionManager<Data>({ adapter, coordinator: new MemoryCoordinator(cluster), instanceId: 'last', checkpointInterval: 20 });
          last.on('error', () => {});
          try {
            for (const [n, id] of ids.entries()) {
              const resumed = await last.resume(id);
              expect(resumed.kind, `visitor ${n}`).to.equal('restored');
              const items = (resumed as { session: LiveSession<Data> }).session.data.items;
              expect([...items].sort(), `items of visitor ${n}`).to.deep.equal([...acked[n]!].sort());
              last.release((resumed as { session: LiveSession<Data> }).session);
            }
          } finally {
            await last.shutdown();
          }
        } finally {
          await Promise.all(managers.map((manager) => manager.shutdown()));
        }
      }),
      { numRuns: NUM_RUNS },
    );
  });
});
