import { createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { expect } from 'chai';
import type { SessionAdapter } from '@reprise/core';
import { MemoryAdapter } from '@reprise/memory';
import { runAdapterTests } from '../src/index.js';
import type { AdapterTestOptions } from '../src/index.js';
import { NOT_ORDERED, NO_BATCH } from '../src/harness.js';
import * as broken from './support/broken-adapters.js';
import * as ordered from './support/broken-ordered-adapters.js';
import { BatchMapAdapter, OrderedMapAdapter } from './support/ordered-map-adapter.js';
import { runInChildMocha } from './support/child-mocha.js';
import type { ChildRunReport } from './support/child-mocha.js';

/** The title of the fast-check check of interleavings. */
const INTERLEAVINGS =
  'interleavings of versioned calls 25 random interleavings of concurrent versioned calls are linearizable (fast-check)';
/** The title of the fast-check check of random batches against the sequential model. */
const BATCH_MODEL = 'saveManyIfNewer 25 random batches over keys in random states resolve and store what saveIfNewer() would';
/** The title of the fast-check check of batches interleaved with single calls. */
const BATCH_INTERLEAVINGS = 'interleavings of batches and versioned calls 25 random interleavings';
/** Titles of the checks of batches, as they start. */
const BATCH = {
  results: 'saveManyIfNewer each entry resolves what saveIfNewer() would have, in the order given',
  independent: 'saveManyIfNewer an older entry is refused while the newer entries of the same batch are stored',
  floors: 'saveManyIfNewer floors left by takeVersioned() and fences are honoured entry by entry',
  unicode: 'saveManyIfNewer values of every kind of Unicode round-trip through one batch',
  many: 'saveManyIfNewer 1000 entries (the most the core sends) in one call',
  ttlEach: 'saveManyIfNewer: TTL each entry keeps its own ttlMs',
  ttlSets: 'saveManyIfNewer: TTL an entry without ttlMs removes the expiry of the value it replaces',
  ttlFloor: 'saveManyIfNewer: TTL the floor of a value written by a batch lives the rest of its TTL',
  badEntry: 'saveManyIfNewer: arguments rejects a bad entry at index 2',
  crossing: 'saveManyIfNewer under concurrency 50 concurrent batches writing the same 5 keys',
} as const;

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
 * group, each matched as a substring of one failure), and `message` in the first of them. Checks
 * in `maybe` may fail or pass: random interleavings meet some defects only in some runs.
 */
