import { expect } from 'chai';
import { RepriseError } from '@reprise/core';
import { PostgresAdapter } from '../src/index.js';
import { TestCluster } from './cluster.js';

/** Runs `call`, expecting an ERR_REPRISE_ADAPTER rejection with a cause; returns how long it took in ms. */
async function rejectionTime(call: () => Promise<unknown>, pattern: RegExp): Promise<number> {
  const started = performance.now();
  let caught: unknown;
  try {
    await call();
  } catch (error) {
    caught = error;
  }
  const ms = performance.now() - started;
  expect(caught, 'expected a rejection').to.be.instanceOf(RepriseError);
  expect((caught as RepriseError).code).to.equal('ERR_REPRISE_ADAPTER');
  expect((caught as RepriseError).message).to.match(pattern);
  expect((caught as RepriseError).cause).to.be.instanceOf(Error);
  return ms;
}

async function timed<T>(work: () => Promise<T>): Promise<[T, number]> {
  const started = performance.now();
  const result = await work();
  return [result, performance.now() - started];
}

describe('PostgresAdapter: outage (own cluster, killed and restarted)', function () {
  this.timeout(30_000);
  let cluster: TestCluster | undefined;
  const adapters: PostgresAdapter[] = [];
  const timings: Record<string, number> = {};

  before(async function () {
    const [created, initdbMs] = await timed(() => TestCluster.create());
    if (created === undefined) this.skip(); // no Postgres binaries on this machine
    cluster = created;
    timings.initdb = initdbMs;
    [, timings.start] = await timed(() => created.start());
  });

  after(async () => {
    await Promise.all(adapters.map((adapter) => adapter.close().catch(() => undefined)));
    await cluster?.destroy();
    const line = Object.entries(timings)
      .map(([step, ms]) => `${step} ${Math.round(ms)} ms`)
      .join(', ');
    if (line !== '') console.log(`      outage timings: ${line}`);
  });

  it('rejects promptly while the server is down and works again after a restart, with the same adapter', async () => {
    const c = cluster!;
    const onError: RepriseError[] = [];
    const adapter = new PostgresAdapter(
      { connectionString: c.url },
      { connectTimeout: 2000, sweepInterval: false, onError: (e) => onError.push(e) },
    );
    adapters.push(adapter);
    await adapter.save('kept', 'v\u0000kept');

    let slowest = 0;
    for (let cycle = 1; cycle <= 2; cycle++) {
      await adapter.save(`taken${cycle}`, `t${cycle}`);
      [, timings[`kill ${cycle}`]] = await timed(() => c.kill());

      const calls = [
        () => adapter.save('during', 'x'),
        () => adapter.load('kept'),
        () => adapter.take(`taken${cycle}`),
        () => adapter.delete('kept'),
        () => adapter.sweep(),
      ];
      for (const call of calls) {
        const ms = await rejectionTime(call, /failed: (connect ECONNREFUSED|Connection terminated|terminating connection)/);
        slowest = Math.max(slowest, ms);
        expect(ms, 'a prompt rejection, not a hang').to.be.below(1000);
      }

      // An adapter whose very first call meets the outage: its failed preparation is not kept.
      const late = new PostgresAdapter(
        { connectionString: c.url },
        {
          table: `late_${cycle}`,
          connectTimeout: 2000,
          sweepInterval: false,
          onError: (e) => onError.push(e),
        },
      );
      adapters.push(late);
      slowest = Math.max(slowest, await rejectionTime(() => late.save('k', 'v'), /cannot prepare table "late_\d": connect ECONNREFUSED/));

      [, timings[`restart ${cycle}`]] = await timed(() => c.start());

      const [kept, firstCallMs] = await timed(() => adapter.load('kept'));
      timings[`first call after restart ${cycle}`] = firstCallMs;
      expect(kept, 'committed data survived the crash').to.equal('v\u0000kept');
      expect(await adapter.take(`taken${cycle}`)).to.equal(`t${cycle}`);
      expect(await adapter.take(`taken${cycle}`)).to.equal(undefined);
      await adapter.save('after', `x${cycle}`, 60_000);
      expect(await adapter.load('after')).to.equal(`x${cycle}`);
      expect(await late.save('k', 'v')).to.equal(undefined);
      expect(await late.load('k')).to.equal('v');
    }
    timings['slowest rejection'] = slowest;
    for (const error of onError) expect(error.code).to.equal('ERR_REPRISE_ADAPTER');
  });
});
