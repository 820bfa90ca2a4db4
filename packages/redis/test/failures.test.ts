import { expect } from 'chai';
import { createClient } from '@keyv/redis';
import type { RepriseError } from '@reprise/core';
import { expectRejection } from '@reprise/adapter-tests/internal';
import { RedisAdapter } from '../src/index.js';
import { isConfigurationError } from '../src/failures.js';
import { freePort, OwnRedis } from './support/redis-server.js';

/**
 * A redis-server of the test's own with a password and an ACL user who may not run scripts:
 * configuration errors are `transient: false` with a message that says Redis refused (never
 * "unreachable"); an outage stays transient.
 */
describe("RedisAdapter: error classification (a redis-server of the test's own)", function () {
  this.timeout(20_000);
  let own: OwnRedis;
  const adapters: RedisAdapter[] = [];

  function adapter(url: string): RedisAdapter {
    const created = new RedisAdapter({ url, commandTimeout: 2000, maxReconnectDelay: 200 });
    adapters.push(created);
    return created;
  }

  async function refusal(call: Promise<unknown>, pattern: RegExp): Promise<RepriseError> {
    const error = await expectRejection(call, 'ERR_REPRISE_ADAPTER', pattern);
    expect(error, 'a configuration error is not transient').to.have.property('transient', false);
    expect(error, 'the command reached Redis').to.have.property('unsent', false);
    expect(error.message).not.to.match(/unreachable/);
    expect(error.cause).to.be.instanceOf(Error);
    return error;
  }

  before(async () => {
    own = new OwnRedis(await freePort(), [
      '--requirepass',
      'secret',
      '--user',
      'noscripts',
      'on',
      '>pw',
      '~*',
      '+@all',
      '-evalsha',
      '-eval',
    ]);
    await own.start();
  });

  after(async () => {
    await Promise.all(adapters.map((a) => a.close()));
    await own.kill();
  });

  it('no password where one is required (NOAUTH): not transient', async () => {
    const error = await refusal(adapter(`redis://127.0.0.1:${own.port}`).load('k'), /load failed: Redis refused it .*NOAUTH/);
    expect(error.message).not.to.include('secret');
  });

  it('a wrong password (WRONGPASS at connect): not transient, "Redis refused the connection", on every call', async () => {
    const wrong = adapter(`redis://:not-the-password@127.0.0.1:${own.port}`);
    for (const call of [wrong.load('k'), wrong.saveIfNewer('k', 'v', 1)]) {
      const error = await refusal(call, /Redis refused the connection \(check the URL's credentials and database\): WRONGPASS/);
      expect(error.message).not.to.include('not-the-password');
    }
  });

  it('an ACL user without the permission to run scripts (NOPERM): not transient', async () => {
    await refusal(
      adapter(`redis://noscripts:pw@127.0.0.1:${own.port}`).takeVersioned('k'),
      /takeVersioned failed: Redis refused it .*NOPERM/,
    );
  });

  it('the right password works', async () => {
    const right = adapter(`redis://:secret@127.0.0.1:${own.port}`);
    expect(await right.saveIfNewer('k', 'v', 1)).to.equal(true);
    expect(await right.takeVersioned('k')).to.deep.equal({ value: 'v', version: 1 });
  });

  it('{ client } whose owner gave no password (NOAUTH per command): not transient', async () => {
    const client = createClient({ url: `redis://127.0.0.1:${own.port}` });
    try {
      const borrowed = new RedisAdapter({ client });
      await refusal(borrowed.save('k', 'v'), /save failed: Redis refused it .*NOAUTH/);
      await borrowed.close();
    } finally {
      client.destroy();
    }
  });

  it('nothing listening (ECONNREFUSED): transient, "unreachable", and unsent (a write failed so cannot land later)', async () => {
    const down = adapter(`redis://127.0.0.1:${await freePort()}`);
    const error = await expectRejection(down.load('k'), 'ERR_REPRISE_ADAPTER', /Redis is unreachable \(.*ECONNREFUSED/);
    expect(error).to.include({ transient: true, unsent: true });
    const write = await expectRejection(down.saveIfNewer('k', 'v', 2), 'ERR_REPRISE_ADAPTER', /Redis is unreachable/);
    expect(write).to.include({ transient: true, unsent: true });
    const batch = await expectRejection(
      down.saveManyIfNewer([
        { key: 'k', value: 'v', version: 2 },
        { key: 'j', value: 'v', version: 1 },
      ]),
      'ERR_REPRISE_ADAPTER',
      /Redis is unreachable \(.*ECONNREFUSED/,
    );
    expect(batch, 'a batch that could not be sent: nothing of it can land later').to.include({ transient: true, unsent: true });
  });

  it('a batch refused for its ACL user (NOPERM on every entry): not transient, not unsent', async () => {
    const error = await refusal(
      adapter(`redis://noscripts:pw@127.0.0.1:${own.port}`).saveManyIfNewer([
        { key: 'k', value: 'v', version: 1 },
        { key: 'j', value: 'v', version: 1 },
      ]),
      /saveManyIfNewer failed: Redis refused it .*NOPERM/,
    );
    expect(error.message).not.to.include('pw@');
  });

  it('classifies replies by their code', () => {
    for (const message of [
      'NOAUTH Authentication required.',
      'WRONGPASS invalid username-password pair',
      'NOPERM User x has no permissions',
      "ERR unknown command 'EVALSHA'",
      'ERR DB index is out of range',
      'ERR AUTH <password> called without any password configured for the default user',
    ]) {
      expect(isConfigurationError(new Error(message)), message).to.equal(true);
    }
    for (const message of [
      'WRONGTYPE Operation against a key holding the wrong kind of value',
      'connect ECONNREFUSED 127.0.0.1:1',
      'Socket closed unexpectedly',
      'LOADING Redis is loading the dataset in memory',
      'BUSY Redis is busy running a script',
    ]) {
      expect(isConfigurationError(new Error(message)), message).to.equal(false);
    }
    expect(
      isConfigurationError(new Error('wrapped', { cause: new Error('NOPERM no') })),
      'an empty outer message is not the only place looked at',
    ).to.equal(false);
    expect(isConfigurationError(new Error('', { cause: new Error('NOPERM no') }))).to.equal(true);
  });
});
