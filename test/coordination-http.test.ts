import { expect } from 'chai';
import type { Server } from 'node:http';
import type { SessionCoordinator } from '@reprise/core';
import { MemoryAdapter, MemoryCluster, MemoryCoordinator } from '@reprise/memory';
import { absorbSetCookies, cookieHeader, type CookieJar } from './helpers/cookie-jar.js';
import { closeServer, listen } from './helpers/http.js';
import { sessionApp, type VisitorView } from './helpers/session-app.js';

/** A coordinator whose claims take `ms` longer (a slow round trip, a process starting under load). */
function slowClaims(target: SessionCoordinator, ms: number): SessionCoordinator {
  return new Proxy(target, {
    get(object, name) {
      const value = Reflect.get(object, name, object) as unknown;
      if (typeof value !== 'function') return value;
      const call = (value as (...a: unknown[]) => unknown).bind(object);
      if (name !== 'claim') return call;
      return async (...args: unknown[]) => {
        await new Promise((resolve) => setTimeout(resolve, ms));
        return call(...args);
      };
    },
  });
}

/** One request of a browser whose cookies are `jar`, to `server`. */
async function send(server: Server, jar: CookieJar, method: string, path: string): Promise<{ status: number; body: VisitorView }> {
  const { port } = server.address() as { port: number };
  const cookie = cookieHeader(jar);
  const response = await fetch(`http://127.0.0.1:${port}${path}`, { method, headers: cookie === undefined ? {} : { cookie } });
  absorbSetCookies(jar, response.headers.getSetCookie());
  return { status: response.status, body: (await response.json()) as VisitorView };
}

describe('several instances over HTTP: a new session cookie goes out only once its lease is claimed', function () {
  this.timeout(20_000);
  const servers: Server[] = [];
  const middlewares: { manager: { shutdown(): Promise<void> } }[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map(closeServer));
    await Promise.all(middlewares.splice(0).map((m) => m.manager.shutdown()));
  });

  it("the visitor's next request on another instance, sent the moment the first answered, finds the session (slow claims on the creating instance)", async () => {
    const cluster = new MemoryCluster();
    const adapter = new MemoryAdapter();
    const start = async (id: string, coordinator: SessionCoordinator): Promise<Server> => {
      const { app, middleware } = sessionApp({ adapter, coordinator, instanceId: id, checkpointInterval: 1_000 });
      middleware.manager.on('error', () => {});
      middlewares.push(middleware);
      const server = await listen(app);
      servers.push(server);
      return server;
    };
    const a = await start('a', slowClaims(new MemoryCoordinator(cluster), 300));
    const b = await start('b', new MemoryCoordinator(cluster));
    for (let visitor = 0; visitor < 5; visitor++) {
      const jar: CookieJar = new Map();
      const first = await send(a, jar, 'POST', `/visit?name=v${visitor}&item=first`);
      expect(first.status).to.equal(200);
      const next = await send(b, jar, 'POST', `/visit?name=v${visitor}&item=second`);
      expect(next.status, `visitor ${visitor}`).to.equal(200);
      expect(next.body.sessionId, `visitor ${visitor}: the same session`).to.equal(first.body.sessionId);
      expect(next.body.cart).to.deep.equal([
        ['first', 1],
        ['second', 1],
      ]);
    }
  });
});
