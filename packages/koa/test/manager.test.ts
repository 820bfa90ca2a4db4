import { expect } from 'chai';
import Koa from 'koa';
import request from 'supertest';
import { OptionError } from '@reprise/core';
import { MemoryAdapter } from '@reprise/memory';
import { session, SessionManager } from '../src/index.js';
import { buildApp, cookieIn } from './support/app.js';

describe("session()'s manager", () => {
  it('is the SessionManager the middleware drives: sessions, options and stats are its own', async () => {
    const t = buildApp({ session: { maxSessions: 7, idleTimeout: 60_000 } });
    expect(t.middleware.manager).to.be.instanceOf(SessionManager);
    expect(t.middleware.manager.getOption('maxSessions')).to.equal(7);
    expect(t.middleware.manager.getOption('idleTimeout')).to.equal(60_000);
    const res = await t.browser().get('/set?cart=apple');
    expect(t.middleware.manager.get(res.body.id)?.data).to.deep.equal({ cart: 'apple' });
    expect(t.middleware.manager.stats()).to.include({ live: 1, created: 1 });
  });

  it('defaults to a MemoryAdapter', () => {
    const middleware = session();
    expect(middleware.manager.adapter).to.be.instanceOf(MemoryAdapter);
    expect(middleware.manager.adapter.name).to.equal('memory');
  });

  it("session({ manager }) uses the given manager: its hooks run, its sessions are the requests' sessions", async () => {
    const adapter = new MemoryAdapter();
    const closes: string[] = [];
    const manager = new SessionManager({ adapter, onClose: (_session, reason) => void closes.push(reason) });
    const t = buildApp({ session: { manager } });
    expect(t.middleware.manager).to.equal(manager);
    const browser = t.browser();
    const res = await browser.get('/set?cart=apple');
    expect(manager.get(res.body.id)?.data).to.deep.equal({ cart: 'apple' });
    await browser.get('/logout');
    expect(closes).to.deep.equal(['closed']);
  });

  it('two apps sharing one manager share its sessions', async () => {
    const manager = new SessionManager({ adapter: new MemoryAdapter() });
    const shop = buildApp({ session: { manager } });
    const admin = buildApp({ session: { manager } });
    const res = await shop.browser().get('/set?cart=apple');
    const back = await request(admin.app.callback())
      .get('/read')
      .set('Cookie', `reprise.sid=${cookieIn(res)!.value}`)
      .expect(200);
    expect(back.body.data).to.deep.equal({ cart: 'apple' });
  });

  it('refuses manager options next to a manager (they would be silently ignored)', () => {
    const manager = new SessionManager({ adapter: new MemoryAdapter() });
    const options = { manager, maxSessions: 5 } as unknown as Parameters<typeof session>[0];
    expect(() => session(options)).to.throw(OptionError, /maxSessions/);
    expect(() => session({ manager, cookie: { name: 'x' }, ipBinding: true })).to.not.throw();
  });

  it('refuses invalid options', () => {
    expect(() => session(null as unknown as Parameters<typeof session>[0])).to.throw(OptionError);
    expect(() => session({ ipBinding: 'yes' as unknown as boolean })).to.throw(OptionError, /ipBinding/);
    expect(() => session({ manager: {} as SessionManager })).to.throw(OptionError, /manager/);
    expect(() => session({ maxSessions: 0 })).to.throw(OptionError, /maxSessions/);
  });

  it('ctx.liveSession outside the middleware fails with a message that says so', async () => {
    const app = new Koa();
    const errors: Error[] = [];
    app.silent = true;
    app.on('error', (error: Error) => errors.push(error));
    const middleware = session();
    app.use(async (ctx, next) => {
      if (ctx.path === '/too-early') ctx.body = { id: ctx.liveSession.id };
      else await next();
    });
    app.use(middleware);
    app.use((ctx) => void (ctx.body = { id: ctx.liveSession.id }));
    await request(app.callback()).get('/fine').expect(200);
    await request(app.callback()).get('/too-early').expect(500);
    expect(errors.map((error) => error.message)).to.have.lengthOf(1);
    expect(errors[0]!.message).to.match(/session\(\) middleware/);
  });
});
