import { expect } from 'chai';
import { expectRejection } from '@reprise/adapter-tests/internal';
import { batchError } from '../src/failures.js';
import { runScriptPipeline } from '../src/script-pipeline.js';
import type { ScriptClient } from '../src/script-runner.js';
import { SAVE_IF_NEWER } from '../src/scripts.js';

type Sent = { command: 'EVALSHA' | 'EVAL'; key: string };

/** A client whose script cache starts empty (NOSCRIPT until an EVAL), recording what it was sent. */
function fakeClient(sent: Sent[], flushedAfterEval = 0): ScriptClient {
  let cached = false;
  let evals = 0;
  return {
    async evalSha(_sha1, { keys }) {
      sent.push({ command: 'EVALSHA', key: keys[0]! });
      if (!cached) throw new Error('NOSCRIPT No matching script. Please use EVAL.');
      return 1;
    },
    async eval(_source, { keys }) {
      sent.push({ command: 'EVAL', key: keys[0]! });
      cached = ++evals > flushedAfterEval;
      return 1;
    },
  };
}

const calls = ['a', 'b', 'c'].map((key) => ({ keys: [key], args: ['v', '1', ''] }));

describe('RedisAdapter: the script pipeline of a batch', () => {
  it('sends every entry as EVALSHA; on NOSCRIPT sends them again behind one EVAL', async () => {
    const sent: Sent[] = [];
    const outcomes = await runScriptPipeline(fakeClient(sent), SAVE_IF_NEWER, calls, new AbortController().signal);
    expect(outcomes.map((o) => o.status)).to.deep.equal(['fulfilled', 'fulfilled', 'fulfilled']);
    expect(sent).to.deep.equal([
      { command: 'EVALSHA', key: 'a' },
      { command: 'EVALSHA', key: 'b' },
      { command: 'EVALSHA', key: 'c' },
      { command: 'EVAL', key: 'a' },
      { command: 'EVALSHA', key: 'b' },
      { command: 'EVALSHA', key: 'c' },
    ]);
  });

  it('repeats while NOSCRIPT comes back (a flush between the rounds), each round settling its EVAL', async () => {
    const sent: Sent[] = [];
    const outcomes = await runScriptPipeline(fakeClient(sent, 1), SAVE_IF_NEWER, calls, new AbortController().signal);
    expect(outcomes.every((o) => o.status === 'fulfilled')).to.equal(true);
    expect(sent.filter((s) => s.command === 'EVAL').map((s) => s.key)).to.deep.equal(['a', 'b']);
  });

  it('sends no retry once the deadline has passed', async () => {
    const sent: Sent[] = [];
    const controller = new AbortController();
    controller.abort();
    await expectRejection(
      runScriptPipeline(fakeClient(sent), SAVE_IF_NEWER, calls, controller.signal),
      'ERR_REPRISE_ADAPTER',
      /saveIfNewer abandoned after its deadline/,
    );
    expect(sent.map((s) => s.command)).to.deep.equal(['EVALSHA', 'EVALSHA', 'EVALSHA']);
  });

  it('classifies a failed batch: unsent only when no command of it was sent', () => {
    const offline = new Error('The client is offline');
    expect(batchError('saveManyIfNewer', [offline, offline], true)).to.include({ transient: true, unsent: true });
    const partly = batchError('saveManyIfNewer', [offline], false);
    expect(partly).to.include({ transient: true, unsent: false });
    expect(partly.message).to.match(/other entries of the batch reached Redis/);
    const lost = batchError('saveManyIfNewer', [offline, new Error('Socket closed unexpectedly')], true);
    expect(lost).to.include({ transient: true, unsent: false });
    expect(lost.message).to.equal('RedisAdapter: saveManyIfNewer failed: Socket closed unexpectedly');
    expect(batchError('saveManyIfNewer', [new Error('NOPERM no scripts')], true)).to.include({ transient: false, unsent: false });
  });
});
