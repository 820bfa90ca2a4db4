import { expect } from 'chai';
import { createClient } from '@keyv/redis';
import { RedisAdapter } from '../src/index.js';
import type { RedisAdapterOptions } from '../src/index.js';
import { resolveOptions } from '../src/options.js';
import { expectOptionError } from '@reprise/adapter-tests/internal';

// None of these connect: a client is created but connect() is never called.
const URL = 'redis://127.0.0.1:6379';

describe('RedisAdapter options', () => {
  it('defaults: prefix reprise:, commandTimeout 5000, connectTimeout 5000, maxReconnectDelay 1000', () => {
    expect(resolveOptions({ url: URL })).to.deep.equal({
      kind: 'url',
      url: URL,
      prefix: 'reprise:',
      commandTimeout: 5000,
      connectTimeout: 5000,
      maxReconnectDelay: 1000,
    });
    expect(new RedisAdapter({ url: URL }).prefix).to.equal('reprise:');
  });

  it('takes a custom or empty prefix', () => {
    expect(new RedisAdapter({ url: URL, prefix: 'app:' }).prefix).to.equal('app:');
    expect(new RedisAdapter({ url: URL, prefix: '' }).prefix).to.equal('');
  });

  it('accepts a client from createClient (@keyv/redis) and creates no connection for it', () => {
    const client = createClient({ url: URL });
    const adapter = new RedisAdapter({ client, prefix: 'x:' });
    expect(adapter.name).to.equal('redis');
    expect(adapter.atomic).to.equal(true);
    expect(client.isOpen).to.equal(false);
  });

  const refusals: Array<[string, unknown, RegExp]> = [
    ['no options', undefined, /options must be an object with a url or a client/],
    ['neither url nor client', {}, /give a url or a client/],
    ['both url and client', { url: URL, client: createClient() }, /either url or client, not both/],
    ['a url that is not redis://', { url: 'http://127.0.0.1:6379' }, /url must be a redis:\/\/ or rediss:\/\/ URL/],
    ['a url that is not a string', { url: 6379 }, /url must be a redis:\/\/ or rediss:\/\/ URL string, got 6379/],
    ['an unknown option', { url: URL, namespace: 'x' }, /unknown option "namespace"/],
    ['a url-only option with a client', { client: createClient(), connectTimeout: 100 }, /connectTimeout applies to \{ url \} only/],
    ['a prefix that is not a string', { url: URL, prefix: 1 }, /prefix must be a string/],
    ['commandTimeout 0', { url: URL, commandTimeout: 0 }, /commandTimeout must be a positive integer of ms/],
    ['a fractional connectTimeout', { url: URL, connectTimeout: 1.5 }, /connectTimeout must be a positive integer/],
    [
      'maxReconnectDelay past the timer limit',
      { url: URL, maxReconnectDelay: 2 ** 31 },
      /maxReconnectDelay must be at most 2147483647 ms \(about 24\.8 days, the longest delay Node's timers hold\), got 2147483648/,
    ],
    ['a client that is not node-redis', { client: { get() {} } }, /node-redis 5 client .*no connect\(\)/],
    ['a cluster client', { client: { slots: [], connect() {} } }, /cluster and sentinel clients are not supported/],
  ];
  for (const [label, options, pattern] of refusals) {
    it(`refuses ${label}`, () => {
      expectOptionError(() => new RedisAdapter(options as RedisAdapterOptions), pattern);
    });
  }

  it('never echoes the url (it may carry a password)', () => {
    const error = expectOptionError(() => new RedisAdapter({ url: 'http://user:hunter2@host' }), /url must be/);
    expect(error.message).not.to.include('hunter2');
  });
});
