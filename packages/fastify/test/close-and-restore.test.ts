import FakeTimers from '@sinonjs/fake-timers';
import { expect } from 'chai';
import type { CloseReason, LiveSessionView, Snapshot } from '@reprise/core';
import { MemoryAdapter } from '@reprise/memory';
import { bag, buildApp, cookieIn, deferred, isClearing, SECRET, setCookies, sign, until, type Browser, type Reply } from './support/app.js';

const MINUTE = 60_000;

interface Recorded {
  closes: Array<{ id: string; reason: CloseReason; data: Record<string, unknown> }>;
  restores: Array<{ id: string; from: string; data: Record<string, unknown> }>;
}

/** Hooks that record what they saw (data copied at the time of the call). */
function recordingHooks() {
  const seen: Recorded = { closes: [], restores: [] };
  return {
    seen,
    onClose: (session: LiveSessionView, reason: CloseReason) => {
      seen.closes.push({ id: session.id, reason, data: { ...session.data } });
    },
    onRestore: (session: LiveSessionView, snapshot: Snapshot) => {
      seen.restores.push({ id: session.id, from: snapshot.sessionId, data: { ...session.data } });
    },
  };
}

/** A restore keeps the cookie: the response sets nothing for it, or the very same (signed) value; never clears it. */
function expectSameCookie(res: Reply, id: string, secret?: string): void {
  const value = cookieIn(res);
  expect(isClearing(value), 'the cookie is not cleared').to.equal(false);
  if (value !== undefined) expect(value.value, 'the cookie keeps its id').to.equal(secret === undefined ? id : sign(id, secret));
}

/** With a cap of one, a second visitor's first write evicts the first visitor's session. */
async function evictBySecondVisitor(other: Browser): Promise<void> {
  await other.get('/inc');
}