function expectFailures(report: ChildRunReport, expected: string[], message?: RegExp, maybe: string[] = []): void {
  const failed = failedChecks(report);
  for (const title of expected) {
    expect(
      failed.some((f) => f.includes(title)),
      `expected the check "${title}" to fail; failed: ${JSON.stringify(failed, null, 1)}`,
    ).to.equal(true);
  }
  const unexpected = failed.filter((f) => ![...expected, ...maybe].some((title) => f.includes(title)));
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

  it('passes the healthy MemoryAdapter and the ordered fixture with batches through the same harness (controls)', async () => {
    for (const factory of [() => new MemoryAdapter(), () => new BatchMapAdapter()]) {
      const report = await runSuite(factory);
      expect(report.failed).to.deep.equal([]);
      expect(report.passed.length).to.be.greaterThan(130);
      expect(report.pending).to.deep.equal([]);
    }
  });

  it('fails a take() that does not delete', async () => {
    const report = await runSuite(() => new broken.TakeWithoutDelete());
    expectFailures(
      report,
      [
        'take take() returns the value, then undefined',
        'take after take() the value is gone for load() and delete()',
        'take exactly one of 50 concurrent take() calls on one key gets the value',
        'take after 50 concurrent take() calls on one key, one or more got the value and it is gone',
        'TTL take() returns a value saved with a TTL before it expires, and removes it',
        'floors take() leaves a floor too',
      ],
      /a second take\(\) returned "once": take\(\) must delete/,
      [INTERLEAVINGS, BATCH_MODEL],
    );
  });

  it('fails a TTL that never expires', async () => {
    const report = await runSuite(() => new broken.TtlNeverExpires());
    expectFailures(
      report,
      [
        'TTL load() returns undefined once the TTL has passed',
        'TTL take() returns undefined once the TTL has passed',
        'TTL delete() returns false once the TTL has passed',
        'TTL a save with a TTL over a value without one sets the expiry',
      ],
      /load\(\) returned "expired" \d+ ms after a save with a TTL of 200 ms/,
    );
  });

  it('fails a delete() that always returns true', async () => {
    const report = await runSuite(() => new broken.DeleteAlwaysTrue());
    expectFailures(
      report,
      [
        'missing keys delete() of a missing key returns false',
        'missing keys a key that',
        'take after take() the value is gone for load() and delete()',
        'TTL delete() returns false once the TTL has passed',
        'delete a second delete() of the same key returns false',
        'delete of 10 concurrent delete() calls on one key, exactly one returns true',
        'save and delete of versioned keys delete() of a floor resolves false and removes it',
        "save and delete of versioned keys delete() of a fence's floor on a missing key resolves false and removes it",
      ],
      /delete\(\) must return false, got true/,
      [INTERLEAVINGS],
    );
  });

  it('fails an upsert that keeps the first value', async () => {
    const report = await runSuite(() => new broken.UpsertKeepsFirst());
    expectFailures(
      report,
      [
        'upsert a second save() replaces the value',
        'upsert a shorter value replaces a longer one entirely',
        'upsert the empty string replaces a value',
        'upsert after 20 saves the last one wins',
        'TTL a save without a TTL over a value with one removes the expiry',
        'TTL a save with a TTL over a value without one sets the expiry',
        'TTL a save with a longer TTL over a value with a short one extends it',
        'save and delete of versioned keys a plain save() over a versioned value resets the key to version 0',
      ],
      /load\(\) after two saves returned a different string.*expected U\+0073 "s", got U\+0066 "f"/,
      [INTERLEAVINGS, BATCH_MODEL],
    );
  });

  it('fails a save() that mangles NUL characters', async () => {
    const report = await runSuite(() => new broken.NulMangling());
    expectFailures(
      report,
      [
        'round trip round-trips NUL characters',
        'round trip round-trips only a NUL character',
        'round trip round-trips every Unicode scalar value',
      ],
      /load\(\) returned a different string: 36 code units .* instead of 41 .*first difference at index 0: expected U\+0000, got U\+0020 " "/,
    );
  });

  it("fails a load() that returns null for a missing key, or treats '' as missing", async () => {
    expectFailures(
      await runSuite(() => new broken.NullForMissing()),
      [
        'missing keys load() of a missing key returns undefined',
        'missing keys a key that',
        'TTL load() returns undefined once the TTL has passed',
        'TTL a save with a TTL over a value without one sets the expiry',
        'TTL take() returns a value saved with a TTL before it expires, and removes it',
        'take after take() the value is gone for load() and delete()',
        'take after 50 concurrent take() calls on one key, one or more got the value and it is gone',
        'delete delete() of a stored value returns true, and the value is gone',
        'floors takeVersioned() removes the value: load(), take() and a second takeVersioned() find nothing',
        'floors a floor is not a value: it survives a refused write, and load() keeps returning undefined',
        'fences a fence takes a value of a lower version, and returns it with its version',
        'TTL of versions and floors a value stored by saveIfNewer() with a TTL of 200 ms expires, then the key counts as version 0',
        'TTL of versions and floors a value a fence leaves (a newer one) keeps its own TTL',
        'versioned arguments saveIfNewer() rejects a version that is not a non-negative safe integer',
        'versioned arguments saveIfNewer() rejects a key or value that is not a string and an invalid ttlMs, storing nothing',
        // The batches of MemoryAdapter are right, but their results are read back with load().
        BATCH.results,
        BATCH.ttlEach,
        BATCH.ttlSets,
        BATCH.badEntry,
      ],
      /load\(\) must return undefined \(not null or ''\), got null/,
      [INTERLEAVINGS, BATCH_INTERLEAVINGS],
    );
    expectFailures(
      await runSuite(() => new broken.EmptyIsMissing()),
      ['round trip round-trips the empty string', 'upsert the empty string replaces a value', BATCH.unicode],
      /load\(\) returned undefined instead of the saved string ""/,
    );
  });

  it('fails keys that are case-folded or truncated to 255 characters', async () => {
    expectFailures(
      await runSuite(() => new broken.CaseFoldingKeys()),
      ['missing keys a key that differs in letter case is missing', 'delete delete() removes only its key'],
      /load\("session"\) found the value of "Session"/,
    );
    expectFailures(
      await runSuite(() => new broken.TruncatedKeys()),
      ['round trip keeps keys apart that differ only in their last character'],
      /load\(\) of the first long key returned a different string/,
    );
  });

  it('fails a non-atomic take() that claims to be atomic, and skips that check when atomic is false', async () => {
    expectFailures(
      await runSuite(() => new broken.RacyTake()),
      [
        'take exactly one of 50 concurrent take() calls on one key gets the value',
        // Its take() is load() then delete(): it leaves no floor either.
        'floors take() leaves a floor too',
      ],
      /^50 of 50 concurrent take\(\) calls got a value; exactly one must/,
      [INTERLEAVINGS, BATCH_MODEL],
    );

    // HonestRacyTake has no versioned methods: the checks of ordered writes are skipped too.
    const honest = await runSuite(() => new broken.HonestRacyTake());
    expect(honest.failed).to.deep.equal([]);
    expect(honest.pending.filter((title) => !title.endsWith(`(skipped: ${NOT_ORDERED})`))).to.deep.equal([
      'adapter take exactly one of 50 concurrent take() calls on one key gets the value (skipped: adapter.atomic is false)',
      'adapter delete of 10 concurrent delete() calls on one key, exactly one returns true (skipped: adapter.atomic is false)',
    ]);
  });

  describe('ordered writes: adapters that break one rule each', () => {
    it('skips every check of ordered writes on an unordered adapter, with the reason, and fails none', async () => {
      const report = await runSuite(() => ordered.unordered());
      expect(report.failed).to.deep.equal([]);
      expect(report.pending.length).to.be.greaterThan(40);
      for (const title of report.pending)
        expect(title).to.match(/\(skipped: the adapter is not ordered: it has no saveIfNewer\(\) and takeVersioned\(\)\)$/);
    });

    it('skips every check of batches on an ordered adapter without saveManyIfNewer(), with the reason, and fails none', async () => {
      const report = await runSuite(() => new OrderedMapAdapter());
      expect(report.failed).to.deep.equal([]);
      expect(report.pending).to.have.length(16);
      for (const title of report.pending) {
        expect(title).to.match(/^adapter (saveManyIfNewer|interleavings of batches)/);
        expect(title.endsWith(`(skipped: ${NO_BATCH})`), title).to.equal(true);
      }
    });

    it('fails half an ordered adapter (saveIfNewer without takeVersioned) in the interface check only', async () => {
      const report = await runSuite(() => ordered.halfOrdered());
      expectFailures(
        report,
        ['interface saveIfNewer and takeVersioned are both methods or both absent'],
        /saveIfNewer is a method but takeVersioned is absent/,
      );
    });

    it('fails a saveIfNewer() that ignores versions', async () => {
      const report = await runSuite(() => new ordered.IgnoresVersions());
      expectFailures(
        report,
        [
          'saveIfNewer a higher version replaces the value; the same or a lower one is refused and changes nothing',
          'saveIfNewer a value written by plain save() has version 0',
          'floors after takeVersioned(), a lower version is refused',
          'floors take() leaves a floor too',
          'floors a floor is not a value',
          'fences a fence leaves a value of a higher version where it is',
          'fences after a fence took a value',
          'fences a fence on a missing key leaves a floor',
          'fences a fence raises a lower floor',
          'TTL of versions and floors a floor lives the rest of the TTL',
          'TTL of versions and floors the floor of a value without a TTL does not expire',
          'TTL of versions and floors a fence with ttlMs 200 on a missing key',
          'TTL of versions and floors a fence that takes a value with a TTL of 1 hour',
          'TTL of versions and floors a fence that takes a value with a short TTL, fenced with ttlMs of 1 hour',
          'TTL of versions and floors a fence that takes a value with a short TTL, fenced without ttlMs',
          'TTL of versions and floors a fence that takes a value without a TTL',
          'version range Number.MAX_SAFE_INTEGER round-trips exactly',
          'version range versions compare as numbers',
          'versioned writes under concurrency 50 concurrent saveIfNewer() calls with shuffled versions',
          'versioned writes under concurrency 50 concurrent saveIfNewer() calls over a floor',
          'versioned writes under concurrency exactly one of 50 concurrent takeVersioned() calls',
          'versioned writes under concurrency exactly one of 50 concurrent fences',
        ],
        /saveIfNewer\(…, 5\) over a value of version 5 resolved true, expected false: the same version is not newer/,
        [INTERLEAVINGS],
      );
    });

    it('fails a take that leaves no floor', async () => {
      const report = await runSuite(() => new ordered.TakeLeavesNoFloor());
      expectFailures(
        report,
        [
          'floors after takeVersioned(), a lower version is refused',
          'floors take() leaves a floor too',
          'floors a floor is not a value',
          'fences a fence raises a lower floor and never lowers a higher one',
          'TTL of versions and floors a floor lives the rest of the TTL',
          'TTL of versions and floors the floor of a value without a TTL does not expire',
          'version range Number.MAX_SAFE_INTEGER round-trips exactly',
          'version range versions compare as numbers',
          'versioned writes under concurrency exactly one of 50 concurrent takeVersioned() calls',
        ],
        /saveIfNewer\(…, 4\) after taking version 5 resolved true, expected false: the take left a floor at version 5/,
        [INTERLEAVINGS],
      );
    });

    it('fails a fence that takes newer values', async () => {
      const report = await runSuite(() => new ordered.FenceTakesNewer());
      expectFailures(
        report,
        ['fences a fence leaves a value of a higher version where it is, with its version'],
        /takeVersioned\(key, \{ version: 5 \}\) of version 7 returned a value \("seven", version 7\), expected undefined/,
        [INTERLEAVINGS],
      );
    });

    it('fails versions compared as strings', async () => {
      const report = await runSuite(() => new ordered.StringVersions());
      expectFailures(
        report,
        [
          'version range versions compare as numbers',
          'versioned writes under concurrency 50 concurrent saveIfNewer() calls with shuffled versions',
          'versioned writes under concurrency 50 concurrent saveIfNewer() calls over a floor',
        ],
        /saveIfNewer\(…, 9\) over version 10 resolved true, expected false: 9 < 10/,
      );
    });

    it('fails a saveIfNewer() that reads, then writes a turn later (correct one call at a time)', async () => {
      const report = await runSuite(() => new ordered.RacySaveIfNewer());
      expectFailures(
        report,
        [
          'versioned writes under concurrency 50 concurrent saveIfNewer() calls with shuffled versions leave the highest version',
          'versioned writes under concurrency 50 concurrent saveIfNewer() calls over a floor',
          INTERLEAVINGS,
        ],
        /takeVersioned\(\) after 50 concurrent writes of versions 1\.\.50 \(its value\) returned a different string/,
      );
    });

    it('reports a non-linearizable interleaving with the history of the calls', async () => {
      const report = await runSuite(() => new ordered.RacySaveIfNewer(), {}, /interleavings/);
      expectFailures(
        report,
        [INTERLEAVINGS],
        /^(no order of these calls \(that respects real time\) explains their results|the value c\d\.\d was taken twice):\n[\s\S]*saveIfNewer\(c\d\.\d@\d\) → (true|false)[\s\S]*\(fast-check: failed at run \d+ of 25, seed -?\d+, path "[\d:]*"\)$/,
      );
    });
  });

  describe('batches (saveManyIfNewer): adapters that break one rule each (their single calls are right)', () => {
    it('fails a batch on an unordered adapter in the interface check only (the checks of batches skip: not ordered)', async () => {
      const report = await runSuite(() => ordered.batchWithoutOrdered());
      expectFailures(
        report,
        ['interface saveManyIfNewer is a method or absent, and a method only on an ordered adapter'],
        /saveManyIfNewer is a method but the adapter is not ordered/,
      );
    });

    it('fails a batch that ignores versions (a plain multi-row upsert)', async () => {
      const report = await runSuite(() => new ordered.BatchIgnoresVersions());
      expectFailures(
        report,
        [BATCH.results, BATCH.independent, BATCH.floors, BATCH.many, BATCH.crossing],
        /^saveManyIfNewer\(\) of 16 writes: 7 of 16 results are wrong: entry 1 resolved true, expected false: saveIfNewer\(\) over a value of version 5, version 4 resolves false/,
        [BATCH_MODEL, BATCH_INTERLEAVINGS],
      );
    });

    it('fails a batch whose results come back in another order than its entries', async () => {
      const report = await runSuite(() => new ordered.BatchResultsReversed());
      expectFailures(
        report,
        [BATCH.results, BATCH.many],
        /^saveManyIfNewer\(\) of 16 writes: 10 of 16 results are wrong: entry 1 resolved true, expected false/,
        [BATCH_MODEL, BATCH_INTERLEAVINGS],
      );
    });

    it('fails a batch that is a transaction (one refused entry fails them all)', async () => {
      const report = await runSuite(() => new ordered.BatchAllOrNothing());
      expectFailures(
        report,
        [BATCH.independent, BATCH.results, BATCH.floors, BATCH.many],
        /^saveManyIfNewer\(\) of a batch with one older entry: 2 of 3 results are wrong: entry 0 resolved false, expected true: a missing key has version 0/,
        [BATCH_MODEL, BATCH_INTERLEAVINGS],
      );
    });

    it('fails a batch that treats a floor as no key (writes land under takes and fences)', async () => {
      const report = await runSuite(() => new ordered.BatchIgnoresFloors());
      expectFailures(
        report,
        [BATCH.floors, BATCH.results],
        /^saveManyIfNewer\(\) over two floors and a put-back: 2 of 3 results are wrong: entry 0 resolved true, expected false: the take left a floor at 5/,
        [BATCH_MODEL, BATCH_INTERLEAVINGS],
      );
    });

    it("fails a batch that drops every entry's TTL", async () => {
      const report = await runSuite(() => new ordered.BatchIgnoresTtl());
      expectFailures(
        report,
        [BATCH.ttlEach, BATCH.ttlSets, BATCH.ttlFloor],
        /^load\(\) returned "short-lived" \d+ ms after a batch entry with a TTL of 200 ms/,
      );
    });

    it('fails a batch that checks each entry only when it comes to it (the entries before a bad one are stored)', async () => {
      const report = await runSuite(() => new ordered.BatchChecksAsItGoes());
      expectFailures(
        report,
        [BATCH.badEntry],
        /^load\(\) of a key of the batch with a version of -1 at index 2 returned "first": a rejected batch must store nothing/,
      );
    });

    it('fails a batch that lets a key in twice', async () => {
      const report = await runSuite(() => new ordered.BatchAllowsDuplicateKeys());
      expectFailures(
        report,
        [BATCH.badEntry],
        /^saveManyIfNewer\(\) with the key of entry 0 again \(a key twice in one batch\) at index 2 resolved an object; it must reject/,
      );
    });

    it('fails a batch that applies only its first 100 entries', async () => {
      const report = await runSuite(() => new ordered.BatchStopsAt100());
      expectFailures(
        report,
        [BATCH.many],
        /^the first saveManyIfNewer\(\) of 1000 writes: 900 of 1000 results are wrong: entry 100 resolved false, expected true/,
      );
    });

    it('fails a batch that reads, then writes a turn later (correct one call at a time)', async () => {
      const report = await runSuite(() => new ordered.RacyBatch());
      expectFailures(
        report,
        [BATCH.crossing],
        /^takeVersioned\(\) of key \d after 50 concurrent batches \(its value\) returned a different string/,
        [BATCH_INTERLEAVINGS],
      );
    });

    it('reports a non-linearizable interleaving of batches with the history of the key', async () => {
      const report = await runSuite(() => new ordered.RacyBatch(), {}, /interleavings of batches/);
      expectFailures(
        report,
        [BATCH_INTERLEAVINGS],
        /^(key \d: no order of these calls \(that respects real time\) explains their results|the value c\d\.\d\.k\d was taken twice):\n[\s\S]*batch c\d\.\d: saveIfNewer\(c\d\.\d\.k\d@\d\) → (true|false)[\s\S]*\(fast-check: failed at run \d+ of 25, seed -?\d+, path "[\d:]*"\)$/,
      );
    });
  });

  it('fails a close() that leaves a timer running', async () => {
    const report = await runSuite(() => new broken.LeakyClose());
    expectFailures(
      report,
      ['close after close() resolves, no socket, timer or other handle of the adapter stays open'],
      /the adapter still holds, 300 ms after close\(\) resolved: Timeout \+1/,
    );
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
      expectFailures(
        report,
        ['close after close() resolves, no socket, timer or other handle of the adapter stays open'],
        /the adapter still holds, 300 ms after close\(\) resolved: TCPSocketWrap \+2 /,
      );
    });
  });

  it('fails a close() that never resolves, naming the pending call', async () => {
    // Only the close group: every group's cleanup would otherwise wait for its close() in vain too.
    const report = await runSuite(() => new broken.CloseNeverResolves(), { timeoutMs: 300 }, /^adapter close /);
    expectFailures(
      report,
      ['close close() resolves', 'close after close() resolves'],
      /the check did not finish within 300 ms \(still pending: close\(\)\)/,
    );
  });
});
