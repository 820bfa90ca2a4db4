import FakeTimers from '@sinonjs/fake-timers';
import { expect } from 'chai';
import type { Context, Middleware } from 'koa';
import type { CloseReason, LiveSessionView, Snapshot } from '@reprise/core';
import { MemoryAdapter } from '@reprise/memory';
import type { Response } from 'supertest';
import { buildApp, cookieIn, deferred, isClearing, setCookies, sign, SID, until, type Browser } from './support/app.js';

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

/** Counts requests as they arrive (before `session()` runs). */
function arrivals() {
  let count = 0;
  const probe: Middleware = async (_ctx, next) => {
    count += 1;
    await next();
  };
  return { probe, count: () => count };
}

/**
 * A restore keeps the cookie: the response either sets nothing for the session cookie, or sets it to
 * the very same id (signed for it, never cleared).
 */
function expectSameCookie(res: Response, id: string, key?: string): void {
  const value = cookieIn(res);
  expect(isClearing(value), 'the cookie is not cleared').to.equal(false);
  if (value !== undefined) expect(value.value, 'the cookie keeps its id').to.equal(id);
  const signature = cookieIn(res, `${SID}.sig`);
  expect(isClearing(signature), 'the signature is not cleared').to.equal(false);
  if (signature !== undefined && key !== undefined) expect(signature.value).to.equal(sign(SID, id, key));
}

/** With a cap of one, a second visitor's first write evicts the first visitor's session. */
async function evictBySecondVisitor(other: Browser): Promise<void> {
  await other.get('/inc');
}

