import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Lease, SessionCoordinator } from '@reprise/core';

/** What the adoption checks use of the coordinator suite (see `runCoordinatorTests`). */
export interface AdoptionSuite {
  readonly describe: (title: string, body: () => void) => void;
  /** A check whose instances leave when it ends. */
  readonly it: (title: string, body: () => Promise<void>) => void;
  /** A new joined instance. */
  readonly instance: () => Promise<{ readonly id: string; readonly coordinator: SessionCoordinator }>;
  /** ms of the short leases the checks let lapse. */
  readonly shortLease: number;
}

const LONG = 60_000;
const HOUR = 3_600_000;
const sessionId = (): string => `s-${randomUUID()}`;

/** The ids of `ids` that `adoptable` lists (other checks of the run share the index), in its order. */
async function listed(coordinator: SessionCoordinator, ids: readonly string[]): Promise<string[]> {
  const mine = new Set(ids);
  return (await coordinator.adoptable(10_000)).filter((id) => mine.has(id));
}

async function held(coordinator: SessionCoordinator, id: string, leaseMs: number, deadline?: number): Promise<Lease> {
  const claim = await coordinator.claim(id, leaseMs, deadline);
  assert.equal(claim.held, true, `claim of ${id}`);
  return (claim as { lease: Lease }).lease;
}

/** Waits until `ms` passed, polling nothing: the leases of the check lapse meanwhile. */
const lapse = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The checks of the deadline index (`claim`'s and `renew`'s deadlines, `release`, `adoptable`):
 * what a survivor finds of a dead instance's sessions, and only that.
 */
export function adoptionChecks({ describe, it, instance, shortLease }: AdoptionSuite): void {
  describe('adoption index', () => {
    it('adoptable lists the sessions past their deadline whose lease lapsed, oldest deadline first; not a live lease, a future deadline or a released one', async () => {
      const [a, b] = [await instance(), await instance()];
      const now = Date.now();
      const [older, newer, future, live, released] = [sessionId(), sessionId(), sessionId(), sessionId(), sessionId()];
      await held(a.coordinator, newer, shortLease, now - 30_000);
      await held(a.coordinator, older, shortLease, now - 60_000);
      await held(a.coordinator, future, shortLease, now + HOUR);
      await held(a.coordinator, live, LONG, now - 60_000);
      await a.coordinator.release(await held(a.coordinator, released, shortLease, now - 90_000));
      const ids = [older, newer, future, live, released];
      assert.deepEqual(await listed(b.coordinator, ids), [], 'nothing while the leases are live');
      await lapse(shortLease * 2);
      assert.deepEqual(await listed(b.coordinator, ids), [older, newer]);
      const first = await b.coordinator.adoptable(1);
      assert.equal(first.length, 1, 'limit 1');
    });

    it('a claim adopts: the session is no longer listed while held, and leaves the index when released', async () => {
      const [a, b, c] = [await instance(), await instance(), await instance()];
      const id = sessionId();
      await held(a.coordinator, id, shortLease, Date.now() - 1_000);
      await lapse(shortLease * 2);
      assert.deepEqual(await listed(c.coordinator, [id]), [id]);
      const claims = await Promise.all([b.coordinator.claim(id, LONG), c.coordinator.claim(id, LONG)]);
      assert.equal(claims.filter((claim) => claim.held).length, 1, 'exactly one adopter');
      assert.deepEqual(await listed(c.coordinator, [id]), [], 'held by the adopter');
      const winner = claims[0]!.held ? b : c;
      await winner.coordinator.release(((claims[0]!.held ? claims[0] : claims[1]) as { lease: Lease }).lease);
      await lapse(shortLease);
      assert.deepEqual(await listed(c.coordinator, [id]), [], 'released: out of the index');
    });

    it("renew indexes a lease's new deadline, a renewal without one keeps it, and so does the holder's claim without one", async () => {
      const [a, b] = [await instance(), await instance()];
      const now = Date.now();
      const [moved, kept, reclaimed] = [sessionId(), sessionId(), sessionId()];
      const movedLease = await held(a.coordinator, moved, shortLease, now + HOUR);
      const keptLease = await held(a.coordinator, kept, shortLease, now - 1_000);
      await held(a.coordinator, reclaimed, shortLease, now + HOUR);
      assert.deepEqual(await a.coordinator.renew([{ ...movedLease, deadline: now - 2_000 }, keptLease], shortLease), []);
      await held(a.coordinator, reclaimed, shortLease);
      await lapse(shortLease * 2);
      assert.deepEqual(await listed(b.coordinator, [moved, kept, reclaimed]), [moved, kept]);
    });

    it('rejects a bad limit and a bad deadline', async () => {
      const a = await instance();
      for (const bad of [0, -1, 1.5, Number.NaN, '10'])
        await assert.rejects(a.coordinator.adoptable(bad as number), /limit/, `limit ${String(bad)}`);
      for (const bad of [-1, 1.5, Number.NaN, '10'])
        await assert.rejects(a.coordinator.claim(sessionId(), LONG, bad as number), /deadline/, `deadline ${String(bad)}`);
      const lease = await held(a.coordinator, sessionId(), LONG);
      await assert.rejects(a.coordinator.renew([{ ...lease, deadline: -5 }], LONG), /deadline/);
    });
  });
}
