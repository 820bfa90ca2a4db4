import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { bag, buildApp, cookieIn, deferred, setCookies, SID, until } from './support/app.js';

/** Listens on a free local port; resolves with its port. */
async function listen(app: FastifyInstance): Promise<number> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  return (app.server.address() as AddressInfo).port;
}

/** A GET over a real connection (with `agent`), resolving with the status, headers and body. */
function get(
  port: number,
  path: string,
  agent: http.Agent,
  cookie?: string,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string; socket: unknown }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent, headers: cookie === undefined ? {} : { cookie } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, socket: req.socket }));
    });
    req.on('error', reject);
  });
}

/** The `name=value` of the session cookie a response set. */
function cookiePair(headers: http.IncomingHttpHeaders): string {
  const line = (headers['set-cookie'] ?? []).find((value) => value.startsWith(`${SID}=`));
  if (line === undefined) throw new Error('no session cookie');
  return line.split(';')[0]!;
}

describe('the response lifecycle', () => {
  describe('errors', () => {
    it("a thrown error after the first write: Fastify's error response carries the cookie, and the session (with the write) stays", async () => {
      const t = await buildApp();
      const browser = t.browser();
      const res = await browser.get('/boom', { status: 500 });
      const id = cookieIn(res)!.value;
      await until(() => t.manager.stats().busy === 0, 'the response to end');
      expect(t.manager.get(id)?.data).to.deep.equal({ x: 1 });
      expect((await browser.get('/read')).body.data).to.deep.equal({ x: 1 });
    });

    it('an error in a later onSend hook: the error response sets the cookie once, not twice', async () => {
      let failed = false;
      const t = await buildApp({
        setup: (app) =>
          app.addHook('onSend', async (_request, _reply, payload) => {
            if (!failed) {
              failed = true;
              throw new Error('compression failed');
            }
            return payload;
          }),
      });
      const browser = t.browser();
      const res = await browser.get('/inc', { status: 500 });
      expect(setCookies(res).filter((cookie) => cookie.name === SID)).to.have.length(1);
      expect((await browser.get('/read')).body.data).to.deep.equal({ views: 1 });
    });
  });

  describe('hijacked replies', () => {
    const routes = {
      '/hijack-write': (request: FastifyRequest, reply: FastifyReply) => {
        bag(request).cart = 'apple';
        reply.hijack();
        reply.raw.end('raw');
      },
      '/hijack-read': (request: FastifyRequest, reply: FastifyReply) => {
        const cart = bag(request).cart;
        reply.hijack();
        reply.raw.end(String(cart));
      },
    };

    it('a session created by a hijacked request (no cookie can go out) is closed; no hold is left', async () => {
      const t = await buildApp({ routes });
      const res = await t.app.inject({ url: '/hijack-write' });
      expect(res.body).to.equal('raw');
      expect(res.headers['set-cookie']).to.equal(undefined);
      await until(() => t.manager.stats().closed.closed === 1, 'the orphan to close');
      expect(t.manager.stats()).to.include({ live: 0, busy: 0 });
    });

    it('an existing session read by a hijacked request is released and stays', async () => {
      const t = await buildApp({ routes });
      const browser = t.browser();
      await browser.get('/set?cart=apple');
      const res = await t.app.inject({ url: '/hijack-read', headers: { cookie: browser.cookieHeader() } });
      expect(res.body).to.equal('apple');
      await until(() => t.manager.stats().busy === 0, 'the hold to end');
      expect(t.manager.get(browser.sid!)?.state).to.equal('live');
    });
  });

  describe('over real connections', () => {
    it('a client that goes away mid-request: the session it caused is closed once the handler ends; no hold is left', async () => {
      const entered = deferred();
      const aborted = deferred();
      const gate = deferred();
      const t = await buildApp({
        routes: {
          '/slow-write': async (request: FastifyRequest, reply: FastifyReply) => {
            bag(request).cart = 'apple';
            reply.raw.once('close', () => aborted.resolve());
            entered.resolve();
            await gate.promise;
            bag(request).late = true;
            return 'too late';
          },
        },
      });
      const port = await listen(t.app);
      const req = http.get({ host: '127.0.0.1', port, path: '/slow-write' });
      req.on('error', () => {});
      await entered.promise;
      expect(t.manager.stats()).to.include({ live: 1, busy: 1 });
      const closed = once(t.manager, 'close');
      req.destroy();
      await aborted.promise;
      gate.resolve();
      const [session, reason] = (await closed) as [{ data: unknown }, string];
      expect(reason).to.equal('closed');
      expect(session.data).to.deep.equal({ cart: 'apple', late: true });
      expect(t.manager.stats()).to.include({ live: 0, busy: 0 });
    });

    it('a client that goes away from a request on its existing session: the hold ends when the handler does; the session stays', async () => {
      const entered = deferred();
      const aborted = deferred();
      const gate = deferred();
      const t = await buildApp({
        routes: {
          '/slow-read': async (request: FastifyRequest, reply: FastifyReply) => {
            reply.raw.once('close', () => aborted.resolve());
            entered.resolve();
            await gate.promise;
            return { cart: bag(request).cart };
          },
        },
      });
      const port = await listen(t.app);
      const agent = new http.Agent();
      const first = await get(port, '/set?cart=apple', agent);
      const req = http.get({ host: '127.0.0.1', port, path: '/slow-read', headers: { cookie: cookiePair(first.headers) } });
      req.on('error', () => {});
      await entered.promise;
      expect(t.manager.stats().busy, 'held while the handler runs').to.equal(1);
      req.destroy();
      await aborted.promise;
      expect(t.manager.stats().busy, 'still held: the handler is still running').to.equal(1);
      gate.resolve();
      await until(() => t.manager.stats().busy === 0, 'the hold to end');
      expect(t.manager.stats()).to.include({ live: 1, closing: 0 });
      agent.destroy();
    });

    it('keep-alive: requests on one connection each hold the session only while they run, and see each other', async () => {
      const t = await buildApp({
        routes: { '/busy': (request: FastifyRequest) => ({ busy: request.liveSession.busy, views: bag(request).views }) },
      });
      const port = await listen(t.app);
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      try {
        const first = await get(port, '/inc', agent);
        const cookie = cookiePair(first.headers);
        const sockets = new Set([first.socket]);
        for (let i = 2; i <= 5; i += 1) {
          const res = await get(port, '/inc', agent, cookie);
          sockets.add(res.socket);
          expect(JSON.parse(res.body)).to.include({ views: i });
          expect(res.headers['set-cookie'], 'not re-issued').to.equal(undefined);
          await until(() => t.manager.stats().busy === 0, 'the hold to end');
        }
        const during = await get(port, '/busy', agent, cookie);
        expect(JSON.parse(during.body)).to.deep.equal({ busy: true, views: 5 });
        expect(sockets.size, 'one connection').to.equal(1);
        expect(t.manager.stats()).to.include({ created: 1, live: 1 });
      } finally {
        agent.destroy();
      }
    });
  });
});
