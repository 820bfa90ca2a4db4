import { SessionManager } from '@reprise/core';
import { decodeRecord } from '@reprise/core/adapter-kit';
import type { SessionAdapter } from '@reprise/core';
import { waitUntil } from './services.js';

/** Session data with every type the codec keeps that JSON has not. */
export function richData(): Record<string, unknown> {
  const shared = { n: 1 };
  return {
    user: 'ada',
    visits: 3,
    when: new Date('2026-01-02T03:04:05.678Z'),
    prefs: new Map<unknown, unknown>([
      ['theme', 'dark'],
      [1, new Date(0)],
    ]),
    tags: new Set(['a', 'b']),
    big: 12345678901234567890n,
    bytes: new Uint8Array([0, 1, 255]),
    nested: { list: [1, undefined, Number.NaN], $weird: true },
    first: shared,
    again: shared,
  };
}

/** {@link richData} as `show --json` prints it. */
export const RICH_DATA_READABLE = {
  user: 'ada',
  visits: 3,
  when: '2026-01-02T03:04:05.678Z',
  prefs: {
    $map: [
      ['theme', 'dark'],
      [1, '1970-01-01T00:00:00.000Z'],
    ],
  },
  tags: { $set: ['a', 'b'] },
  big: { $bigint: '12345678901234567890' },
  bytes: { $Uint8Array: '0001ff' },
  nested: { $object: { list: [1, { $undefined: true }, { $number: 'NaN' }], $weird: true } },
  first: { n: 1 },
  again: { $ref: 'data.first' },
};

/** The sessions of {@link writeScenario}, by what they left in the store. */
export interface Scenario {
  readonly manager: SessionManager;
  /** Closed as `evicted`: a snapshot under its id. */
  readonly evicted: string;
  /** persistKey `user:42`, closed as `expired`: a snapshot under `user:42`, a pointer under its id. */
  readonly pointed: string;
  /** Live: a checkpoint under its id. */
  readonly live: string;
  /** Checkpointed, then closed explicitly: an erased mark under its id. */
  readonly erased: string;
}

/** The reason of the record under `key`, or `undefined`. */
async function recordAt(adapter: SessionAdapter, key: string): Promise<string | undefined> {
  const text = await adapter.load(key);
  if (text === undefined) return undefined;
  const record = decodeRecord(text);
  return record.kind === 'snapshot' ? record.snapshot.reason : `pointer:${record.pointer.key === key ? 'self' : record.pointer.key}`;
}

/**
 * Writes through a real `SessionManager` (checkpoints every 20 ms) what a running application
 * leaves in a store: a snapshot, a snapshot under a persistKey with its pointer, a checkpoint of a
 * live session, and the erased mark of an explicit close. The manager stays running (the live
 * session must stay live); shut it down in an after hook.
 */
export async function writeScenario(adapter: SessionAdapter): Promise<Scenario> {
  const manager = new SessionManager({ adapter, checkpointInterval: 20 });
  const evicted = manager.create(richData());
  await manager.close(evicted.id, 'evicted');

  const pointed = manager.create({ cart: ['book'] });
  pointed.persistKey = 'user:42';
  await manager.close(pointed.id, 'expired');

  const live = manager.create({ cart: ['pen'] });
  await waitUntil('the checkpoint of the live session', async () => (await recordAt(adapter, live.id)) === 'checkpoint');

  const erased = manager.create({ draft: 'x' });
  await waitUntil('the checkpoint of the session to erase', async () => (await recordAt(adapter, erased.id)) === 'checkpoint');
  await manager.close(erased.id, 'closed');

  const expected: Array<[string, string]> = [
    [evicted.id, 'evicted'],
    ['user:42', 'expired'],
    [pointed.id, 'pointer:user:42'],
    [erased.id, 'pointer:self'],
  ];
  for (const [key, what] of expected) {
    await waitUntil(`${what} under ${key}`, async () => (await recordAt(adapter, key)) === what);
  }
  return { manager, evicted: evicted.id, pointed: pointed.id, live: live.id, erased: erased.id };
}
