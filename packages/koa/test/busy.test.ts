import { Readable } from 'node:stream';
import FakeTimers from '@sinonjs/fake-timers';
import { expect } from 'chai';
import type { Context } from 'koa';
import type { CloseReason } from '@reprise/core';
import { buildApp, cookieIn, deferred, setCookies, until, type Deferred } from './support/app.js';

const MINUTE = 60_000;

/** A route that writes, then waits for `gate` before answering. */
function slowRoute(entered: Deferred, gate: Deferred) {
  return async (ctx: Context) => {
    ctx.session.slow = ((ctx.session.slow as number | undefined) ?? 0) + 1;
    entered.resolve();
    await gate.promise;
    ctx.body = { id: ctx.liveSession.id, data: ctx.session };
  };
}

describe('busy sessions', () => {
  it('a session with a request in flight is not evicted: the newcomer is admitted over the cap, and the cap is restored once idle', async () => {
    const entered = deferred();
    const gate = deferred();
    const closes: Array<[string, CloseReason]> = [];
    const t = buildApp({
      session: { maxSessions: 1, onClose: (session, reason) => void closes.push([session.id, reason]) },
      routes: {
        '/slow': slowRoute(entered, gate),
        '/stats': (ctx: Context) => {
          ctx.session.b = true;
          ctx.body = { ...t.manager.stats(), closed: undefined };
        },
      },
    });
    const alice = t.browser();
    await alice.get('/set?cart=apple');
    const aliceId = alice.sid!;
    const slow = alice.get('/slow');
    await entered.promise;
    const bob = t.browser();
    const during = await bob.get('/stats');
    expect(during.body).to.include({ live: 2, overCap: 1, busy: 2 });
    const bobId = bob.sid!;
    await until(() => t.manager.size === 1, 'the cap to be restored');
    expect(closes, 'the idle newcomer goes, not the busy session').to.deep.equal([[bobId, 'evicted']]);
    gate.resolve();
    const res = await slow;
    expect(res.body).to.deep.equal({ id: aliceId, data: { cart: 'apple', slow: 1 } });
    expect(setCookies(res)).to.deep.equal([]);
    await until(() => t.manager.stats().busy === 0, 'the slow request to end');
    expect(t.manager.stats()).to.include({ live: 1, overCap: 0 });
    const back = await bob.get('/read');
    expect(back.body.data, 'the newcomer had its cookie, so it is restored').to.deep.equal({ b: true });
  });

  it('a busy session does not expire while its request runs; its idle timeout restarts when the request ends', async () => {
    const clock = FakeTimers.install({ now: Date.UTC(2030, 0, 1), toFake: ['Date', 'setTimeout', 'clearTimeout'] });
    try {
      const entered = deferred();
      const gate = deferred();
      const t = buildApp({ session: { idleTimeout: 10 * MINUTE }, routes: { '/slow': slowRoute(entered, gate) } });
      const alice = t.browser();
      await alice.get('/set?cart=apple');
      const id = alice.sid!;
      const slow = alice.get('/slow');
      await entered.promise;
      await clock.tickAsync(30 * MINUTE);
      expect(t.manager.get(id)?.state, 'busy: not expired').to.equal('live');
      gate.resolve();
      await slow;
      await until(() => t.manager.stats().busy === 0, 'the request to end');
      await clock.tickAsync(10 * MINUTE - 1);
      expect(t.manager.get(id)?.state, 'idle for less than idleTimeout').to.equal('live');
      await clock.tickAsync(1);
      expect(t.manager.get(id), 'expired idleTimeout after the request ended').to.equal(undefined);
      expect(t.manager.stats().closed.expired).to.equal(1);
    } finally {
      clock.uninstall();
    }
  });

  it('no session is evicted before the response that created it has carried its cookie (slow handler)', async () => {
    const entered = deferred();
    const gate = deferred();
    const t = buildApp({ session: { maxSessions: 1 }, routes: { '/slow': slowRoute(entered, gate) } });
    const newcomer = t.browser();
    const slow = newcomer.get('/slow');
    await entered.promise;
    await t.browser().get('/inc');
    gate.resolve();
    const res = await slow;
    const id = cookieIn(res)!.value;
    expect(res.body.id).to.equal(id);
    await until(() => t.manager.stats().busy === 0, 'the responses to end');
    expect(t.manager.get(id)?.state).to.equal('live');
    expect((await newcomer.get('/read')).body.data).to.deep.equal({ slow: 1 });
  });

  it('no session is evicted before the response that created it has carried its cookie (slow body)', async () => {
    const gate = deferred();
    const started = deferred();
    const closed: string[] = [];
    const t = buildApp({
      session: { maxSessions: 1, onClose: (session) => void closed.push(session.id) },
      routes: {
        '/stream': (ctx: Context) => {
          ctx.session.streamed = true;
          ctx.type = 'text';
          ctx.body = new Readable({
            read() {
              started.resolve();
              void gate.promise.then(() => {
                this.push('done');
                this.push(null);
              });
            },
          });
        },
      },
    });
    const newcomer = t.browser();
    const streaming = newcomer.get('/stream');
    await started.promise;
    const other = t.browser();
    await other.get('/inc');
    await until(() => closed.length === 1, 'the cap to be restored');
    expect(closed, 'the idle newcomer goes, not the session whose response is still being sent').to.deep.equal([other.sid]);
    gate.resolve();
    const res = await streaming;
    expect(res.text).to.equal('done');
    const sid = cookieIn(res)!.value;
    await until(() => t.manager.stats().busy === 0, 'the responses to end');
    expect(t.manager.get(sid)?.data).to.deep.equal({ streamed: true });
    expect(closed).to.not.include(sid);
  });

  it('a session restored while every other session is busy is not evicted before its cookie reaches the client', async () => {
    // Over the cap with every other session busy, the restored session is the only idle one: it must
    // not be evicted between the restore and the middleware's hold on it (else the cookie is cleared
    // and the data sits under an id the client never learns).
    const entered = deferred();
    const gate = deferred();
    const t = buildApp({ session: { maxSessions: 1 }, routes: { '/slow': slowRoute(entered, gate) } });
    const bob = t.browser();
    await bob.get('/set?cart=plum');
    const alice = t.browser();
    await alice.get('/set?cart=apple');
    expect(t.manager.stats().closed.evicted, 'bob evicted by alice').to.equal(1);
    const slow = alice.get('/slow');
    await entered.promise;
    try {
      const res = await bob.get('/read');
      expect(res.body.data).to.deep.equal({ cart: 'plum' });
      expect(cookieIn(res)?.value).to.be.a('string').and.not.equal('');
    } finally {
      gate.resolve();
      await slow;
    }
  });
});
