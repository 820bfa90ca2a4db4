import { expect } from 'chai';
import { buildApp, cookieIn, SECRET, SID } from './support/app.js';

describe('lazy creation', () => {
  it('a request that only reads creates no session and sets no cookie', async () => {
    const t = buildApp({ session: { secret: SECRET } });
    const res = await t.browser().get('/read');
    expect(res.status).to.equal(200);
    expect(res.body.data).to.deep.equal({});
    expect(res.body.sessionID, 'req.sessionID does not create a session').to.equal(null);
    expect(res.headers['set-cookie']).to.equal(undefined);
    expect(t.manager.stats().live).to.equal(0);
  });

  it('1,000 cookie-less requests create no session', async () => {
    const t = buildApp({ session: { secret: SECRET } });
    for (let i = 0; i < 1_000; i++) await t.browser().get('/read');
    expect(t.manager.stats().live).to.equal(0);
    expect(t.manager.stats().created).to.equal(0);
  });

  it('the first write creates the session and sets a signed cookie with the default attributes', async () => {
    const t = buildApp({ session: { secret: SECRET } });
    const alice = t.browser();
    const res = await alice.get('/inc');
    const cookie = cookieIn(res);
    expect(cookie, 'a Set-Cookie for reprise.sid').to.not.equal(undefined);
    expect(cookie!.value.startsWith('s:')).to.equal(true);
    expect(cookie!.attributes).to.include({ path: '/', httponly: true, samesite: 'Lax', 'max-age': String(7 * 24 * 3600) });
    expect(cookie!.attributes.secure, 'plain HTTP: not Secure').to.equal(undefined);
    expect(res.body.isNew).to.equal(true);
    expect(alice.sid).to.equal(res.body.id);
    const again = await alice.get('/inc');
    expect(again.body).to.include({ views: 2, id: res.body.id, isNew: false });
    expect(again.headers['set-cookie'], 'the same cookie is not re-sent on every response').to.equal(undefined);
    expect(t.manager.stats().live).to.equal(1);
  });

  it("secure 'auto' follows req.secure, which honours app.set('trust proxy')", async () => {
    const trusted = buildApp({ session: { secret: SECRET }, setup: (app) => app.set('trust proxy', true) });
    const viaProxy = await trusted.browser().get('/inc', { 'X-Forwarded-Proto': 'https' });
    expect(cookieIn(viaProxy)!.attributes.secure).to.equal(true);
    const untrusted = buildApp({ session: { secret: SECRET } });
    const spoofed = await untrusted.browser().get('/inc', { 'X-Forwarded-Proto': 'https' });
    expect(cookieIn(spoofed)!.attributes.secure, 'without trust proxy, the header is ignored').to.equal(undefined);
  });

  it("cookie options are applied: name (express-session's), domain, path, sameSite, browser-session maxAge", async () => {
    const t = buildApp({
      session: { secret: SECRET, name: 'app.sid', cookie: { domain: 'example.com', path: '/', sameSite: 'strict', maxAge: null } },
    });
    const res = await t.browser().get('/inc');
    expect(cookieIn(res, SID)).to.equal(undefined);
    const cookie = cookieIn(res, 'app.sid')!;
    expect(cookie.attributes).to.include({ domain: 'example.com', samesite: 'Strict' });
    expect(cookie.attributes.expires, 'a browser-session cookie has no expiry').to.equal(undefined);
    expect(cookie.attributes['max-age']).to.equal(undefined);
  });
});
