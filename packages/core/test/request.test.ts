import { expect } from 'chai';
import { SessionClosedError, SessionUnavailableError } from '../src/errors.js';
import { SessionRequest } from '../src/request.js';
import type { SessionManager } from '../src/session-manager.js';
import { installClock, type Clock } from './support/clock.js';
import { deferred, flushMicrotasks } from './support/deferred.js';
import { makeManager } from './support/manager.js';

type Data = Record<string, unknown>;
const UNKNOWN_ID = 'QQQQQQQQQQQQQQQQQQQQQQQQ';

async function opened(manager: SessionManager<Data>, id?: string): Promise<SessionRequest<Data>> {
  const request = new SessionRequest(manager, id);
  await request.open();
  return request;
}

describe('SessionRequest: the request protocol in core', () => {
  let clock: Clock;
  beforeEach(() => {
    clock = installClock();
  });
  afterEach(() => {
    clock.uninstall();
  });

  describe('without a presented id', () => {
    it('reads create nothing; the cookie is kept as it is (none)', async () => {
      const { manager } = makeManager<Data>();
      const request = await opened(manager);
      expect(request.data).to.deep.equal({});
      expect(request.data.views).to.equal(undefined);
      expect(request.session).to.equal(undefined);
      expect(await request.finish()).to.deep.equal({ kind: 'keep' });
      request.end(true);
      expect(manager.stats()).to.include({ created: 0, live: 0, busy: 0 });
    });

    it('the first write creates the session, held until end(); the response sets its cookie', async () => {
      const { manager } = makeManager<Data>();
      const request = await opened(manager);
      const data = request.data;
      data.views = 1;
      data.more = 2;
      const session = request.session!;
      expect(session.data).to.deep.equal({ views: 1, more: 2 });
      expect(session.busy).to.equal(true);
      expect(request.created).to.equal(session);
      expect(manager.stats().created).to.equal(1);
      const action = await request.finish();
      expect(action).to.deep.equal({ kind: 'set', session });
      request.end(true);
      expect(session.busy).to.equal(false);
      expect(session.state).to.equal('live');
    });

    it('a created session whose cookie never reached the client is closed at end() (and, default key, nothing is written)', async () => {
      const { manager, adapter, events } = makeManager<Data>();
      const request = await opened(manager);
      request.data.cart = 'apple';
      const session = request.session!;
      await request.finish();
      request.end(false);
      await flushMicrotasks();
      expect(session.state).to.equal('closed');
      expect(session.closeReason).to.equal('closed');
      expect(adapter.keys()).to.deep.equal([]);
      expect(events.closes.map((c) => c.reason)).to.deep.equal(['closed']);
      expect(manager.stats()).to.include({ live: 0, busy: 0 });
    });

    it('a deferred write after finish() is ignored and reported, never thrown, and creates nothing', async () => {
      const { manager, events } = makeManager<Data>();
      const request = await opened(manager);
      const data = request.data;
      await request.finish();
      request.end(true);
      expect(() => {
        data.x = 1;
      }).to.not.throw();
      expect(() => Object.defineProperty(data, 'y', { value: 1, configurable: true, enumerable: true, writable: true })).to.not.throw();
      expect(manager.stats()).to.include({ created: 0, live: 0 });
      expect(events.errors).to.have.length(2);
      expect(events.errors.every((error) => error instanceof SessionClosedError)).to.equal(true);
    });

    it('__proto__ written through the lazy data is an own property of the new session; the prototype never changes', async () => {
      const { manager } = makeManager<Data>();
      const request = await opened(manager);
      Object.assign(request.data, JSON.parse('{"__proto__": {"isAdmin": true}}') as Data);
      const session = request.session!;
      expect(session).to.not.equal(undefined);
      expect(Object.getPrototypeOf(session.data)).to.equal(Object.prototype);
      expect(session.data.isAdmin).to.equal(undefined);
      expect(request.data.isAdmin).to.equal(undefined);
      expect(Object.hasOwn(session.data, '__proto__')).to.equal(true);
      request.end(true);
    });

    it('a session created by reading live adopts the lazy data: a reference taken before reads what is written after', async () => {
      const { manager } = makeManager<Data>();
      const request = await opened(manager);
      const early = request.data;
      const session = request.live;
      early.views = 1;
      session.data.cart = 'apple';
      expect(early).to.deep.equal({ views: 1, cart: 'apple' });
      expect(request.data).to.deep.equal({ views: 1, cart: 'apple' });
      request.end(true);
    });
  });

  describe('with a presented id', () => {
    it('of a live session: holds it; the same session is set (the binding decides whether to re-issue)', async () => {
      const { manager } = makeManager<Data>();
      const s = manager.create({ views: 1 });
      const request = await opened(manager, s.id);
      expect(request.session).to.equal(s);
      expect(s.busy).to.equal(true);
      expect(request.data).to.equal(s.data);
      expect(await request.finish()).to.deep.equal({ kind: 'set', session: s });
      request.end(true);
      expect(s.busy).to.equal(false);
    });

    it('of an involuntarily closed session: restored under that same id', async () => {
      const { manager } = makeManager<Data>();
      const s = manager.create({ cart: 'apple' });
      await manager.close(s.id, 'evicted');
      const request = await opened(manager, s.id);
      expect(request.session?.id).to.equal(s.id);
      expect(request.data).to.deep.equal({ cart: 'apple' });
      const action = await request.finish();
      expect(action.kind === 'set' && action.session.id).to.equal(s.id);
      request.end(true);
    });

    it("unknown (another instance's, long expired): no session, the cookie is kept; a write gets a fresh session under a new id", async () => {
      const { manager } = makeManager<Data>();
      const reader = await opened(manager, UNKNOWN_ID);
      expect(reader.data).to.deep.equal({});
      expect(await reader.finish(), 'not a logout').to.deep.equal({ kind: 'keep' });
      reader.end(true);
      const writer = await opened(manager, UNKNOWN_ID);
      writer.data.cart = 'pear';
      const session = writer.session!;
      expect(session.id, 'a client never chooses its id').to.not.equal(UNKNOWN_ID);
      expect(await writer.finish()).to.deep.equal({ kind: 'set', session });
      writer.end(true);
      expect(manager.get(UNKNOWN_ID)).to.equal(undefined);
    });

    it('of a session closed explicitly while the request waited: no session, the cookie is cleared', async () => {
      const gate = deferred();
      const { manager } = makeManager<Data>({ onClose: () => gate.promise });
      const s = manager.create({ cart: 'apple' });
      void s.close();
      const request = new SessionRequest(manager, s.id);
      const opening = request.open();
      gate.resolve();
      await opening;
      expect(request.session).to.equal(undefined);
      expect(await request.finish()).to.deep.equal({ kind: 'clear' });
      request.end(true);
    });

    it('when its snapshot cannot be read: no session, writes throw a SessionUnavailableError, the cookie is kept', async () => {
      const { manager, adapter } = makeManager<Data>();
      const s = manager.create({ cart: 'apple' });
      await manager.close(s.id, 'evicted');
      adapter.failReads = true;
      const request = await opened(manager, s.id);
      expect(request.unavailable).to.be.instanceOf(SessionUnavailableError);
      expect(request.data, 'reads see an empty session').to.deep.equal({});
      expect(() => {
        request.data.cart = 'pear';
      }).to.throw(SessionUnavailableError);
      expect(() => {
        request.data = { cart: 'pear' };
      }).to.throw(SessionUnavailableError);
      expect(() => request.live).to.throw(SessionUnavailableError);
      expect(manager.stats(), 'only the first session was ever created').to.include({ created: 1, live: 0 });
      expect(await request.finish()).to.deep.equal({ kind: 'keep' });
      request.end(true);
      adapter.failReads = false;
      const later = await opened(manager, s.id);
      expect(later.data).to.deep.equal({ cart: 'apple' });
      later.end(true);
    });

    it('when unavailable, a close (data = null) is refused too, and the cookie is kept', async () => {
      // BUG (reported): close() clears the cookie though no close ran; the context is still in the store.
      const { manager, adapter } = makeManager<Data>();
      const s = manager.create({ cart: 'apple' });
      await manager.close(s.id, 'evicted');
      adapter.failReads = true;
      const request = await opened(manager, s.id);
      expect(() => {
        request.data = null;
      }).to.throw(SessionUnavailableError);
      expect(await request.finish()).to.deep.equal({ kind: 'keep' });
      request.end(true);
    });

    it('during shutdown: unavailable, writes throw, the cookie is kept', async () => {
      const { manager } = makeManager<Data>();
      const s = manager.create({ cart: 'apple' });
      await manager.close(s.id, 'evicted');
      const stopping = manager.shutdown();
      const request = await opened(manager, s.id);
      expect(() => {
        request.data.x = 1;
      }).to.throw(SessionUnavailableError);
      expect(await request.finish()).to.deep.equal({ kind: 'keep' });
      request.end(true);
      const fresh = await opened(manager);
      expect(() => {
        fresh.data.x = 1;
      }, 'no session can be created either').to.throw(SessionUnavailableError);
      fresh.end(true);
      await stopping;
    });

    it('refused by accept() (IP binding): no session for this request, the cookie left alone, the session untouched', async () => {
      const { manager } = makeManager<Data>();
      const s = manager.create({ cart: 'apple' });
      const before = s.lastActiveAt;
      clock.tick(1_000);
      const request = new SessionRequest(manager, s.id, { accept: () => false });
      await request.open();
      expect(request.session).to.equal(undefined);
      expect(s.busy).to.equal(false);
      expect(s.lastActiveAt).to.equal(before);
      expect(await request.finish()).to.deep.equal({ kind: 'keep' });
      request.end(true);
    });
  });

  describe('assigning the data', () => {
    it('null closes the session (reason closed) and clears the cookie; a later write starts a new session', async () => {
      const { manager } = makeManager<Data>();
      const s = manager.create({ cart: 'apple' });
      const request = await opened(manager, s.id);
      request.data = null;
      expect(s.state).to.not.equal('live');
      request.data.fresh = true;
      const fresh = request.session!;
      expect(fresh.id).to.not.equal(s.id);
      expect(await request.finish()).to.deep.equal({ kind: 'set', session: fresh });
      request.end(true);
      expect(s.closeReason).to.equal('closed');
    });

    it('undefined is a TypeError (as in koa-session) and does not close the session', async () => {
      const { manager } = makeManager<Data>();
      const s = manager.create({ cart: 'apple' });
      const request = await opened(manager, s.id);
      expect(() => {
        request.data = undefined as unknown as Data;
      }).to.throw(TypeError);
      for (const value of ['text', 42, ['array'], true]) {
        expect(() => {
          request.data = value as unknown as Data;
        }).to.throw(TypeError);
      }
      expect(s.state).to.equal('live');
      expect(s.data).to.deep.equal({ cart: 'apple' });
      expect(await request.finish()).to.deep.equal({ kind: 'set', session: s });
      request.end(true);
    });

    it('an object replaces the data (a copy), or creates the session; an empty object creates nothing', async () => {
      const { manager } = makeManager<Data>();
      const empty = await opened(manager);
      empty.data = {};
      expect(empty.session).to.equal(undefined);
      empty.end(true);
      const request = await opened(manager);
      const value = { user: 'ada' };
      request.data = value;
      expect(request.session?.data).to.deep.equal({ user: 'ada' });
      value.user = 'changed';
      expect(request.session?.data).to.deep.equal({ user: 'ada' });
      request.end(true);
    });
  });
});
