import { createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { expect } from 'chai';
import type { SessionAdapter } from '@reprise/core';
import { MemoryAdapter } from '@reprise/memory';
import { runAdapterTests } from '../src/index.js';
import type { AdapterTestOptions } from '../src/index.js';
import * as broken from './support/broken-adapters.js';
import { runInChildMocha } from './support/child-mocha.js';
import type { ChildRunReport } from './support/child-mocha.js';

/** Short settling and deadlines, so that the failing runs stay fast. */
const FAST: AdapterTestOptions = { closeSettleMs: 300, timeoutMs: 1_000 };

/** Runs the whole suite (or the checks `grep` matches) against the adapters `factory` makes, in a child mocha run. */
function runSuite(factory: () => SessionAdapter, options: AdapterTestOptions = {}, grep?: RegExp): Promise<ChildRunReport> {
  return runInChildMocha((fns) => runAdapterTests('adapter', factory, fns, { ...FAST, ...options }), grep);
}

/** Failed titles without the outer group's name, for readable assertions and messages. */
function failedChecks(report: ChildRunReport): string[] {
  return report.failed.map(({ title }) => title.replace(/^adapter /, ''));
}

/**
 * Expects the run to have failed exactly the checks in `expected` (full titles without the outer
 * group, each matched as a substring of one failure), and `message` in the first of them.
 */
function expectFailures(report: ChildRunReport, expected: string[], message?: RegExp): void {
  const failed = failedChecks(report);
  for (const title of expected) {
    expect(failed.some((f) => f.includes(title)), `expected the check "${title}" to fail; failed: ${JSON.stringify(failed, null, 1)}`).to.equal(true);
  }
  const unexpected = failed.filter((f) => !expected.some((title) => f.includes(title)));
  expect(unexpected, 'checks that failed though the defect is elsewhere').to.deep.equal([]);
  if (message) {
    const first = report.failed.find(({ title }) => title.includes(expected[0]!));
    expect(first?.message).to.match(message);
  }
}

describe('the suite against broken adapters (child mocha runs)', function () {
  after(() => {
    for (const interval of broken.leakedIntervals) clearInterval(interval);
  });

  it('passes the healthy MemoryAdapter through the same harness (control)', async () => {
    const report = await runSuite(() => new MemoryAdapter());
    expect(report.failed).to.deep.equal([]);
    expect(report.passed.length).to.be.greaterThan(70);
    expect(report.pending).to.deep.equal([]);
  });

  it('fails a take() that does not delete', async () => {
    const report = await runSuite(() => new broken.TakeWithoutDelete());
    expectFailures(report, [
      'take take() returns the value, then undefined',
      'take after take() the value is gone for load() and delete()',
      'take exactly one of 50 concurrent take() calls on one key gets the value',
      'take after 50 concurrent take() calls on one key, one or more got the value and it is gone',
      'TTL take() returns a value saved with a TTL before it expires, and removes it',
    ], /a second take\(\) returned "once": take\(\) must delete/);
  });

  it('fails a TTL that never expires', async () => {
    const report = await runSuite(() => new broken.TtlNeverExpires());
    expectFailures(report, [
      'TTL load() returns undefined once the TTL has passed',
      'TTL take() returns undefined once the TTL has passed',
      'TTL delete() returns false once the TTL has passed',
      'TTL a save with a TTL over a value without one sets the expiry',
    ], /load\(\) returned "expired" \d+ ms after a save with a TTL of 200 ms/);
  });

  it('fails a delete() that always returns true', async () => {
    const report = await runSuite(() => new broken.DeleteAlwaysTrue());
    expectFailures(report, [
      'missing keys delete() of a missing key returns false',
      'missing keys a key that',
      'take after take() the value is gone for load() and delete()',
      'TTL delete() returns false once the TTL has passed',
      'delete a second delete() of the same key returns false',
      'delete of 10 concurrent delete() calls on one key, exactly one returns true',
    ], /delete\(\) must return false, got true/);
  });

  it('fails an upsert that keeps the first value', async () => {
    const report = await runSuite(() => new broken.UpsertKeepsFirst());
    expectFailures(report, [
      'upsert a second save() replaces the value',
      'upsert a shorter value replaces a longer one entirely',
      'upsert the empty string replaces a value',
      'upsert after 20 saves the last one wins',
      'TTL a save without a TTL over a value with one removes the expiry',
      'TTL a save with a TTL over a value without one sets the expiry',
      'TTL a save with a longer TTL over a value with a short one extends it',
    ], /load\(\) after two saves returned a different string.*expected U\+0073 "s", got U\+0066 "f"/);
  });

  it('fails a save() that mangles NUL characters', async () => {
    const report = await runSuite(() => new broken.NulMangling());
    expectFailures(report, [
      'round trip round-trips NUL characters',
      'round trip round-trips only a NUL character',
      'round trip round-trips every Unicode scalar value',
    ], /load\(\) returned a different string: 36 code units .* instead of 41 .*first difference at index 0: expected U\+0000, got U\+0020 " "/);
  });

  it("fails a load() that returns null for a missing key, or treats '' as missing", async () => {
    expectFailures(await runSuite(() => new broken.NullForMissing()), [
      'missing keys load() of a missing key returns undefined',
      'missing keys a key that',
      'TTL load() returns undefined once the TTL has passed',
      'TTL a save with a TTL over a value without one sets the expiry',
      'TTL take() returns a value saved with a TTL before it expires, and removes it',
      'take after take() the value is gone for load() and delete()',
      'take after 50 concurrent take() calls on one key, one or more got the value and it is gone',
      'delete delete() of a stored value returns true, and the value is gone',
    ], /load\(\) must return undefined \(not null or ''\), got null/);
    expectFailures(await runSuite(() => new broken.EmptyIsMissing()), [
      'round trip round-trips the empty string',
      'upsert the empty string replaces a value',
    ], /load\(\) returned undefined instead of the saved string ""/);
  });

  it('fails keys that are case-folded or truncated to 255 characters', async () => {
    expectFailures(await runSuite(() => new broken.CaseFoldingKeys()), [
      'missing keys a key that differs in letter case is missing',
      'delete delete() removes only its key',
    ], /load\("session"\) found the value of "Session"/);
    expectFailures(await runSuite(() => new broken.TruncatedKeys()), [
      'round trip keeps keys apart that differ only in their last character',
    ], /load\(\) of the first long key returned a different string/);
  });

  it('fails a non-atomic take() that claims to be atomic, and skips that check when atomic is false', async () => {
    expectFailures(await runSuite(() => new broken.RacyTake()), [
      'take exactly one of 50 concurrent take() calls on one key gets the value',
    ], /^50 of 50 concurrent take\(\) calls got a value; exactly one must/);

    const honest = await runSuite(() => new broken.HonestRacyTake());
    expect(honest.failed).to.deep.equal([]);
    expect(honest.pending).to.deep.equal([
      'adapter take exactly one of 50 concurrent take() calls on one key gets the value (skipped: adapter.atomic is false)',
      'adapter delete of 10 concurrent delete() calls on one key, exactly one returns true (skipped: adapter.atomic is false)',
    ]);
  });

  it('fails a close() that leaves a timer running', async () => {
    const report = await runSuite(() => new broken.LeakyClose());
    expectFailures(report, [
      'close after close() resolves, no socket, timer or other handle of the adapter stays open',
    ], /the adapter still holds, 300 ms after close\(\) resolved: Timeout \+1/);
  });

  describe('with a TCP connection per adapter (to a server in this process)', () => {
    let server: Server;
    const sockets = new Set<Socket>();
    let port = 0;

    before(async () => {
      server = createServer((socket) => {
        sockets.add(socket.on('close', () => sockets.delete(socket)).on('end', () => socket.end()));
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      port = (server.address() as AddressInfo).port;
    });

    after(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    });

    it('passes a close() that ends its socket, though the socket closes after close() resolved', async () => {
      const report = await runSuite(() => new broken.SocketAdapter(port), {}, /^adapter close /);
      expect(report.failed).to.deep.equal([]);
      expect(report.passed).to.have.length(2);
    });

    it('fails a close() that leaves its socket open', async () => {
      const report = await runSuite(() => new broken.LeakySocketAdapter(port), {}, /^adapter close /);
      expectFailures(report, [
        'close after close() resolves, no socket, timer or other handle of the adapter stays open',
      ], /the adapter still holds, 300 ms after close\(\) resolved: TCPSocketWrap \+2 /);
    });
  });

  it('fails a close() that never resolves, naming the pending call', async () => {
    // Only the close group: every group's cleanup would otherwise wait for its close() in vain too.
    const report = await runSuite(() => new broken.CloseNeverResolves(), { timeoutMs: 300 }, /^adapter close /);
    expectFailures(report, [
      'close close() resolves',
      'close after close() resolves',
    ], /the check did not finish within 300 ms \(still pending: close\(\)\)/);
  });
});
