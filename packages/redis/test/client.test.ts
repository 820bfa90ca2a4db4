import { expect } from 'chai';
import { BASE_RECONNECT_DELAY, createOwnedClient, reconnectDelay } from '../src/client.js';

describe('client: reconnect backoff', () => {
  it('doubles from 50 ms up to the cap, within its upper half (jitter)', () => {
    const low = (n: number): number => reconnectDelay(n, 1000, () => 0);
    const high = (n: number): number => reconnectDelay(n, 1000, () => 0.999_999);
    expect([0, 1, 2, 3, 4, 5, 6].map(low)).to.deep.equal([25, 50, 100, 200, 400, 500, 500]);
    expect([0, 1, 2, 3, 4, 5, 6].map(high)).to.deep.equal([50, 100, 200, 400, 800, 1000, 1000]);
    expect(BASE_RECONNECT_DELAY).to.equal(50);
  });

  it('has no cap on attempts: attempt 10,000 still gets a finite delay within the cap', () => {
    for (const attempt of [100, 1024, 10_000]) {
      const delay = reconnectDelay(attempt, 1000);
      expect(delay).to.be.a('number').within(500, 1000);
    }
  });

  it('is never below 1 ms, even with a 1 ms cap', () => {
    expect(reconnectDelay(0, 1, () => 0)).to.equal(1);
  });

  it('the created client uses it, reports the delay, and stops only when told to', () => {
    let stopping = false;
    const waits: number[] = [];
    const client = createOwnedClient(
      { url: 'redis://127.0.0.1:1', connectTimeout: 100, maxReconnectDelay: 300 },
      { stopping: () => stopping, willWait: (delay) => void waits.push(delay) },
    );
    const options = (
      client as unknown as {
        options: {
          disableOfflineQueue: boolean;
          socket: { connectTimeout: number; reconnectStrategy: (n: number, e: Error) => number | false };
        };
      }
    ).options;
    expect(options.disableOfflineQueue).to.equal(true);
    expect(options.socket.connectTimeout).to.equal(100);
    const strategy = options.socket.reconnectStrategy;
    expect(strategy(50, new Error('x'))).to.be.within(150, 300);
    expect(waits).to.have.length(1);
    stopping = true;
    expect(strategy(51, new Error('x'))).to.equal(false);
    expect(waits).to.have.length(1);
  });
});
