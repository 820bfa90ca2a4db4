import { once } from 'node:events';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import Koa from 'koa';
import request from 'supertest';
import { session } from '@reprise/koa';
import { FileAdapter } from '../src/file-adapter.js';

describe('FileAdapter beyond the suite', function () {
  let dir: string;
  beforeEach(() => void (dir = mkdtempSync(join(tmpdir(), 'reprise-file-adapter-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('sweep() deletes the expired files and keeps the others', async function () {
    const adapter = new FileAdapter({ dir, sweepInterval: false });
    await adapter.save('short', 'a', 1);
    await adapter.save('long', 'b', 60_000);
    await adapter.save('forever', 'c');
    const deadline = Date.now() + 2_000;
    while ((await adapter.load('short')) !== undefined && Date.now() < deadline) await new Promise((resolve) => setImmediate(resolve));
    expect(readdirSync(dir)).to.have.length(3);
    await adapter.sweep();
    expect(readdirSync(dir)).to.have.length(2);
    expect([await adapter.load('short'), await adapter.load('long'), await adapter.load('forever')]).to.deep.equal([undefined, 'b', 'c']);
    await adapter.close();
  });

  it('works under session(): an evicted visitor is restored from its file by its cookie', async function () {
    const adapter = new FileAdapter({ dir });
    const middleware = session<{ name?: string }>({ adapter, maxSessions: 1 });
    const app = new Koa();
    app.keys = ['test'];
    app.use(middleware);
    app.use((ctx) => {
      if (ctx.query.name !== undefined) ctx.session.name = String(ctx.query.name);
      ctx.body = { name: ctx.session.name ?? null };
    });
    const server = createServer(app.callback()).listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const first = await request(server).post('/?name=ada').expect(200);
      const cookie = first.headers['set-cookie'] as unknown as string[];
      const sid = /reprise\.sid=([^;]+)/.exec(cookie.join(';'))![1]!;
      const closed = once(middleware.manager, 'close');
      await request(server).post('/?name=grace').expect(200); // over the cap of 1: ada is evicted
      expect((await closed)[1]).to.equal('evicted');
      expect(await adapter.load(sid), 'the snapshot is in its file').to.be.a('string');

      const back = await request(server)
        .get('/')
        .set('Cookie', cookie.map((c) => c.split(';')[0]).join('; '))
        .expect(200);
      expect(back.body).to.deep.equal({ name: 'ada' });
      // A restore keeps the session's id: any cookie it sends names the same session.
      const issued = [...String(back.headers['set-cookie'] ?? '').matchAll(/reprise\.sid=([^;]+)/g)].map((match) => match[1]);
      expect(
        issued.every((id) => id === sid),
        `cookies issued on restore: ${issued.join(', ')}`,
      ).to.equal(true);
      expect(await adapter.load(sid), 'taken by the restore').to.equal(undefined);
    } finally {
      server.close();
      await middleware.manager.shutdown();
      await adapter.close();
    }
  });
});
