import { expect } from 'chai';
import type { FastifyInstance } from 'fastify';
import { createApp } from '@reprise-examples/fastify';
import { MemoryAdapter } from '@reprise/memory';
import { Browser, cookieIn, isClearing, setCookies } from './support/app.js';

/** A browser that POSTs JSON too, over `inject()`, keeping the jar of {@link Browser}. */
class Client extends Browser {
  readonly #app: FastifyInstance;
  constructor(app: FastifyInstance) {
    super(app);
    this.#app = app;
  }

  async post(
    path: string,
    body: unknown = {},
  ): Promise<{ status: number; body: Record<string, unknown>; headers: Record<string, string | string[] | number | undefined> }> {
    const cookie = this.cookieHeader();
    const res = await this.#app.inject({ method: 'POST', url: path, payload: body as object, headers: cookie === '' ? {} : { cookie } });
    this.store(res);
    return { status: res.statusCode, body: res.json(), headers: res.headers };
  }
}

describe('example: examples/fastify', () => {
  const apps: FastifyInstance[] = [];
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.close()));
  });

  async function start(options: Parameters<typeof createApp>[0] = {}) {
    const lines: string[] = [];
    const app = await createApp({ log: (line) => lines.push(line), ...options });
    apps.push(app);
    return { app, lines };
  }

  it('a visitor who only looks gets no cookie; the first item creates the session', async () => {
    const { app } = await start();
    const visitor = new Client(app);
    const look = await visitor.get('/cart');
    expect(look.body).to.deep.equal({ cart: [], user: null });
    expect(setCookies(look)).to.deep.equal([]);
    const add = await visitor.post('/cart', { item: 'apple' });
    expect(add.body).to.deep.equal({ cart: ['apple'] });
    expect(cookieIn(add)).to.not.equal(undefined);
    expect((await visitor.post('/cart', { item: 'pear' })).body).to.deep.equal({ cart: ['apple', 'pear'] });
    expect((await visitor.post('/cart', { item: '' })).status).to.equal(400);
  });

  it('an evicted cart comes back to its visitor, and the closing hook said it was kept', async () => {
    const { app, lines } = await start({ maxSessions: 1 });
    const alice = new Client(app);
    await alice.post('/cart', { item: 'apple' });
    await new Client(app).post('/cart', { item: 'plum' });
    expect(
      lines.some((line) => /^a visitor's session .* closed \(evicted\): cart of 1 kept/.test(line)),
      lines.join('\n'),
    ).to.equal(true);
    const back = await alice.get('/cart');
    expect(back.body).to.deep.equal({ cart: ['apple'], user: null });
    expect(lines.some((line) => /^restored .*: cart of 1$/.test(line))).to.equal(true);
    expect((await alice.get('/stats')).body).to.deep.include({ restored: 1 });
  });

  it('login keeps the cart under a new id; logout runs the hook (cart abandoned) and clears the cookie', async () => {
    const { app, lines } = await start();
    const alice = new Client(app);
    await alice.post('/cart', { item: 'apple' });
    const before = alice.sid;
    const login = await alice.post('/login', { user: 'alice' });
    expect(login.body).to.deep.equal({ user: 'alice', cart: ['apple'] });
    expect(alice.sid).to.not.equal(before);
    const logout = await alice.post('/logout');
    expect(isClearing(cookieIn(logout))).to.equal(true);
    expect(lines.at(-1)).to.match(/^alice logged out of .*: cart of 1 abandoned$/);
    expect((await alice.get('/cart')).body).to.deep.equal({ cart: [], user: null });
  });

  it('closing the app runs every closing hook (shutdown); a restarted app on the same adapter gives the cart back', async () => {
    const adapter = new MemoryAdapter();
    const first = await start({ adapter });
    const alice = new Client(first.app);
    await alice.post('/cart', { item: 'apple' });
    await first.app.close();
    apps.splice(apps.indexOf(first.app), 1);
    expect(first.lines.at(-1)).to.match(/closed \(shutdown\): cart of 1 kept/);
    const second = await start({ adapter });
    const back = new Client(second.app);
    for (const [name, value] of alice.jar) back.jar.set(name, value);
    expect((await back.get('/cart')).body).to.deep.equal({ cart: ['apple'], user: null });
  });
});
