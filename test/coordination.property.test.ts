import { expect } from 'chai';
import fc from 'fast-check';
import { SessionManager, type LiveSession, type SessionAdapter } from '@reprise/core';
import { decodeRecord } from '@reprise/core/adapter-kit';
import { MemoryAdapter, MemoryCluster, MemoryCoordinator } from '@reprise/memory';

type Data = { items: string[] };

const INSTANCES = 3;
const NUM_RUNS = Number(process.env.COORDINATION_PROPERTY_RUNS ?? 200);
/** What the runs exercised (printed with COORDINATION_PROPERTY_STATS=1, to check the generator reaches the hard cases). */
const coverage = new Map<string, number>();
const count = (what: string, n = 1): void => void coverage.set(what, (coverage.get(what) ?? 0) + n);

/** One request: on instance `on`, for visitor `visitor`; `write` adds an item (acknowledged if the request got the session). */
interface Request {
  readonly on: number;
  readonly visitor: number;
  readonly write: boolean;
}

/**
 * A step: requests sent together (their hand-overs interleave), the cap of one instance lowered to 1
 * for a moment (evictions), or one instance killed (`kill -9`: it stops answering, its leases lapse;
 * the load balancer sends no more requests there).
 */
type Step =
  | { readonly t: 'requests'; readonly requests: readonly Request[] }
  | { readonly t: 'evict'; readonly on: number }
  | { readonly t: 'kill'; readonly on: number };

const requestArb = fc.record({ on: fc.nat(INSTANCES - 1), visitor: fc.nat(3), write: fc.boolean() });
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({ t: fc.constant('requests' as const), requests: fc.array(requestArb, { minLength: 1, maxLength: 5 }) }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('evict' as const), on: fc.nat(INSTANCES - 1) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('kill' as const), on: fc.nat(INSTANCES - 1) }) },
);

/** The adapter or coordinator as one process sees it: once `dead`, every call hangs (a killed process sends nothing more). */
function processView<T extends object>(adapter: T, dead: () => boolean): T {
  return new Proxy(adapter, {
    get(target, name) {
      const value = Reflect.get(target, name, target) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => (dead() ? new Promise(() => {}) : (value as (...a: unknown[]) => unknown).apply(target, args));
    },
  });
}

/**
 * Several instances (managers) on one store and one cluster, requests for the same sessions landing
 * on any of them at once (round-robin, not sticky), evictions in between; then every instance shuts
 * down and a new one restores each visitor. Checks, under any interleaving of the hand-overs:
 * - never two live copies of one session among the instances alive (one live owner at every step);
 * - every acknowledged write is in the visitor's context at the end, once, except writes a killed
 *   instance acknowledged on a session it held at the kill and had not checkpointed before it;
 *   nothing is there that was not acknowledged;
 * - every live context's closing hook ran exactly once, except those live on a killed instance: once
 *   every idle deadline passed, a new instance adopts what they left (a checkpoint) and runs the hook
 *   of each there, once, and only for sessions whose last context died with its instance; after that,
 *   no checkpoint is left for a visitor to restore.
 */
