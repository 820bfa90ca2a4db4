import { expect } from 'chai';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { CHECKPOINT_SLICE_MS, Checkpointer, MAX_CHECKPOINTS_IN_FLIGHT } from '../src/checkpointer.js';
import type { LiveSession } from '../src/live-session.js';
import type { Snapshot } from '../src/types.js';
import { deferred } from './support/deferred.js';

/** What a pass looks at of a session. */
type FakeSession = { id: number; state: 'live' | 'closing'; busy: boolean };

const fakeSessions = (n: number): FakeSession[] => Array.from({ length: n }, (_, id) => ({ id, state: 'live', busy: false }));
const asLive = (session: FakeSession) => session as unknown as LiveSession;

/** Spins for `ms` of wall time: an encoding that costs CPU. */
function spin(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

describe('Checkpointer: a pass in slices', () => {
  it(`encodes in slices of about ${CHECKPOINT_SLICE_MS} ms and gives the event loop back between them`, async () => {
    // Another task on the loop: it counts the turns it gets while the pass runs.
    let turn = 0;
    let running = true;
    const ticker = (async () => {
      while (running) {
        await nextTurn();
        turn += 1;
      }
    })();
    const turnsSeen = new Set<number>();
    const checkpointer = new Checkpointer({
      interval: () => 1_000,
      encode: (session) => {
        spin(0.1);
        turnsSeen.add(turn);
        return { snapshot: {} as Snapshot, text: `text of ${(session as unknown as FakeSession).id}` };
      },
      write: async () => {},
    });
    for (const session of fakeSessions(1_000)) checkpointer.mark(asLive(session));
    const started = performance.now();
    await checkpointer.runPass();
    const elapsed = performance.now() - started;
    running = false;
    await ticker;
    await checkpointer.stop();
    // 1,000 encodings of 0.1 ms: at least 100 ms of encoding, so at least about 100 / 4 slices.
    expect(elapsed).to.be.at.least(100);
    expect(turnsSeen.size, 'the other task ran between slices').to.be.at.least(Math.floor(100 / CHECKPOINT_SLICE_MS / 2));
  });

  it(`has at most ${MAX_CHECKPOINTS_IN_FLIGHT} writes unanswered, and goes on as they are answered`, async () => {
    const answers: (() => void)[] = [];
    let issued = 0;
    const checkpointer = new Checkpointer({
      interval: () => 1_000,
      encode: (session) => {
        spin(0.002); // enough that the pass reaches its slice boundaries
        return { snapshot: {} as Snapshot, text: String((session as unknown as FakeSession).id) };
      },
      write: () => {
        const answer = deferred<void>();
        answers.push(() => answer.resolve());
        issued += 1;
        return answer.promise;
      },
    });
    const n = MAX_CHECKPOINTS_IN_FLIGHT * 3;
    for (const session of fakeSessions(n)) checkpointer.mark(asLive(session));
    const pass = checkpointer.runPass();
    let done = false;
    void pass.then(() => (done = true));
    const stalls: number[] = [];
    while (!done) {
      // Let the pass run until it issues nothing more for a few turns: it waits for answers, or is done.
      for (let still = 0, last = -1; still < 5; still++) {
        if (issued !== last) still = 0;
        last = issued;
        await nextTurn();
      }
      if (!done && issued < n) stalls.push(answers.length);
      for (const answer of answers.splice(0)) answer();
      await nextTurn();
    }
    await pass;
    expect(issued).to.equal(n);
    expect(stalls.length, 'the pass stopped for answers').to.be.at.least(2);
    // It checks the bound between slices, so it may pass it by one slice's writes (a few hundred here).
    for (const unanswered of stalls) expect(unanswered).to.be.within(MAX_CHECKPOINTS_IN_FLIGHT, MAX_CHECKPOINTS_IN_FLIGHT + 2_000);
  });

  it('skips busy and closing sessions, and an unchanged text', async () => {
    const written: string[] = [];
    const texts = new Map<number, string>();
    const checkpointer = new Checkpointer({
      interval: () => 1_000,
      encode: (session) => ({ snapshot: {} as Snapshot, text: texts.get((session as unknown as FakeSession).id) ?? 'same' }),
      write: async (_, text) => void written.push(text),
    });
    const [idle, busy, closing] = fakeSessions(3) as [FakeSession, FakeSession, FakeSession];
    busy.busy = true;
    closing.state = 'closing';
    texts.set(idle.id, 'v1');
    for (const session of [idle, busy, closing]) checkpointer.mark(asLive(session));
    await checkpointer.runPass();
    checkpointer.mark(asLive(idle));
    await checkpointer.runPass();
    texts.set(idle.id, 'v2');
    checkpointer.mark(asLive(idle));
    await checkpointer.runPass();
    await checkpointer.stop();
    expect(written).to.deep.equal(['v1', 'v2']);
  });
});
