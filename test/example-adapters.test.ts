import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { short } from '@reprise-examples/shop';
import { Browser, expectSameCookie } from './helpers/browser.js';
import { assertBuilt } from './helpers/build.js';
import { freePort } from './helpers/own-redis.js';
import { Child } from './helpers/process.js';
import { DATABASE_URL, REDIS_URL, deleteRedisKeys, dropTable, requirePostgres, requireRedis, uniqueName } from './helpers/services.js';

const MAIN = fileURLToPath(new URL('../examples/shop/dist/main.js', import.meta.url));

/** A store the example is pointed at through its environment. */
interface Store {
  readonly name: string;
  readonly require: (context: Mocha.Context) => Promise<void>;
  open(): { env: NodeJS.ProcessEnv; listening: RegExp; cleanup(): Promise<void> };
}

const STORES: Store[] = [
  {
    name: 'redis',
    require: requireRedis,
    open() {
      const prefix = `reprise-it:shop:${randomUUID()}:`;
      return {
        env: { REPRISE_ADAPTER: 'redis', REDIS_URL, REPRISE_PREFIX: prefix },
        listening: new RegExp(`\\(redis adapter at redis://[^,]+, prefix "${escapeText(prefix)}", maxSessions=`),
        cleanup: async () => void (await deleteRedisKeys(prefix)),
      };
    },
  },
  {
    name: 'postgres',
    require: requirePostgres,
    open() {
      const table = uniqueName('reprise_it_shop');
      return {
        env: { REPRISE_ADAPTER: 'postgres', DATABASE_URL, REPRISE_TABLE: table },
        listening: new RegExp(`\\(postgres adapter at postgres(ql)?://[^,]+, table "${table}", maxSessions=`),
        cleanup: () => dropTable(table),
      };
    },
  },
];

describe('the example shop on the adapter its environment names (REPRISE_ADAPTER)', function () {
  const started: Child[] = [];

  before(function () {
    assertBuilt('packages/core', 'packages/koa', 'packages/memory', 'packages/redis', 'packages/postgres', 'examples/shop');
  });

  afterEach(async function () {
    for (const child of started.splice(0)) await child.kill();
  });

  /** Starts `node examples/shop/dist/main.js` on a free port; resolves with its base URL once it listens. */
  async function startShop(env: NodeJS.ProcessEnv, listening?: RegExp): Promise<{ child: Child; base: string }> {
    const child = Child.node(MAIN, { PORT: '0', REPRISE_MAX_SESSIONS: '3', ...env });
    started.push(child);
    const [line, base] = await child.line(/listening on (http:\/\/localhost:\d+) (.*)$/);
    if (listening !== undefined) expect(line).to.match(listening);
    return { child, base: base! };
  }

  async function stopShop(child: Child): Promise<void> {
    const exit = await child.terminate();
    expect(exit, `stdout:\n${child.stdout.text}\nstderr:\n${child.stderr.text}`).to.deep.equal({ code: 0, signal: null });
  }

  for (const store of STORES) {
    describe(`REPRISE_ADAPTER=${store.name}`, function () {
      let cleanup: (() => Promise<void>) | undefined;

      before(async function () {
        await store.require(this);
      });

      after(async function () {
        await cleanup?.();
      });

      it('the carts outlive a restart: SIGTERM writes every session, the next process restores each cookie under the same id', async function () {
        this.timeout(20_000);
        const opened = store.open();
        cleanup = opened.cleanup;

        const first = await startShop(opened.env, opened.listening);
        await first.child.line(new RegExp(`\\[reprise\\] ${store.name} store reachable`));
        const alice = new Browser(first.base);
        const bob = new Browser(first.base);
        await alice.post('/cart/apple?qty=2', 200);
        const aliceCart = (await alice.post('/cart/pear', 200)).body;
        const bobCart = (await bob.post('/cart/milk?qty=3', 200)).body;
        const oldSids = [alice.sid!, bob.sid!];

        await stopShop(first.child);
        await first.child.line(
          new RegExp(
            `closing ${escapeText(short(oldSids[0]!))} reason=shutdown: saving cart=2 items \\(3 units\\) under \\S+ \\(restored when its cookie comes back\\)`,
          ),
        );
        await first.child.line(
          /shutdown complete: closed \{"evicted":0,"expired":0,"closed":0,"shutdown":2,"handover":0\}; snapshots written: 2$/,
        );

        const second = await startShop(opened.env);
        for (const [i, [visitor, cart]] of (
          [
            [alice, aliceCart],
            [bob, bobCart],
          ] as const
        ).entries()) {
          const back = await visitor.at(second.base).get('/cart', 200);
          expectSameCookie(back, oldSids[i]!, `visitor ${i}'s restore`);
          expect(back.body, `visitor ${i}'s cart, same id`).to.deep.equal({ ...cart, sessionId: oldSids[i] });
        }
        await second.child.line(
          new RegExp(`restored ${escapeText(short(oldSids[1]!))} \\(closed: shutdown\\) under the same id: cart=1 item`),
        );
        // A write in the new process goes into the restored cart, under the same id.
        const more = await bob.at(second.base).post('/cart/eggs', 200);
        expectSameCookie(more, oldSids[1]!, 'the write in the new process');
        expect(more.body).to.deep.equal({
          items: [
            { sku: 'milk', qty: 3 },
            { sku: 'eggs', qty: 1 },
          ],
          units: 4,
          sessionId: oldSids[1],
        });
        await stopShop(second.child);
        await second.child.line(
          new RegExp(
            `closing ${escapeText(short(oldSids[1]!))} reason=shutdown: saving cart=2 items \\(4 units\\) under ${escapeText(short(oldSids[1]!))}`,
          ),
        );
        await second.child.line(
          /shutdown complete: closed \{"evicted":0,"expired":0,"closed":0,"shutdown":2,"handover":0\}; snapshots written: 2$/,
        );
      });
    });
  }

  it('starts and serves with its Redis unreachable, saying so once', async function () {
    const port = await freePort(); // nothing listens there
    const { child, base } = await startShop({ REPRISE_ADAPTER: 'redis', REDIS_URL: `redis://127.0.0.1:${port}` });
    await child.line(/\[reprise\] warning: the redis store is unreachable now \(.*\); live sessions keep working/);
    const cart = await new Browser(base).get('/cart', 200);
    expect(cart.body).to.deep.equal({ items: [], units: 0, sessionId: null });
    await stopShop(child);
  });

  it('refuses an unknown REPRISE_ADAPTER with exit code 2 and the valid names', async function () {
    const child = Child.node(MAIN, { PORT: '0', REPRISE_ADAPTER: 'mongodb' });
    started.push(child);
    expect(await child.exited).to.deep.equal({ code: 2, signal: null });
    expect(child.stderr.text).to.include('REPRISE_ADAPTER must be one of memory, redis, postgres, got "mongodb"');
    expect(child.stdout.text).to.equal('');
  });
});

function escapeText(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