describe('close and restore', () => {
  describe('restore on return after an involuntary close', () => {
    it('evicted: the returning (signed) cookie gets the data back under the same id; the cookie does not change', async () => {
      const hooks = recordingHooks();
      const t = await buildApp({ session: { secret: SECRET, maxSessions: 1, onClose: hooks.onClose, onRestore: hooks.onRestore } });
      const alice = t.browser();
      await alice.get('/set?cart=apple');
      const oldId = alice.sid!;
      const oldValue = alice.jar.get('reprise.sid');
      expect(oldValue).to.equal(sign(oldId, SECRET));
      await evictBySecondVisitor(t.browser());
      const res = await alice.get('/id');
      expect(res.body.data).to.deep.equal({ cart: 'apple' });
      expect(res.body.isNew).to.equal(false);
      expect(res.body.id, 'the same id').to.equal(oldId);
      expectSameCookie(res, oldId, SECRET);
      expect(alice.jar.get('reprise.sid')).to.equal(oldValue);
      expect(hooks.seen.closes.find((close) => close.id === oldId)).to.deep.equal({
        id: oldId,
        reason: 'evicted',
        data: { cart: 'apple' },
      });
      expect(hooks.seen.restores).to.deep.equal([{ id: oldId, from: oldId, data: { cart: 'apple' } }]);
      const next = await alice.get('/inc');
      expect(next.body).to.include({ id: oldId, views: 1 });
      expect(setCookies(next)).to.deep.equal([]);
    });

    it('a read-only request restores too (restoring is not creating)', async () => {
      const t = await buildApp({ session: { maxSessions: 1 } });
      const alice = t.browser();
      await alice.get('/set?cart=apple');
      const oldId = alice.sid!;
      await evictBySecondVisitor(t.browser());
      const res = await alice.get('/read');
      expect(res.body.data).to.deep.equal({ cart: 'apple' });
      expectSameCookie(res, oldId);
      expect(t.manager.stats()).to.include({ created: 2, restored: 1 });
    });

    it('a restored session evicted again loses nothing: the same cookie restores it again, with the write acknowledged in between', async () => {
      const t = await buildApp({ session: { maxSessions: 1 } });
      const alice = t.browser();
      await alice.get('/set?cart=apple');
      const id = alice.sid!;
      await evictBySecondVisitor(t.browser());
      const restored = await alice.get('/set?size=xl');
      expect(restored.body).to.deep.equal({ id, data: { cart: 'apple', size: 'xl' } });
      await until(() => t.manager.stats().busy === 0, 'the response to end');
      await evictBySecondVisitor(t.browser());
      await until(() => t.manager.stats().closing === 0, 'the eviction to finish');
      expect(t.manager.get(id), 'evicted again').to.equal(undefined);
      const again = await alice.get('/id');
      expect(again.body).to.include({ id, isNew: false });
      expect(again.body.data).to.deep.equal({ cart: 'apple', size: 'xl' });
      expect(t.manager.stats().restored).to.equal(2);
    });

    it('expired by the idle timer (no request needed): the returning cookie is restored', async () => {
      const clock = FakeTimers.install({ now: Date.UTC(2030, 0, 1), toFake: ['Date', 'setTimeout', 'clearTimeout'] });
      try {
        const hooks = recordingHooks();
        const t = await buildApp({ session: { idleTimeout: 10 * MINUTE, onClose: hooks.onClose } });
        const alice = t.browser();
        await alice.get('/set?cart=apple');
        const oldId = alice.sid!;
        await clock.tickAsync(10 * MINUTE - 1);
        expect(t.manager.get(oldId)?.state, 'still live just before its idle timeout').to.equal('live');
        await clock.tickAsync(1);
        expect(t.manager.get(oldId), 'closed by the timer').to.equal(undefined);
        expect(hooks.seen.closes).to.deep.equal([{ id: oldId, reason: 'expired', data: { cart: 'apple' } }]);
        const res = await alice.get('/read');
        expect(res.body.data).to.deep.equal({ cart: 'apple' });
        expectSameCookie(res, oldId);
        expect(t.manager.get(oldId)?.state).to.equal('live');
      } finally {
        clock.uninstall();
      }
    });

    it('app.close() closes every session with reason shutdown (hooks run); a restarted app on the same adapter and secret restores the cookie', async () => {
      const hooks = recordingHooks();
      const adapter = new MemoryAdapter();
      const before = await buildApp({ session: { secret: SECRET, adapter, onClose: hooks.onClose } });
      const alice = before.browser();
      await alice.get('/set?cart=apple');
      const oldId = alice.sid!;
      await before.app.close();
      expect(hooks.seen.closes).to.deep.equal([{ id: oldId, reason: 'shutdown', data: { cart: 'apple' } }]);
      expect(before.manager.stats().closed.shutdown).to.equal(1);
      const after = await buildApp({ session: { secret: SECRET, adapter } });
      const res = await alice.clone(after.app).get('/id');
      expect(res.body.data).to.deep.equal({ cart: 'apple' });
      expect(res.body.id).to.equal(oldId);
      expectSameCookie(res, oldId, SECRET);
    });

    it('a write reaching a shut-down manager gets 503 with Retry-After and no Set-Cookie; the next process restores the context', async () => {
      const adapter = new MemoryAdapter();
      const before = await buildApp({ session: { secret: SECRET, adapter, retryAfter: 2 } });
      const alice = before.browser();
      await alice.get('/set?cart=apple');
      const oldId = alice.sid!;
      await before.manager.shutdown();
      const write = await alice.get('/set?cart=pear', { status: 503 });
      expect(write.headers['retry-after']).to.equal('2');
      expect(write.headers['set-cookie']).to.equal(undefined);
      expect(write.body).to.include({ statusCode: 503, code: 'ERR_REPRISE_SESSION_UNAVAILABLE' });
      expect(alice.sid).to.equal(oldId);
      const stranger = await before.browser().get('/inc', { status: 503 });
      expect(stranger.headers['set-cookie']).to.equal(undefined);
      const after = await buildApp({ session: { secret: SECRET, adapter } });
      const res = await alice.clone(after.app).get('/read');
      expect(res.body.data, 'the refused write was not acknowledged').to.deep.equal({ cart: 'apple' });
    });

    it('the restored session keeps its first createdAt', async () => {
      let clock = 1_000_000;
      const t = await buildApp({
        session: { maxSessions: 1, now: () => clock },
        routes: { '/created': (request) => ({ createdAt: request.liveSession.createdAt }) },
      });
      const alice = t.browser();
      await alice.get('/set?cart=apple');
      clock += 5 * MINUTE;
      await evictBySecondVisitor(t.browser());
      clock += 5 * MINUTE;
      const res = await alice.get('/created');
      expect(res.body.createdAt).to.equal(1_000_000);
    });
  });

  describe('explicit close', () => {
    it('request.session = null closes with reason closed (hooks see the data) and clears the cookie', async () => {
      const hooks = recordingHooks();
      const t = await buildApp({ session: { secret: SECRET, onClose: hooks.onClose } });
      const alice = t.browser();
      await alice.get('/set?cart=apple');
      const id = alice.sid!;
      const res = await alice.get('/logout');
      const cleared = cookieIn(res);
      expect(isClearing(cleared), 'cookie cleared').to.equal(true);
      expect(cleared!.attributes).to.include({ path: '/', samesite: 'Lax', httponly: true });
      expect(alice.jar.size).to.equal(0);
      expect(hooks.seen.closes).to.deep.equal([{ id, reason: 'closed', data: { cart: 'apple' } }]);
      expect(t.manager.size).to.equal(0);
      expect(await t.adapter.load(id), 'a logout with the default persistKey writes nothing').to.equal(undefined);
    });

    it('the closing hook has run before the logout response is sent', async () => {
      const gate = deferred();
      const entered = deferred();
      let hookDone = false;
      const t = await buildApp({
        session: {
          onClose: async () => {
            entered.resolve();
            await gate.promise;
            hookDone = true;
          },
        },
      });
      const alice = t.browser();
      await alice.get('/set?cart=apple');
      let answered = false;
      const logout = alice.get('/logout').then((res) => {
        answered = true;
        return res;
      });
      await entered.promise;
      await new Promise((resolve) => setImmediate(resolve));
      expect(answered, 'no answer while the hook runs').to.equal(false);
      gate.resolve();
      const res = await logout;
      expect(hookDone).to.equal(true);
      expect(isClearing(cookieIn(res))).to.equal(true);
    });

    it('a replayed cookie of a closed session gets nothing and never revives it', async () => {
      const t = await buildApp({ session: { secret: SECRET } });
      const alice = t.browser();
      await alice.get('/set?cart=apple');
      const id = alice.sid!;
      const replayed = alice.clone();
      await alice.get('/logout');
      const read = await replayed.clone().get('/read');
      expect(read.body.data).to.deep.equal({});
      expect(setCookies(read), 'an unknown id: nothing set, nothing cleared').to.deep.equal([]);
      const write = await replayed.clone().get('/id');
      expect(write.body).to.include({ isNew: true });
      expect(write.body.id).to.not.equal(id);
      expect(t.manager.stats().restored).to.equal(0);
    });

    it('after request.session = null, a write in the same request starts a new, empty session with a new cookie', async () => {
      const t = await buildApp({
        routes: {
          '/switch': (request) => {
            request.session = null;
            bag(request).fresh = true;
            return { id: request.liveSession.id, data: request.session };
          },
        },
      });
      const alice = t.browser();
      await alice.get('/set?cart=apple');
      const oldId = alice.sid!;
      const res = await alice.get('/switch');
      expect(res.body.data).to.deep.equal({ fresh: true });
      expect(res.body.id).to.not.equal(oldId);
      expect(cookieIn(res)!.value).to.equal(res.body.id);
      expect(t.manager.get(oldId)).to.equal(undefined);
      expect(t.manager.stats().closed.closed).to.equal(1);
    });

    it('a request for a session being closed explicitly waits, then gets no session and a cleared cookie', async () => {
      const gate = deferred();
      const entered = deferred();
      let arrived = 0;
      const t = await buildApp({
        outer: (app) =>
          app.addHook('onRequest', async () => {
            arrived += 1;
          }),
        session: {
          onClose: async (_session, reason) => {
            if (reason !== 'closed') return;
            entered.resolve();
            await gate.promise;
          },
        },
      });
      const alice = t.browser();
      await alice.get('/set?cart=apple');
      const id = alice.sid!;
      const tab = alice.clone();
      const logout = alice.get('/logout');
      await entered.promise;
      const during = tab.get('/id');
      await until(() => arrived === 3, 'the concurrent request');
      gate.resolve();
      const [loggedOut, other] = await Promise.all([logout, during]);
      expect(isClearing(cookieIn(loggedOut))).to.equal(true);
      expect(other.body.data, 'nothing of the closed session').to.deep.equal({});
      expect(other.body.id).to.not.equal(id);
      expect(t.manager.stats().restored).to.equal(0);
    });
  });

  describe('concurrent returns', () => {
    it('requests carrying the same closed cookie share one restore and all get the same session under the same id', async () => {
      const gate = deferred();
      let restoreHooks = 0;
      const t = await buildApp({
        session: {
          secret: SECRET,
          maxSessions: 1,
          onRestore: async () => {
            restoreHooks += 1;
            await gate.promise;
          },
        },
      });
      const alice = t.browser();
      await alice.get('/set?cart=apple');
      const oldId = alice.sid!;
      await evictBySecondVisitor(t.browser());
      const pending = [alice.clone(), alice.clone(), alice.clone()].map((tab) => tab.get('/read'));
      await until(() => restoreHooks === 1, 'the restore hook');
      gate.resolve();
      for (const res of await Promise.all(pending)) {
        expect(res.body.data).to.deep.equal({ cart: 'apple' });
        expectSameCookie(res, oldId, SECRET);
      }
      expect(restoreHooks).to.equal(1);
      expect(t.manager.stats().restored).to.equal(1);
    });

    it('concurrent writes to one session are never lost: 25 parallel increments count 25', async () => {
      const t = await buildApp();
      const alice = t.browser();
      await alice.get('/inc');
      await Promise.all(Array.from({ length: 24 }, () => alice.clone().get('/inc')));
      const res = await alice.get('/read');
      expect(res.body.data).to.deep.equal({ views: 25 });
    });
  });
});
