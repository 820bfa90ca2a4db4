import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { CoordinatorMember, Lease, SessionCoordinator } from '@reprise/core';
import { adoptionChecks } from './coordinator-adoption.js';
import { resolveCoordinatorTestOptions, resolveTestFunctions } from './options.js';
import type { CoordinatorTestOptions } from './options.js';
import type { TestFunctions } from './types.js';

/** Returns a new coordinator, not joined yet (a promise of one is fine). Each call is one instance. */
export type CoordinatorFactory = () => SessionCoordinator | Promise<SessionCoordinator>;

/** One joined instance of the suite and what its member was asked. */
interface Instance {
  readonly id: string;
  readonly coordinator: SessionCoordinator;
  /** Hand-over requests it got, as `sessionId <- from`. */
  readonly asked: string[];
  /** What it holds (its member releases these on a hand-over request). */
  readonly held: Map<string, Lease>;
}

const sessionId = (): string => `s-${randomUUID()}`;

/** Polls `check` every 20 ms until it resolves true, for at most `ms`. */
async function eventually(check: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) assert.fail(`${what}: not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Registers the conformance suite of `SessionCoordinator` (leases with fencing tokens, renewals,
 * releases, hand-over requests) under one group named `name`. Each check joins its own instances
 * (random instance ids, random session ids), so runs on a shared store cannot collide, and makes
 * them leave afterwards. Leases are left to lapse; token counters stay as long as the coordinator
 * keeps them, so give the factory a prefix or table of the run's own and remove it afterwards.
 *
 * @param functions `describe`, `it`, `before` and `after` (default mocha's globals).
 */
export function runCoordinatorTests(
  name: string,
  factory: CoordinatorFactory,
  functions?: TestFunctions,
  options?: CoordinatorTestOptions,
): void {
  const { shortLeaseMs: shortLease } = resolveCoordinatorTestOptions(options);
  const fns = resolveTestFunctions(functions);
  const { describe } = fns;
  const LONG = 60_000;
  const joined: Instance[] = [];

  async function instance(): Promise<Instance> {
    const coordinator = await factory();
    const me: Instance = { id: `i-${randomUUID().slice(0, 8)}`, coordinator, asked: [], held: new Map() };
    const member: CoordinatorMember = {
      async handover(id, from) {
        me.asked.push(`${id} <- ${from}`);
        const lease = me.held.get(id);
        if (lease === undefined) return;
        me.held.delete(id);
        await coordinator.release(lease);
      },
    };
    await coordinator.join(me.id, member);
    joined.push(me);
    return me;
  }

  async function claimed(me: Instance, id: string, leaseMs = LONG): Promise<Lease> {
    const claim = await me.coordinator.claim(id, leaseMs);
    assert.equal(claim.held, true, `${me.id} claims ${id}`);
    const lease = (claim as { lease: Lease }).lease;
    me.held.set(id, lease);
    return lease;
  }

  /** A check whose instances all leave when it ends, passed or not. */
  const it = (title: string, body: () => Promise<void>): void => {
    fns.it(title, async () => {
      try {
        await body();
      } finally {
        await Promise.all(joined.splice(0).map((me) => me.coordinator.leave()));
      }
    });
  };

  describe(name, () => {
    describe('claims', () => {
      it('a free session: held by the claimer, with a positive integer token; owner() reports it', async () => {
        const a = await instance();
        const id = sessionId();
        const lease = await claimed(a, id);
        assert.equal(lease.sessionId, id);
        assert.equal(lease.owner, a.id);
        assert.ok(Number.isSafeInteger(lease.token) && lease.token > 0, `token ${lease.token}`);
        assert.deepEqual(await a.coordinator.owner(id), lease);
      });

      it("another instance's claim on a live lease is refused and names the owner; the owner's own claim keeps its token", async () => {
        const [a, b] = [await instance(), await instance()];
        const id = sessionId();
        const lease = await claimed(a, id);
        assert.deepEqual(await b.coordinator.claim(id, LONG), { held: false, owner: a.id });
        assert.deepEqual(await a.coordinator.claim(id, LONG), { held: true, lease });
      });

      it('of 5 instances claiming 20 sessions at once, exactly one holds each, and owner() agrees', async () => {
        const instances = await Promise.all(Array.from({ length: 5 }, () => instance()));
        const ids = Array.from({ length: 20 }, sessionId);
        const claims = await Promise.all(
          ids.flatMap((id) => instances.map(async (me) => ({ id, me, claim: await me.coordinator.claim(id, LONG) }))),
        );
        for (const id of ids) {
          const winners = claims.filter((c) => c.id === id && c.claim.held);
          assert.equal(winners.length, 1, `holders of ${id}`);
          const owner = winners[0]!.me.id;
          for (const c of claims.filter((c) => c.id === id && !c.claim.held)) assert.deepEqual(c.claim, { held: false, owner });
          assert.equal((await instances[0]!.coordinator.owner(id))?.owner, owner);
        }
      });
    });

    describe('tokens and releases', () => {
      it('release ends the lease once (a second release, a stale token or another instance releases nothing); the next claim gets a greater token', async () => {
        const [a, b] = [await instance(), await instance()];
        const id = sessionId();
        const lease = await claimed(a, id);
        assert.equal(await b.coordinator.release({ ...lease, owner: b.id }), false, "another instance's release");
        assert.equal(await a.coordinator.release({ ...lease, token: lease.token + 1 }), false, 'a wrong token');
        assert.equal((await a.coordinator.owner(id))?.token, lease.token, 'the lease is still there');
        assert.equal(await a.coordinator.release(lease), true);
        assert.equal(await a.coordinator.release(lease), false, 'a second release');
        assert.equal(await a.coordinator.owner(id), undefined);
        const next = await claimed(b, id);
        assert.ok(next.token > lease.token, `token ${next.token} after ${lease.token}`);
      });

      it('tokens strictly increase over 30 claims and releases by 3 instances in turn', async () => {
        const instances = [await instance(), await instance(), await instance()];
        const id = sessionId();
        let last = 0;
        for (let round = 0; round < 30; round++) {
          const me = instances[round % 3]!;
          const lease = await claimed(me, id);
          assert.ok(lease.token > last, `round ${round}: token ${lease.token} after ${last}`);
          last = lease.token;
          assert.equal(await me.coordinator.release(lease), true);
        }
      });

      it('a lease that is not renewed lapses after its time; then another instance holds it, with a greater token', async () => {
        const [a, b] = [await instance(), await instance()];
        const id = sessionId();
        const started = Date.now();
        const lease = await claimed(a, id, shortLease);
        assert.equal((await b.coordinator.claim(id, LONG)).held, false, 'still live');
        await eventually(
          async () => (await b.coordinator.claim(id, LONG)).held,
          shortLease * 3,
          'the lapsed lease claimed by another instance',
        );
        assert.ok(Date.now() - started >= shortLease * 0.5, 'not before its time');
        const next = await b.coordinator.owner(id);
        assert.equal(next?.owner, b.id);
        assert.ok(next!.token > lease.token);
      });
    });

    describe('renewals', () => {
      it('renew keeps held leases past their first term, in one call for 250 of them, and sets their end; an empty list resolves []', async () => {
        const [a, b] = [await instance(), await instance()];
        const ids = Array.from({ length: 250 }, sessionId);
        // Claimed for long (250 claims may take longer than a short lease on a loaded machine), then
        // shortened by the first renewal: from there on only renewals keep them.
        const leases = await Promise.all(ids.map((id) => claimed(a, id)));
        assert.deepEqual(await a.coordinator.renew([], shortLease), []);
        const until = Date.now() + shortLease * 2;
        while (Date.now() < until) {
          assert.deepEqual(await a.coordinator.renew(leases, shortLease), []);
          await new Promise((resolve) => setTimeout(resolve, shortLease / 4));
        }
        for (const id of [ids[0]!, ids[249]!])
          assert.deepEqual(await b.coordinator.claim(id, LONG), { held: false, owner: a.id }, `${id} still held`);
        // Renewals stopped: they lapse after the short lease they were renewed to.
        await eventually(
          async () => (await b.coordinator.claim(ids[0]!, LONG)).held,
          shortLease * 3,
          'a lease lapsed once the renewals stopped',
        );
      });

      it('renew returns the sessions no longer held: released, or lapsed and claimed by another instance', async () => {
        const [a, b] = [await instance(), await instance()];
        const [kept, released, lapsed] = [sessionId(), sessionId(), sessionId()];
        const keptLease = await claimed(a, kept);
        const releasedLease = await claimed(a, released);
        const lapsedLease = await claimed(a, lapsed, shortLease);
        await a.coordinator.release(releasedLease);
        await eventually(async () => (await b.coordinator.claim(lapsed, LONG)).held, shortLease * 3, 'lapsed lease claimed');
        const lost = await a.coordinator.renew([keptLease, releasedLease, lapsedLease], LONG);
        assert.deepEqual([...lost].sort(), [released, lapsed].sort());
        assert.equal((await a.coordinator.owner(lapsed))?.owner, b.id, "renew did not take back the other instance's lease");
        assert.equal(await a.coordinator.owner(released), undefined, 'renew did not bring back the released lease');
      });
    });

    describe('hand-over requests', () => {
      it("the owner's member is asked (session, requester); once it released, the requester gets 'released' and holds the session with a greater token", async () => {
        const [a, b] = [await instance(), await instance()];
        const id = sessionId();
        const lease = await claimed(a, id);
        assert.equal(await b.coordinator.requestHandover(id, a.id, 5_000), 'released');
        assert.deepEqual(a.asked, [`${id} <- ${b.id}`]);
        const next = await claimed(b, id);
        assert.ok(next.token > lease.token);
      });

      it('concurrent requests for one session from 3 instances each get an answer, and exactly one of them then holds it', async () => {
        const owner = await instance();
        const askers = [await instance(), await instance(), await instance()];
        const id = sessionId();
        await claimed(owner, id);
        const outcomes = await Promise.all(askers.map((me) => me.coordinator.requestHandover(id, owner.id, 5_000)));
        assert.deepEqual(outcomes, ['released', 'released', 'released']);
        const claims = await Promise.all(askers.map((me) => me.coordinator.claim(id, LONG)));
        assert.equal(claims.filter((c) => c.held).length, 1);
      });

      it("a request to an instance that left gets 'timeout' after its time, and the lease is untouched", async () => {
        const [a, b] = [await instance(), await instance()];
        const id = sessionId();
        const lease = await claimed(a, id);
        await a.coordinator.leave();
        const started = Date.now();
        assert.equal(await b.coordinator.requestHandover(id, a.id, 300), 'timeout');
        const waited = Date.now() - started;
        assert.ok(waited >= 250 && waited < 3_000, `waited ${waited} ms for 300`);
        assert.deepEqual(await b.coordinator.owner(id), lease);
        assert.deepEqual(a.asked, []);
      });
    });

    adoptionChecks({ describe, it, instance, shortLease });

    describe('arguments and lifecycle', () => {
      it('rejects calls before join() and after leave(), a second join(), a bad instanceId and a bad leaseMs', async () => {
        const fresh = await factory();
        await assert.rejects(fresh.claim(sessionId(), LONG), /before join/);
        await assert.rejects(fresh.join('not an id!', { handover: async () => {} }), /instanceId/);
        await fresh.join(`i-${randomUUID().slice(0, 8)}`, { handover: async () => {} });
        await assert.rejects(fresh.join('again', { handover: async () => {} }), /already/);
        for (const bad of [0, -1, 1.5, Number.NaN, 2 ** 31, '100'])
          await assert.rejects(fresh.claim(sessionId(), bad as number), /leaseMs/, `leaseMs ${String(bad)}`);
        await fresh.leave();
        await fresh.leave();
        await assert.rejects(fresh.claim(sessionId(), LONG), /after leave/);
      });
    });
  });
}
