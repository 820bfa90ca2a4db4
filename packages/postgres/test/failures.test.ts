import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { expect } from 'chai';
import { RepriseError } from '@reprise/core';
import { PostgresAdapter } from '../src/index.js';
import { freePort } from './helpers.js';

/** Runs `call`, expecting an ERR_REPRISE_ADAPTER rejection with a cause; returns it and how long it took. */
async function timedRejection(call: () => Promise<unknown>): Promise<{ error: RepriseError; ms: number }> {
  const started = performance.now();
  let caught: unknown;
  try {
    await call();
  } catch (error) {
    caught = error;
  }
  const ms = performance.now() - started;
  expect(caught, 'expected a rejection').to.be.instanceOf(RepriseError);
  const error = caught as RepriseError;
  expect(error.code).to.equal('ERR_REPRISE_ADAPTER');
  expect(error.cause, 'the original error as cause').to.be.instanceOf(Error);
  return { error, ms };
}

describe('PostgresAdapter: unreachable server', () => {
  it('rejects every call at once when nothing listens (connection refused), unsent (the statement never left)', async () => {
    const port = await freePort();
    const adapter = new PostgresAdapter({ connectionString: `postgresql://root@127.0.0.1:${port}/test` }, { connectTimeout: 2000 });
    try {
      for (const call of [
        () => adapter.save('k', 'v'),
        () => adapter.load('k'),
        () => adapter.take('k'),
        () => adapter.delete('k'),
        () => adapter.sweep(),
      ]) {
        const { error, ms } = await timedRejection(call);
        expect(error.message).to.match(/cannot prepare table "reprise_snapshots": connect ECONNREFUSED/);
        expect(ms).to.be.below(1000);
      }
      const { error } = await timedRejection(() => adapter.saveIfNewer('k', 'v', 2));
      expect(error).to.include({ transient: true, unsent: true });
      const batch = await timedRejection(() =>
        adapter.saveManyIfNewer([
          { key: 'k', value: 'v', version: 2 },
          { key: 'j', value: 'v', version: 1 },
        ]),
      );
      expect(batch.error.message).to.match(
        /^PostgresAdapter: saveManyIfNewer: cannot prepare table "reprise_snapshots": connect ECONNREFUSED/,
      );
      expect(batch.error, 'a batch whose statement was never sent').to.include({ transient: true, unsent: true });
      expect(batch.ms).to.be.below(1000);
    } finally {
      await adapter.close();
    }
  });

  describe('a server that accepts connections and never answers', () => {
    let server: Server;
    let port: number;
    const sockets = new Set<Socket>();

    before(async () => {
      server = createServer((socket) => {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      port = (server.address() as { port: number }).port;
    });

    after(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    });

    it('rejects after connectTimeout instead of hanging, on every call', async () => {
      const adapter = new PostgresAdapter({ connectionString: `postgresql://root@127.0.0.1:${port}/test` }, { connectTimeout: 300 });
      try {
        for (let i = 0; i < 2; i++) {
          const { error, ms } = await timedRejection(() => adapter.load('k'));
          expect(error.message).to.match(/cannot prepare table .*timeout/i);
          expect(ms).to.be.within(250, 2000);
        }
      } finally {
        await adapter.close();
      }
    });
  });
});