describe('close and restore', () => {
  describe('restore on return after an involuntary close', () => {
    it('evicted: the returning cookie gets the data back under the same id; the cookie does not change', async () => {
      const hooks = recordingHooks();
      const t = buildApp({ keys: ['k1'], session: { maxSessions: 1, onClose: hooks.onClose, onRestore: hooks.onRestore } });
      const alice = t.browser();
      await alice.get('/set?cart=apple');
      const oldId = alice.sid!;
      const oldSig = alice.jar.get(`${SID}.sig`);
      await evictBySecondVisitor(t.browser());
      const res = await alice.get('/id');
      expect(res.body.data).to.deep.equal({ cart: 'apple' });
      expect(res.body.isNew).to.equal(false);
      expect(res.body.id, 'the same id').to.equal(oldId);
      expectSameCookie(res, oldId, 'k1');
      expect(alice.sid).to.equal(oldId);
      expect(alice.jar.get(`${SID}.sig`)).to.equal(oldSig);
      expect(hooks.seen.closes.find((close) => close.id === oldId)).to.deep.equal({
        id: oldId,
        reason: 'evicted',
        data: { cart: 'apple' },
      });
      expect(hooks.seen.restores).to.deep.equal([{ id: oldId, from: oldId, data: { cart: 'apple' } }]);
      // The cookie goes on working, and is not re-issued.
      const next = await alice.get('/inc');
      expect(next.body).to.include({ id: oldId, views: 1 });
      expect(setCookies(next)).to.deep.equal([]);
    });

    it('a read-only request restores too (restoring is not creating)', async () => {
      const t = buildApp({ session: { maxSessions: 1 } });
      const alice = t.browser();
      await alice.get('/set?cart=apple');
      const oldId = alice.sid!;
      await evictBySecondVisitor(t.browser());
      const res = await alice.get('/read');
      expect(res.body.data).to.deep.equal({ cart: 'apple' });
      expectSameCookie(res, oldId);
      expect(t.manager.get(oldId)?.data).to.deep.equal({ cart: 'apple' });
      expect(t.manager.stats().created, 'restores are not creations').to.equal(2);
      expect(t.manager.stats().restored).to.equal(1);
    });

    it('a sibling request of the same page arriving after the restore gets the same restored session', async () => {
      const t = buildApp({ session: { maxSessions: 1 } });
      const alice = t.browser();
      await alice.get('/set?cart=apple');
      const oldId = alice.sid!;
      const sibling = alice.clone();
      await evictBySecondVisitor(t.browser());
      const first = await alice.get('/id');
      const late = await sibling.get('/id');
      expect(first.body.id).to.equal(oldId);
      expect(late.body.id, 'the same id').to.equal(oldId);
      expect(late.body.data).to.deep.equal({ cart: 'apple' });
      expect(setCookies(late), 'nothing to set or clear').to.deep.equal([]);
      expect(t.manager.stats().restored).to.equal(1);
    });

    it('a restored session evicted again before the visitor comes back loses nothing: the same cookie restores it again', async () => {
      const t = buildApp({ session: { maxSessions: 1 } });
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
      expect(again.body.data, 'the write acknowledged after the first restore is there').to.deep.equal({ cart: 'apple', size: 'xl' });
      expect(alice.sid).to.equal(id);
      expect(t.manager.stats().restored).to.equal(2);
    });

    it('expired by the idle timer (no request needed): the returning cookie is restored', async () => {
      const clock = FakeTimers.install({ now: Date.UTC(2030, 0, 1), toFake: ['Date', 'setTimeout', 'clearTimeout'] });
      try {
        const hooks = recordingHooks();
        const t = buildApp({ session: { idleTimeout: 10 * MINUTE, onClose: hooks.onClose } });
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

    it('shutdown: after a restart on the same adapter (same keys), the returning cookie is restored', async () => {
      const adapter = new MemoryAdapter();
      const before = buildApp({ keys: ['k1'], session: { adapter } });
      const alice = before.browser();
      await alice.get('/set?cart=apple');
      const oldId = alice.sid!;
      await before.manager.shutdown();
      expect(before.manager.stats().closed.shutdown).to.equal(1);
      const after = buildApp({ keys: ['k1'], session: { adapter } });
      const res = await alice.clone(undefined, after.app).get('/id');
      expect(res.body.data).to.deep.equal({ cart: 'apple' });
      expect(res.body.id).to.equal(oldId);
      expectSameCookie(res, oldId, 'k1');
    });

    it('a returning cookie that reaches the stopping process is not cleared: the next process restores it', async () => {
      const adapter = new MemoryAdapter();
      const before = buildApp({ keys: ['k1'], session: { adapter } });
      const alice = before.browser();
      await alice.get('/set?cart=apple');
      const oldId = alice.sid!;
      await before.manager.shutdown();
      const late = await alice.get('/read');
      expect(late.body.data).to.deep.equal({});
      expect(setCookies(late), 'the cookie is left alone').to.deep.equal([]);
      expect(alice.sid).to.equal(oldId);
      const after = buildApp({ keys: ['k1'], session: { adapter } });
      const res = await alice.clone(undefined, after.app).get('/read');
      expect(res.body.data).to.deep.equal({ cart: 'apple' });
    });

    it('a write reaching the stopping process gets 503 with Retry-After, with or without a cookie, and no Set-Cookie', async () => {
      const adapter = new MemoryAdapter();
      const before = buildApp({ keys: ['k1'], session: { adapter, retryAfter: 2 } });
      const alice = before.browser();
      await alice.get('/set?cart=apple');
      const oldId = alice.sid!;
      await before.manager.shutdown();
      const write = await alice.get('/set?cart=pear', { status: 503 });
      expect(write.headers['retry-after']).to.equal('2');
      expect(write.headers['set-cookie']).to.equal(undefined);
      expect(alice.sid).to.equal(oldId);
      const stranger = await before.browser().get('/inc', { status: 503 });
      expect(stranger.headers['retry-after']).to.equal('2');
      expect(stranger.headers['set-cookie']).to.equal(undefined);
      expect(before.appErrors).to.deep.equal([]);
      const after = buildApp({ keys: ['k1'], session: { adapter } });
      const res = await alice.clone(undefined, after.app).get('/read');
      expect(res.body.data, 'the refused write was not acknowledged, the context is intact').to.deep.equal({ cart: 'apple' });
    });

    it('a request in flight whose session the shutdown closed: its later write gets 503, its earlier ones are in the snapshot', async () => {
      const entered = deferred();
      const gate = deferred();
      const adapter = new MemoryAdapter();
      const t = buildApp({
        session: { adapter, shutdownTimeout: 50 },
        routes: {
          '/slow': async (ctx: Context) => {
            ctx.session.before = true;
            entered.resolve();
            await gate.promise;
            ctx.session.after = true;
            ctx.body = 'unreachable';
          },
        },
      });
      const alice = t.browser();
      await alice.get('/set?cart=apple');
      const slow = alice.get('/slow', { status: 503 });
      await entered.promise;
      await t.manager.shutdown();
      gate.resolve();
      const res = await slow;
      expect(res.headers['retry-after']).to.equal('5');
      expect(res.headers['set-cookie']).to.equal(undefined);
      expect((await t.snapshot(alice.sid!))?.data).to.deep.equal({ cart: 'apple', before: true });
    });

    it('the restored session keeps its first createdAt', async () => {
      let clock = 1_000_000;
      const t = buildApp({
        session: { maxSessions: 1, now: () => clock },
        routes: { '/created': (ctx: Context) => void (ctx.body = { createdAt: ctx.liveSession.createdAt }) },
      });
      const alice = t.browser();
      await alice.get('/set?cart=apple');
      clock += 5 * MINUTE;
      await evictBySecondVisitor(t.browser());
      clock += 5 * MINUTE;
      const res = await alice.get('/created');
      expect(res.body.createdAt).to.equal(1_000_000);
    });

    it('a cookie whose snapshot has expired (snapshotTtl) gets nothing and is kept (an unknown id is not a logout); a write gets a fresh session', async () => {
      let clock = 1_000_000;
      const now = () => clock;
      const t = buildApp({ session: { maxSessions: 1, snapshotTtl: 60 * MINUTE, now, adapter: new MemoryAdapter({ now }) } });
      const alice = t.browser();
      await alice.get('/set?cart=apple');
      await evictBySecondVisitor(t.browser());
      const oldId = alice.sid!;
      clock += 61 * MINUTE;
      const res = await alice.get('/read');
      expect(res.body.data).to.deep.equal({});
      expect(setCookies(res)).to.deep.equal([]);
      expect(alice.sid).to.equal(oldId);
      const write = await alice.get('/inc');
      expect(write.body).to.include({ views: 1, isNew: true });
      expect(write.body.id).to.not.equal(oldId);
      expect(cookieIn(write)!.value).to.equal(write.body.id);
      expect(t.manager.stats().restored).to.equal(0);
    });
  });

  describe('explicit close', () => {
    it('ctx.session = null closes with reason closed (hooks see the data) and clears the cookie and its signature', async () => {
      const hooks = recordingHooks();
      const t = buildApp({ keys: ['k1'], session: { onClose: hooks.onClose } });
      const alice = t.browser();
      await alice.get('/set?cart=apple');
      const id = alice.sid!;
      const res = await alice.get('/logout');
      expect(isClearing(cookieIn(res)), 'cookie cleared').to.equal(true);
      expect(isClearing(cookieIn(res, `${SID}.sig`)), 'signature cleared').to.equal(true);
      expect(cookieIn(res)!.attributes.path).to.equal('/');
      expect(hooks.seen.closes).to.deep.equal([{ id, reason: 'closed', data: { cart: 'apple' } }]);
      expect(t.manager.size).to.equal(0);
      expect(await t.adapter.load(id), 'a logout with the default persistKey writes nothing').to.equal(undefined);
      expect(t.manager.stats()).to.include({ persisted: 0, pendingPersists: 0 });
    });

    it('a replayed cookie of a closed session gets nothing and never revives it (nothing of it is kept)', async () => {
      const t = buildApp({ keys: ['k1'] });
      const alice = t.browser();
      await alice.get('/set?cart=apple');
      const id = alice.sid!;
      const replayed = alice.clone();
      await alice.get('/logout');
      expect(alice.sid).to.equal(undefined);
      const read = await replayed.clone().get('/read');
      expect(read.body.data).to.deep.equal({});
      expect(setCookies(read), 'an unknown id: nothing set, nothing cleared').to.deep.equal([]);
      const write = await replayed.clone().get('/id');
      expect(write.body.data).to.deep.equal({});
      expect(write.body.id).to.not.equal(id);
      expect(write.body.isNew).to.equal(true);
      expect(cookieIn(write)!.value).to.equal(write.body.id);
      expect(t.manager.stats().restored).to.equal(0);
      expect(await t.adapter.load(id)).to.equal(undefined);
    });

    it('manager.close(id) by the application: the next request with that cookie gets nothing; its id is unknown, so the cookie is kept', async () => {
      const t = buildApp();
      const alice = t.browser();
      await alice.get('/set?cart=apple');
      const id = alice.sid!;
      expect(await t.middleware.manager.close(id)).to.equal(true);
      const res = await alice.get('/read');
      expect(res.body.data).to.deep.equal({});
      expect(setCookies(res)).to.deep.equal([]);
      expect(alice.sid).to.equal(id);
      const write = await alice.get('/inc');
      expect(write.body.id).to.not.equal(id);
      expect(write.body.views).to.equal(1);
    });

    it('after ctx.session = null, a write in the same request starts a new, empty session with a new cookie', async () => {
      const t = buildApp({
        routes: {
          '/switch': (ctx: Context) => {
            ctx.session = null;
            ctx.session.fresh = true;
            ctx.body = { id: ctx.liveSession.id, data: ctx.session };
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
  });

  describe('during a close', () => {
    it('a request for a session being evicted waits for the close, then is restored with what the hook left', async () => {
      const gate = deferred();
      const entered = deferred();
      const { probe, count } = arrivals();
      const t = buildApp({
        outer: [probe],
        session: {
          maxSessions: 1,
          onClose: async (session, reason) => {
            if (reason !== 'evicted') return;
            entered.resolve();
            await gate.promise;
            session.data.savedByHook = true;
          },
        },
      });
      const alice = t.browser();
      await alice.get('/set?cart=apple');
      await evictBySecondVisitor(t.browser());
      await entered.promise;
      const pending = alice.get('/read');
      await until(() => count() === 3, 'the returning request');
      expect(t.manager.stats().closing).to.equal(1);
      gate.resolve();
      const res = await pending;
      expect(res.body.data).to.deep.equal({ cart: 'apple', savedByHook: true });
      expectSameCookie(res, alice.sid!);
      expect(t.manager.get(alice.sid!)?.data).to.deep.equal({ cart: 'apple', savedByHook: true });
    });

    it('a request for a session being closed explicitly waits, then gets no session and a cleared cookie', async () => {
      const gate = deferred();
      const entered = deferred();
      const { probe, count } = arrivals();
      const t = buildApp({
        outer: [probe],
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
      await until(() => count() === 3, 'the concurrent request');
      gate.resolve();
      const [loggedOut, other] = await Promise.all([logout, during]);
      expect(isClearing(cookieIn(loggedOut))).to.equal(true);
      expect(other.body.data, 'nothing of the closed session').to.deep.equal({});
      expect(other.body.id).to.not.equal(id);
      expect(other.body.isNew).to.equal(true);
      expect(t.manager.stats().restored).to.equal(0);
    });
  });

  describe('concurrent returns', () => {
    it('requests carrying the same closed cookie share one restore and all get the same session under the same id', async () => {
      const gate = deferred();
      const { probe, count } = arrivals();
      let restoreHooks = 0;
      const t = buildApp({
        keys: ['k1'],
        outer: [probe],
        session: {
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
      const tabs = [alice.clone(), alice.clone(), alice.clone()];
      const pending = tabs.map((tab) => tab.get('/read'));
      await until(() => count() === 2 + tabs.length, 'the three requests');
      gate.resolve();
      const responses = await Promise.all(pending);
      for (const res of responses) {
        expect(res.body.data).to.deep.equal({ cart: 'apple' });
        expectSameCookie(res, oldId, 'k1');
      }
      expect(restoreHooks).to.equal(1);
      expect(t.manager.stats().restored).to.equal(1);
      expect(t.manager.get(oldId)?.data).to.deep.equal({ cart: 'apple' });
    });
  });

  it('a closing hook sees session.closeReason (its type says so too), equal to its reason, with the state closing', async () => {
    const seen: Array<[CloseReason, CloseReason | undefined, string]> = [];
    const t = buildApp({ session: { maxSessions: 1, onClose: (s, reason) => void seen.push([reason, s.closeReason, s.state]) } });
    const first = t.browser();
    await first.get('/inc');
    await t.browser().get('/inc');
    const second = t.browser();
    await second.get('/inc');
    await second.get('/logout');
    await t.browser().get('/inc');
    await t.manager.shutdown();
    expect(seen).to.deep.equal([
      ['evicted', 'evicted', 'closing'],
      ['evicted', 'evicted', 'closing'],
      ['closed', 'closed', 'closing'],
      ['shutdown', 'shutdown', 'closing'],
    ]);
  });
});