describe('several instances: one live owner, nothing acknowledged lost, hooks once (property)', function () {
  this.timeout(300_000);
  after(() => {
    if (process.env.COORDINATION_PROPERTY_STATS)
      console.log([...coverage].map(([what, n]) => `${String(n).padStart(7)}  ${what}`).join('\n'));
  });

  it(`${NUM_RUNS} generated runs of 3 instances, 4 visitors, concurrent requests, evictions and kills`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 12 }), async (steps) => {
        let offset = 0;
        const cluster = new MemoryCluster({ now: () => Date.now() + offset });
        const adapter = new MemoryAdapter();
        const hookRuns = new Map<LiveSession<Data>, number>();
        const contexts = new Set<LiveSession<Data>>();
        const dead = new Set<number>();
        /** Per visitor: the items of the newest record the store took for its id (from the adapter's own log). */
        const stored = new Map<string, { version: number; items: string[] }>();
        const logged: SessionAdapter = new Proxy(adapter, {
          get(target, name) {
            const value = Reflect.get(target, name, target) as unknown;
            if (name === 'saveManyIfNewer' && typeof value === 'function') {
              return async (writes: { key: string; value: string; version: number }[]) => {
                const results = await (value as (w: unknown) => Promise<boolean[]>).call(target, writes);
                writes.forEach((write, n) => {
                  const record = results[n] ? decodeRecord(write.value) : undefined;
                  if (record?.kind === 'snapshot' && write.version > (stored.get(write.key)?.version ?? -1))
                    stored.set(write.key, { version: write.version, items: [...(record.snapshot.data as Data).items] });
                });
                return results;
              };
            }
            return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
          },
        });
        const coordinators = Array.from({ length: INSTANCES }, () => new MemoryCoordinator(cluster));
        const managers = Array.from({ length: INSTANCES }, (_, n) => {
          const manager = new SessionManager<Data>({
            adapter: processView(logged, () => dead.has(n)),
            coordinator: processView(coordinators[n]!, () => dead.has(n)),
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
        /** Items a kill may lose: acknowledged by the killed instance on a session it held then, not in its last stored record. */
        const mayLose = new Set<string>();
        /** Contexts live on a killed instance at the kill: their hooks never run. */
        const killedContexts = new Set<LiveSession<Data>>();
        /** Per item: the instance that acknowledged it. */
        const ackedOn = new Map<string, number>();
        let serial = 0;
        try {
          for (const step of steps) {
            if (step.t === 'kill') {
              if (dead.has(step.on) || dead.size === INSTANCES - 1) continue;
              await new Promise((resolve) => setTimeout(resolve, 2)); // writes in flight land first, or not at all
              dead.add(step.on);
              for (const [n, id] of ids.entries()) {
                const session = managers[step.on]!.get(id);
                if (session === undefined) continue;
                killedContexts.add(session);
                const kept = new Set(stored.get(id)?.items ?? []);
                for (const item of acked[n]!) if (ackedOn.get(item) === step.on && !kept.has(item)) mayLose.add(item);
              }
              await coordinators[step.on]!.leave(); // no more hand-over requests reach it
              cluster.lapse(`i${step.on}`);
              continue;
            }
            if (step.t === 'evict') {
              if (dead.has(step.on)) continue;
              managers[step.on]!.setOption('maxSessions', 1);
              await new Promise((resolve) => setTimeout(resolve, 5));
              managers[step.on]!.setOption('maxSessions', 100);
              continue;
            }
            await Promise.all(
              step.requests.map(async ({ on, visitor, write }) => {
                if (dead.has(on)) return;
                const item = `r${serial++}@i${on}`;
                const resumed = await managers[on]!.resume(ids[visitor]!);
                if (resumed.kind !== 'live' && resumed.kind !== 'restored') return;
                try {
                  if (write) {
                    resumed.session.data.items.push(item);
                    acked[visitor]!.push(item);
                    ackedOn.set(item, on);
                  }
                } finally {
                  managers[on]!.release(resumed.session);
                }
              }),
            );
            // One live owner per session, whatever happened.
            for (const id of ids) {
              const owners = managers.filter((manager, n) => !dead.has(n) && manager.get(id) !== undefined).length;
              expect(owners, `live copies of ${id.slice(0, 6)}`).to.be.at.most(1);
            }
          }
          for (const [n, manager] of managers.entries()) {
            const stats = manager.stats();
            count('hand-overs in', stats.handoversIn);
            count("takeovers (restored from a dead owner's checkpoint)", stats.takeovers);
            count('leases lost', stats.leasesLost);
            count('closes with handover', stats.closed.handover);
            if (dead.has(n)) count('instances killed');
          }
          count('acknowledged items a kill may lose', mayLose.size);
          await Promise.all(managers.filter((_, n) => !dead.has(n)).map((manager) => manager.shutdown()));
          for (const session of contexts) {
            expect(hookRuns.get(session) ?? 0, `closing hooks of a context of ${session.id.slice(0, 6)}`).to.equal(
              killedContexts.has(session) ? 0 : 1,
            );
          }
          // A new instance, a day later (past every idle deadline), adopts what the killed ones left ...
          offset = 24 * 3_600_000;
          const adopted = new Map<string, number>();
          const restoredFrom: string[] = [];
          const last = new SessionManager<Data>({
            adapter,
            coordinator: new MemoryCoordinator(cluster),
            instanceId: 'last',
            checkpointInterval: 20,
            onClose: (session, reason) => void (reason === 'expired' && adopted.set(session.id, (adopted.get(session.id) ?? 0) + 1)),
          });
          last.on('error', () => {});
          last.on('restore', (_session, snapshot) => void restoredFrom.push(snapshot.reason));
          try {
            await last.adoptOrphans();
            for (const id of ids) {
              const final = [...contexts].filter((session) => session.id === id).at(-1)!;
              const runs = adopted.get(id) ?? 0;
              expect(runs, `adoptions of ${id.slice(0, 6)}`).to.be.at.most(1);
              if (runs === 1) expect(killedContexts.has(final), `${id.slice(0, 6)} adopted: its last context died`).to.equal(true);
              count('sessions adopted', runs);
            }
            restoredFrom.length = 0;
            // ... and restores every visitor: every acknowledged item is there, once.
            for (const [n, id] of ids.entries()) {
              const resumed = await last.resume(id);
              const items = resumed.kind === 'restored' ? resumed.session.data.items : [];
              if (resumed.kind === 'restored') last.release(resumed.session);
              else expect(resumed.kind, `visitor ${n}`).to.equal('none');
              const missing = acked[n]!.filter((item) => !items.includes(item) && !mayLose.has(item));
              expect(missing, `acknowledged items of visitor ${n} missing (may lose: ${[...mayLose].join(' ')})`).to.deep.equal([]);
              expect(
                items.filter((item) => !acked[n]!.includes(item)),
                `items of visitor ${n} never acknowledged`,
              ).to.deep.equal([]);
              expect(new Set(items).size, `items of visitor ${n} twice`).to.equal(items.length);
            }
            expect(restoredFrom, 'checkpoints left unadopted').to.not.include('checkpoint');
          } finally {
            await last.shutdown();
          }
        } finally {
          await Promise.all(managers.filter((_, n) => !dead.has(n)).map((manager) => manager.shutdown()));
        }
      }),
      { numRuns: NUM_RUNS },
    );
  });
});
