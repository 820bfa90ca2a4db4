import { expect } from 'chai';
import { TurnGate } from '../src/turn-gate.js';
import { WriteMerger } from '../src/write-merger.js';

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('RedisAdapter: small batches merged over a few turns of the event loop', () => {
  it('TurnGate: callers of one opening resume together, the given number of turns after the first; a later caller waits for the next opening', async () => {
    const gate = new TurnGate(3);
    const resumed: string[] = [];
    const first = gate.wait().then(() => resumed.push('first'));
    await nextTurn();
    const second = gate.wait().then(() => resumed.push('second'));
    await nextTurn();
    expect(resumed, 'two turns after the first caller: still closed').to.deep.equal([]);
    await nextTurn();
    await Promise.all([first, second]);
    expect(resumed, 'opened on the third turn, for both').to.deep.equal(['first', 'second']);
    const later = gate.wait().then(() => resumed.push('later'));
    await nextTurn();
    expect(resumed).to.have.length(2);
    await nextTurn();
    await nextTurn();
    await later;
    expect(resumed).to.deep.equal(['first', 'second', 'later']);
  });

  it('batches issued over the turns of one opening go out as one call, each getting the replies of its own entries, in order', async () => {
    const sent: string[][] = [];
    const tracked: Promise<unknown>[] = [];
    const merger = new WriteMerger<string>(
      new TurnGate(4),
      async (entries) => {
        sent.push(entries);
        return entries.map((entry) => (entry.startsWith('refused') ? 0 : 1));
      },
      (work) => tracked.push(work),
    );
    const a = merger.write(['a1', 'refused-a2']);
    await nextTurn();
    const b = merger.write(['b1']);
    await nextTurn();
    const c = merger.write(['refused-c1', 'c2', 'c3']);
    expect(await Promise.all([a, b, c])).to.deep.equal([[1, 0], [1], [0, 1, 1]]);
    expect(sent).to.deep.equal([['a1', 'refused-a2', 'b1', 'refused-c1', 'c2', 'c3']]);
    expect(tracked, 'the merged call was registered in flight once, when the first batch began to wait').to.have.length(1);
    const d = merger.write(['d1']);
    expect(await d).to.deep.equal([1]);
    expect(sent, 'a batch after the opening goes in the next merged call').to.have.length(2);
  });

  it("a failed merged call fails every batch in it, with the call's error", async () => {
    const error = new Error('Socket closed unexpectedly');
    const merger = new WriteMerger<string>(
      new TurnGate(2),
      async () => Promise.reject(error),
      () => {},
    );
    const outcomes = await Promise.allSettled([merger.write(['a']), merger.write(['b', 'c'])]);
    expect(outcomes.map((o) => (o.status === 'rejected' ? o.reason : o.value))).to.deep.equal([error, error]);
  });
});
