import { expect } from 'chai';
import { bag, buildApp, cookieIn, setCookies, toReply } from './support/app.js';

describe('lazy creation', () => {
  it('a request that only reads request.session creates no live session and sets no cookie', async () => {
    const t = await buildApp({
      routes: {
        '/peek': (request) => {
          const data = bag(request);
          return { views: data.views ?? null, has: 'views' in data, keys: Object.keys(data), json: JSON.stringify(request.session) };
        },
      },
    });
    const res = await t.browser().get('/peek');
    expect(res.body).to.deep.equal({ views: null, has: false, keys: [], json: '{}' });
    expect(res.headers['set-cookie']).to.equal(undefined);
    expect(t.manager.size).to.equal(0);
    expect(t.manager.stats().created).to.equal(0);
  });

  it('1,000 cookie-less requests that read the session create no session and set no cookie', async () => {
    const t = await buildApp();
    for (let i = 0; i < 1_000; i += 1) {
      const res = toReply(await t.app.inject({ method: 'GET', url: '/read' }));
      expect(res.status).to.equal(200);
      expect(res.headers['set-cookie']).to.equal(undefined);
    }
    expect(t.manager.stats()).to.include({ created: 0, live: 0, busy: 0 });
  });

  it('1,000 requests with forged cookies create nothing either', async () => {
    const t = await buildApp();
    for (let i = 0; i < 1_000; i += 1) {
      const forged = `reprise.sid=${Buffer.from(String(i).padStart(18, '0')).toString('base64url')}`;
      const res = toReply(await t.app.inject({ method: 'GET', url: '/read', headers: { cookie: forged } }));
      expect(res.status).to.equal(200);
      expect(res.headers['set-cookie']).to.equal(undefined);
    }
    expect(t.manager.stats()).to.include({ created: 0, restored: 0, live: 0 });
  });

  it('deleting a property of the empty session, or assigning an empty object, creates nothing', async () => {
    const t = await buildApp({
      routes: {
        '/noop': (request) => {
          delete bag(request).views;
          request.session = {};
          return 'ok';
        },
      },
    });
    const res = await t.browser().get('/noop');
    expect(setCookies(res)).to.deep.equal([]);
    expect(t.manager.stats().created).to.equal(0);
  });

  it('anonymous reads at the cap evict no real session', async () => {
    const t = await buildApp({ session: { maxSessions: 1 } });
    const user = t.browser();
    await user.get('/inc');
    const id = user.sid!;
    for (let i = 0; i < 20; i += 1) {
      const res = await t.browser().get('/read');
      expect(res.headers['set-cookie']).to.equal(undefined);
    }
    expect(t.manager.get(id)?.state).to.equal('live');
    expect(t.manager.stats().closed.evicted).to.equal(0);
    const again = await user.get('/inc');
    expect(again.body).to.include({ views: 2, id });
  });

  it('the first write creates the session, with the written value, and sets its cookie', async () => {
    const t = await buildApp();
    const res = await t.browser().get('/set?name=ada');
    const cookie = cookieIn(res);
    expect(cookie, 'session cookie').to.not.equal(undefined);
    expect(cookie!.value).to.equal(res.body.id);
    expect(res.body.data).to.deep.equal({ name: 'ada' });
    expect(t.manager.size).to.equal(1);
    expect(t.manager.get(res.body.id!)!.data).to.deep.equal({ name: 'ada' });
  });

  it('several writes in one request create one session, readable through request.session and request.liveSession', async () => {
    const t = await buildApp({
      routes: {
        '/many': (request) => {
          const data = bag(request);
          data.a = 1;
          data.b = 2;
          Object.defineProperty(request.session, 'c', { value: 3, enumerable: true, writable: true, configurable: true });
          return { session: { ...request.session }, live: { ...request.liveSession.data } };
        },
      },
    });
    const res = await t.browser().get('/many');
    expect(res.body.session).to.deep.equal({ a: 1, b: 2, c: 3 });
    expect(res.body.live).to.deep.equal({ a: 1, b: 2, c: 3 });
    expect(t.manager.stats().created).to.equal(1);
  });

  it('request.liveSession is a request for a session: it creates one and sets its cookie', async () => {
    const t = await buildApp();
    const browser = t.browser();
    const res = await browser.get('/id');
    expect(res.body).to.include({ isNew: true });
    expect(cookieIn(res)!.value).to.equal(res.body.id);
    expect(t.manager.stats().created).to.equal(1);
    const again = await browser.get('/id');
    expect(again.body).to.include({ id: res.body.id, isNew: false });
    expect(setCookies(again), 'not re-issued on the next request').to.deep.equal([]);
  });

  it('a 404 with no route reads no session and sets no cookie', async () => {
    const t = await buildApp();
    const res = toReply(await t.app.inject({ method: 'GET', url: '/nowhere' }));
    expect(res.status).to.equal(404);
    expect(res.headers['set-cookie']).to.equal(undefined);
    expect(t.manager.stats()).to.include({ created: 0, busy: 0 });
  });
});
