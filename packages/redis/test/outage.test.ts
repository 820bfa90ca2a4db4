import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { once } from 'node:events';
import { expect } from 'chai';
import { createClient } from '@keyv/redis';
import type { RepriseError } from '@reprise/core';
import { RedisAdapter } from '../src/index.js';
import { expectRejection } from '@reprise/adapter-tests/internal';
import { activeResources, eventually, freePort, OwnRedis } from './support/redis-server.js';

/** Timings seen, printed at the end of the run (the outage behaviour in numbers). */
const timings: string[] = [];

/** Runs `call`, expecting ERR_REPRISE_ADAPTER; returns how long the rejection took (ms). */
async function rejectionTime(call: () => Promise<unknown>, pattern: RegExp): Promise<{ ms: number; error: RepriseError }> {
  const started = performance.now();
  const error = await expectRejection(call(), 'ERR_REPRISE_ADAPTER', pattern);
  return { ms: performance.now() - started, error };
}

/** A rejection this fast is "at once": no waiting on a timeout or a reconnect (generous for a loaded CI box). */
const FAST_MS = 250;
/** Allowed lateness of something that fires on a timer (commandTimeout, connectTimeout) on a loaded box. */
const LATE_MS = 600;

describe("RedisAdapter: outages (a redis-server of the test's own)", function () {
  this.timeout(20_000);
  const servers: OwnRedis[] = [];
  const adapters: RedisAdapter[] = [];

  async function server(extraArgs: string[] = []): Promise<OwnRedis> {
    const own = new OwnRedis(await freePort(), extraArgs);
    servers.push(own);
    await own.start();
    return own;
  }

  function track(adapter: RedisAdapter): RedisAdapter {
    adapters.push(adapter);
    return adapter;
  }

  afterEach(async () => {
    for (const own of servers) own.thaw();
    await Promise.all(adapters.splice(0).map((adapter) => adapter.close()));
    await Promise.all(servers.splice(0).map((own) => own.kill()));
  });

  after(() => {
    if (timings.length > 0) console.log(`\n      outage timings:\n${timings.map((t) => `        ${t}`).join('\n')}`);
  });

  it('Redis killed mid-run: every call rejects at once; restarted on the same port, the same adapter recovers by itself', async () => {
    const own = await server();
    const adapter = track(new RedisAdapter({ url: own.url }));
    await adapter.save('before', 'v');
    expect(await adapter.load('before')).to.equal('v');

    await own.kill();
    const seen: number[] = [];
    const outageEnd = Date.now() + 600; // spans several reconnect attempts (50 ms, 100, 200, 400 …)
    do {
      for (const call of [
        () => adapter.save('k', 'v', 1000),
        () => adapter.load('k'),
        () => adapter.take('k'),
        () => adapter.delete('k'),
      ]) {
        const { ms, error } = await rejectionTime(call, /RedisAdapter: (save|load|take|delete) failed|Redis is unreachable/);
        expect(error.cause, 'the connection error is the cause').to.be.instanceOf(Error);
        seen.push(ms);
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    } while (Date.now() < outageEnd);
    const slowest = Math.max(...seen);
    expect(slowest, `slowest rejection during the outage: ${slowest.toFixed(1)} ms`).to.be.below(FAST_MS);

    const restarted = performance.now();
    await own.start();
    await eventually(() => adapter.save('after', 'back'), 5000);
    const recovery = performance.now() - restarted;
    expect(await adapter.take('after')).to.equal('back');
    expect(await adapter.load('before'), 'the restarted server is empty (no persistence)').to.equal(undefined);
    timings.push(
      `killed: ${seen.length} calls rejected in ${Math.min(...seen).toFixed(1)}–${slowest.toFixed(1)} ms (median ${median(seen).toFixed(1)} ms); ` +
        `working again ${recovery.toFixed(0)} ms after the restart`,
    );
  });

  it('Redis down from the start: the first call rejects at once (ECONNREFUSED); up later, the adapter works by itself', async () => {
    const own = new OwnRedis(await freePort());
    servers.push(own);
    const adapter = track(new RedisAdapter({ url: own.url }));
    const first = await rejectionTime(() => adapter.load('k'), /Redis is unreachable \(.*ECONNREFUSED/);
    expect((first.error.cause as NodeJS.ErrnoException).code).to.equal('ECONNREFUSED');
    expect(first.error, 'an outage is transient').to.have.property('transient', true);
    const second = await rejectionTime(() => adapter.save('k', 'v'), /Redis is unreachable/);
    expect(Math.max(first.ms, second.ms)).to.be.below(FAST_MS);

    const started = performance.now();
    await own.start();
    await eventually(() => adapter.save('k', 'v'), 5000);
    expect(await adapter.take('k')).to.equal('v');
    timings.push(
      `down from the start: first call rejected in ${first.ms.toFixed(1)} ms, next in ${second.ms.toFixed(1)} ms; working ${(performance.now() - started).toFixed(0)} ms after the server came up`,
    );
  });

  it('a frozen server (accepts, never answers): the call rejects after commandTimeout; thawed, it works again', async () => {
    const own = await server();
    const adapter = track(new RedisAdapter({ url: own.url, commandTimeout: 300 }));
    await adapter.save('k', 'v');
    own.freeze();
    const { ms, error } = await rejectionTime(() => adapter.load('k'), /load timed out after 300 ms \(Redis did not answer\)/);
    expect(ms).to.be.within(280, 300 + LATE_MS);
    expect(error, 'a timeout is transient').to.have.property('transient', true);
    own.thaw();
    expect(await eventually(() => adapter.load('k'), 5000)).to.equal('v');
    timings.push(`frozen server: rejected after ${ms.toFixed(0)} ms (commandTimeout 300)`);
  });

  it('close() during an outage waits out the reconnect timer and leaves no timer and no socket behind', async () => {
    const own = await server();
    const baseline = activeResources();
    const adapter = track(new RedisAdapter({ url: own.url, maxReconnectDelay: 400 }));
    await adapter.save('k', 'v');
    await own.kill();
    await rejectionTime(() => adapter.load('k'), /failed|unreachable/);
    const started = performance.now();
    await adapter.close();
    const closing = performance.now() - started;
    expect(closing, 'bounded by maxReconnectDelay plus grace').to.be.below(400 + 100 + LATE_MS);
    const after = activeResources();
    expect(after.Timeout ?? 0, 'timers').to.be.at.most(baseline.Timeout ?? 0);
    expect(after.TCPSocketWrap ?? 0, 'sockets').to.be.at.most(baseline.TCPSocketWrap ?? 0);
    timings.push(`close() during an outage: ${closing.toFixed(0)} ms (maxReconnectDelay 400), no timer or socket left`);
  });

  it('a frozen server: a batch rejects after commandTimeout, transient and not unsent (it was sent: it may still run)', async () => {
    const own = await server();
    const adapter = track(new RedisAdapter({ url: own.url, commandTimeout: 300 }));
    expect(await adapter.saveManyIfNewer([{ key: 'k', value: 'v', version: 1 }])).to.deep.equal([true]); // caches the batch script
    own.freeze();
    const { ms, error } = await rejectionTime(
      () =>
        adapter.saveManyIfNewer([
          { key: 'k', value: 'w', version: 2 },
          { key: 'j', value: 'w', version: 2 },
        ]),
      /^RedisAdapter: saveManyIfNewer timed out after 300 ms \(Redis did not answer\)$/,
    );
    expect(ms).to.be.within(280, 300 + LATE_MS);
    expect(error).to.include({ transient: true, unsent: false });
    own.thaw();
    // The pipeline had left: once thawed, Redis carries it out.
    expect(
      await eventually(async () => {
        const value = await adapter.load('j');
        if (value === undefined) throw new Error('not yet');
        return value;
      }, 5000),
    ).to.equal('w');
    timings.push(`frozen server: a batch rejected after ${ms.toFixed(0)} ms (commandTimeout 300)`);
  });

  it('Redis killed while a batch is in flight: rejects at once, transient and not unsent; during the outage a batch rejects unsent', async () => {
    const own = await server();
    const adapter = track(new RedisAdapter({ url: own.url, commandTimeout: 5000 }));
    await adapter.saveIfNewer('k', 'v', 1);
    own.freeze();
    const inFlight = adapter.saveManyIfNewer([
      { key: 'k', value: 'w', version: 2 },
      { key: 'j', value: 'w', version: 2 },
    ]);
    inFlight.catch(() => undefined); // examined below, after the kill
    await new Promise((resolve) => setTimeout(resolve, 50)); // the pipeline has left
    await own.kill();
    const { ms: lost, error } = await rejectionTime(
      () => inFlight,
      /^RedisAdapter: saveManyIfNewer failed: (Socket closed unexpectedly|read ECONNRESET)/,
    );
    expect(error).to.include({ transient: true, unsent: false });
    expect(lost).to.be.below(FAST_MS);
    const down = await rejectionTime(
      () => adapter.saveManyIfNewer([{ key: 'k', value: 'x', version: 3 }]),
      /Redis is unreachable|saveManyIfNewer failed: The client is (offline|closed)/,
    );
    expect(down.error, 'never sent while Redis is down').to.include({ transient: true, unsent: true });
    expect(down.ms).to.be.below(FAST_MS);
    await own.start();
    expect(await eventually(() => adapter.saveManyIfNewer([{ key: 'k', value: 'back', version: 1 }]), 5000)).to.deep.equal([true]);
  });

  it('a batch after SCRIPT FLUSH: Redis answers NOSCRIPT, the batch is sent again behind one EVAL, and resolves right', async () => {
    const own = await server();
    const probe = createClient({ url: own.url });
    await probe.connect();
    try {
      const adapter = track(new RedisAdapter({ url: own.url }));
      await adapter.saveIfNewer('k0', 'v', 5);
      await probe.scriptFlush();
      await probe.configResetStat();
      const writes = Array.from({ length: 100 }, (_, i) => ({ key: `k${i}`, value: `w${i}`, version: 3 }));
      const results = await adapter.saveManyIfNewer(writes);
      expect(results).to.deep.equal(writes.map((_, i) => i !== 0));
      const stats = await probe.info('commandstats');
      expect(stats, 'one EVAL with the source for the whole batch').to.match(/cmdstat_eval:calls=1,/);
      expect(await adapter.load('k0')).to.equal('v');
      expect(await adapter.load('k99')).to.equal('w99');
    } finally {
      probe.destroy();
    }
  });

  it(`${200} batches of one issued one per turn of the event loop share socket writes and script runs, and each resolves its own result; a bad key fails only its own batch`, async () => {
    const own = await server();
    const probe = createClient({ url: own.url });
    await probe.connect();
    try {
      const adapter = track(new RedisAdapter({ url: own.url }));
      await adapter.saveManyIfNewer([{ key: 'warm-up', value: 'v', version: 1 }]); // connects, caches the script
      await adapter.saveIfNewer('newer', 'kept', 50);
      await probe.rPush('reprise:a-list', 'x');
      await probe.configResetStat();
      const batches: Promise<boolean[]>[] = [];
      for (let i = 0; i < 200; i++) {
        const key = i === 100 ? 'newer' : i === 150 ? 'a-list' : `k${i}`;
        const batch = adapter.saveManyIfNewer([{ key, value: `w${i}`, version: 10 }]);
        batch.catch(() => {}); // settled below, with the others
        batches.push(batch);
        await new Promise((resolve) => setImmediate(resolve));
      }
      const outcomes = await Promise.allSettled(batches);
      outcomes.forEach((outcome, i) => {
        if (i === 150) {
          expect(outcome.status, 'the batch holding the list').to.equal('rejected');
          expect((outcome as PromiseRejectedResult).reason.message).to.match(/^RedisAdapter: saveManyIfNewer failed: WRONGTYPE/);
        } else {
          expect(outcome, `batch ${i}`).to.deep.equal({ status: 'fulfilled', value: [i !== 100] });
        }
      });
      expect(await adapter.load('k199')).to.equal('w199');
      expect(await adapter.load('newer')).to.equal('kept');
      const stats = await probe.info('commandstats');
      const scriptRuns = Number(/cmdstat_evalsha:calls=(\d+),/.exec(stats)?.[1] ?? 0);
      expect(scriptRuns, 'script runs for 200 batches of one').to.be.within(1, 200 / 2);
      const reads = Number(/total_reads_processed:(\d+)/.exec(await probe.info('stats'))?.[1] ?? 0);
      // The adapter's reads plus the probe's own few commands since the reset.
      expect(reads, 'socket reads by Redis for 200 batches of one').to.be.below(200 / 2);
      timings.push(`200 batches of one, one per turn: ${scriptRuns} script runs, ${reads} socket reads`);
    } finally {
      probe.destroy();
    }
  });

  it('a frozen server during the first connection (handshake hangs): rejects after commandTimeout; close() leaves nothing', async () => {
    const own = await server();
    own.freeze();
    const baseline = activeResources();
    const adapter = track(new RedisAdapter({ url: own.url, commandTimeout: 300 }));
    const { ms } = await rejectionTime(() => adapter.save('k', 'v'), /save timed out after 300 ms/);
    expect(ms).to.be.within(280, 300 + LATE_MS);
    const started = performance.now();
    await adapter.close();
    const closing = performance.now() - started;
    expect(closing).to.be.below(FAST_MS);
    const after = activeResources();
    expect(after.Timeout ?? 0, 'timers').to.be.at.most(baseline.Timeout ?? 0);
    expect(after.TCPSocketWrap ?? 0, 'sockets').to.be.at.most(baseline.TCPSocketWrap ?? 0);
    timings.push(
      `handshake hanging: first call rejected after ${ms.toFixed(0)} ms (commandTimeout 300); close() took ${closing.toFixed(0)} ms, nothing left`,
    );
  });

  it('a call that timed out waiting for the connection is never sent later (a late take would lose the value)', async () => {
    const own = await server();
    const probe = createClient({ url: own.url });
    await probe.connect();
    try {
      await probe.hSet('reprise:k', { value: 'keep me', version: '0' });
      own.freeze();
      const adapter = track(new RedisAdapter({ url: own.url, commandTimeout: 300 }));
      await rejectionTime(() => adapter.take('k'), /take timed out after 300 ms/);
      own.thaw();
      // Once the connection is up, a take left behind would have run before this load.
      expect(await eventually(() => adapter.load('k'), 5000)).to.equal('keep me');
      expect(await probe.hGet('reprise:k', 'value')).to.equal('keep me');
    } finally {
      probe.destroy();
    }
  });

  it('a TCP connect that hangs (full accept queue): fails after connectTimeout; close() meanwhile waits for it and leaves nothing', async () => {
    const own = await server(['--tcp-backlog', '1']);
    own.freeze();
    // Fill the frozen server's accept queue: later SYNs are dropped, so a connect hangs.
    const fillers: Socket[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        const socket = connect(own.port, '127.0.0.1');
        fillers.push(socket);
        await once(socket, 'connect');
      }
      const baseline = activeResources();
      // maxReconnectDelay 1: after a failed attempt the next one starts within 1 ms and hangs for 300.
      const adapter = track(new RedisAdapter({ url: own.url, connectTimeout: 300, commandTimeout: 2000, maxReconnectDelay: 1 }));
      const first = await rejectionTime(() => adapter.load('k'), /Redis is unreachable \(Connection timeout\)/);
      expect(first.ms).to.be.within(280, 300 + LATE_MS);
      // Positioning only: 20 ms into the next attempt's 300, close() finds a connect in flight.
      await new Promise((resolve) => setTimeout(resolve, 20));
      const started = performance.now();
      await adapter.close();
      const closing = performance.now() - started;
      expect(closing, 'waited for the attempt in flight to end').to.be.within(150, 300 + 100 + LATE_MS);
      const after = activeResources();
      expect(after.Timeout ?? 0, 'timers').to.be.at.most(baseline.Timeout ?? 0);
      expect(after.TCPSocketWrap ?? 0, 'sockets').to.be.at.most(baseline.TCPSocketWrap ?? 0);
      timings.push(
        `TCP connect hanging: call rejected after ${first.ms.toFixed(0)} ms (connectTimeout 300); close() took ${closing.toFixed(0)} ms, nothing left`,
      );
    } finally {
      for (const socket of fillers) socket.destroy();
    }
  });

  it('close() of { url } closes its connection on the server side', async () => {
    const own = await server();
    const probe = createClient({ url: own.url });
    await probe.connect();
    try {
      const clients = async (): Promise<number> => (await probe.clientList()).length;
      const adapter = track(new RedisAdapter({ url: own.url }));
      await adapter.save('k', 'v');
      expect(await clients()).to.equal(2);
      const baseline = activeResources();
      await adapter.close();
      await eventually(async () => expect(await clients()).to.equal(1), 2000);
      expect(activeResources().TCPSocketWrap ?? 0).to.equal((baseline.TCPSocketWrap ?? 0) - 1);
    } finally {
      probe.destroy();
    }
  });

  it('{ client } with the offline queue on (node-redis default): calls still reject at once during an outage', async () => {
    const own = await server();
    const client = createClient({ url: own.url, socket: { reconnectStrategy: () => 100 } });
    client.on('error', () => {});
    const adapter = track(new RedisAdapter({ client }));
    try {
      await adapter.save('k', 'v');
      await own.kill();
      const seen: number[] = [];
      for (let i = 0; i < 5; i++) seen.push((await rejectionTime(() => adapter.load('k'), /failed|unreachable/)).ms);
      expect(Math.max(...seen)).to.be.below(FAST_MS);
      await own.start();
      await eventually(() => adapter.save('k', 'again'), 5000);
      expect(await adapter.load('k')).to.equal('again');
      await adapter.close();
      expect(client.isOpen, 'the caller’s client stays open').to.equal(true);
    } finally {
      client.destroy();
    }
  });

  it('the script cache flushed (SCRIPT FLUSH, as after a restart): calls fall back to EVAL and work', async () => {
    const own = await server();
    const probe = createClient({ url: own.url });
    await probe.connect();
    try {
      const adapter = track(new RedisAdapter({ url: own.url }));
      await adapter.saveIfNewer('k', 'v', 3);
      await probe.scriptFlush();
      expect(await adapter.takeVersioned('k')).to.deep.equal({ value: 'v', version: 3 });
      expect(await adapter.saveIfNewer('k', 'older', 2)).to.equal(false);
    } finally {
      probe.destroy();
    }
  });

  it('a server without scripting (EVALSHA renamed away): calls reject at once, not transient, naming the command', async () => {
    const own = await server(['--rename-command', 'EVALSHA', '']);
    const adapter = track(new RedisAdapter({ url: own.url }));
    const { error, ms } = await rejectionTime(() => adapter.save('k', 'v'), /save failed: Redis refused it .*unknown command/i);
    expect(error).to.have.property('transient', false);
    expect(ms).to.be.below(FAST_MS);
  });
});

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}
