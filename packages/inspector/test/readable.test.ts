import { expect } from 'chai';
import { decodeRecord, encodeSnapshot } from '@reprise/core/adapter-kit';
import { readable } from '../src/readable.js';

/** `data` through the real codec and back, as the inspector sees it. */
function roundTrip(data: Record<string, unknown>): Record<string, unknown> {
  const { text } = encodeSnapshot({ version: 1, key: 'k', sessionId: 'k', data, createdAt: 0, closedAt: 0, reason: 'closed' }, Infinity);
  const record = decodeRecord(text);
  if (record.kind !== 'snapshot') throw new Error('not a snapshot');
  return record.snapshot.data;
}

describe('readable: session data as JSON', () => {
  it('keeps JSON values and tags the others, after a trip through the codec', () => {
    const data = roundTrip({
      s: 'x',
      n: 1.5,
      t: true,
      z: null,
      u: undefined,
      specials: [Number.NaN, Infinity, -Infinity, -0],
      re: /a+b/gi,
      bad: new Date(Number.NaN),
      floats: new Float64Array([1.5, -2]),
      bigs: new BigInt64Array([1n, -2n]),
      clamped: new Uint8ClampedArray([7, 255]),
      buffer: new Uint8Array([222, 173]).buffer,
      bare: Object.assign(Object.create(null), { a: 1 }),
    });
    expect(readable(data)).to.deep.equal({
      s: 'x',
      n: 1.5,
      t: true,
      z: null,
      u: { $undefined: true },
      specials: [{ $number: 'NaN' }, { $number: 'Infinity' }, { $number: '-Infinity' }, { $number: '-0' }],
      re: { $regexp: '/a+b/gi' },
      bad: { $date: 'Invalid Date' },
      floats: { $Float64Array: [1.5, -2] },
      bigs: { $BigInt64Array: ['1', '-2'] },
      clamped: { $Uint8ClampedArray: '07ff' },
      buffer: { $ArrayBuffer: 'dead' },
      bare: { a: 1 },
    });
  });

  it('writes a cycle or a shared object once, then as a $ref to its first place', () => {
    const data: Record<string, unknown> = { list: [] as unknown[] };
    (data.list as unknown[]).push(data, new Map([['k', data.list]]));
    expect(readable(roundTrip(data))).to.deep.equal({ list: [{ $ref: 'data' }, { $map: [['k', { $ref: 'data.list' }]] }] });
  });

  it('a sparse array costs its elements, not its length; holes of a dense one are $undefined', () => {
    const sparse: unknown[] = [];
    sparse[4_000_000_000] = 'far';
    sparse[2] = 'near';
    const holey = [1, 2, 3];
    delete holey[1];
    expect(readable(roundTrip({ sparse, holey }))).to.deep.equal({
      sparse: { $sparse: { length: 4_000_000_001, items: { 2: 'near', 4000000000: 'far' } } },
      holey: [1, { $undefined: true }, 3],
    });
  });

  it('an object with a key starting with $ is wrapped, so it never reads as a tag', () => {
    expect(readable({ a: { $bigint: '1' } })).to.deep.equal({ a: { $object: { $bigint: '1' } } });
  });
});
