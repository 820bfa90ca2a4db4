import assert from 'node:assert/strict';
import { expect } from 'chai';
import { decodeRecord } from '../src/codec.js';
import { CodecError } from '../src/errors.js';
import type { Snapshot } from '../src/types.js';

/**
 * Records in format 1 (`R1:`, devalue), written by the encoder of Reprise 0.1 before format 2 and
 * frozen here: stores still hold them after an upgrade (and during a rolling deploy), so they must
 * decode to what was written.
 */
const R1 = {
  every:
    'R1:[{"v":1,"t":2,"key":3,"id":4,"c":5,"x":6,"r":7,"d":8},1,"s","user:42","AAAAAAAAAAAAAAAAAAAAAAAA",1000,2000,"expired",{"s":9,"n":10,"negZero":-6,"nan":-3,"inf":-4,"negInf":-5,"t":11,"nil":12,"u":-1,"big":13,"date":14,"badDate":15,"map":16,"set":20,"re":22,"holes":23,"nullProto":25,"bytes":26,"f64":28,"ab":30,"i16":31,"b64":33,"tagLike":35,"$type":38},"Zoë 😀 \\u2028 \\"q\\"",12.5,true,null,["BigInt","-123456789012345678901234567890"],["Date","2024-02-29T12:34:56.789Z"],["Date",""],["Map",17,1,18,19],"a",2,"two",["Set",1,21],"x",["RegExp","a+b","gi"],[1,-2,24],3,["null","x",1],["Uint8Array",27],["ArrayBuffer","AAH+/w=="],["Float64Array",29],["ArrayBuffer","AAAAAAAAAIAYLURU+yEJQA=="],["ArrayBuffer","CQgH"],["Int16Array",32],["ArrayBuffer","//8sAQ=="],["BigInt64Array",34],["ArrayBuffer","AAAAAAAAAIA="],[36,37],"Date","2020","Map"]',
  shared:
    'R1:[{"v":1,"t":2,"key":3,"id":4,"c":5,"x":6,"r":7,"d":8},1,"s","user:42","AAAAAAAAAAAAAAAAAAAAAAAA",1000,2000,"expired",{"a":9,"b":9,"self":10,"list":12},{"n":1},{"name":11,"self":10},"self",[9]]',
  cart: 'R1:[{"v":1,"t":2,"key":3,"id":4,"c":5,"x":6,"r":7,"d":8},1,"s","user:42","AAAAAAAAAAAAAAAAAAAAAAAA",1000,2000,"expired",{"cart":9,"total":17},[10],{"sku":11,"qty":12,"addedAt":13,"options":14},"a",2,["Date","1970-01-01T00:00:00.005Z"],["Map",15,16],"size","M",3]',
  pointer: 'R1:[{"v":1,"t":2,"key":3,"id":4,"r":5,"x":6},1,"p","user:42","AAAAAAAAAAAAAAAAAAAAAAAA","evicted",1700000000000]',
};

function snapshotOf(text: string): Snapshot {
  const record = decodeRecord(text);
  if (record.kind !== 'snapshot') throw new Error(`expected a snapshot, got a ${record.kind}`);
  return record.snapshot;
}

describe('codec: format 1 (R1, devalue) records still decode', () => {
  it('reads the envelope of a format-1 snapshot', () => {
    const snapshot = snapshotOf(R1.cart);
    expect({ ...snapshot, data: undefined }).to.deep.equal({
      version: 1,
      key: 'user:42',
      sessionId: 'AAAAAAAAAAAAAAAAAAAAAAAA',
      data: undefined,
      createdAt: 1000,
      closedAt: 2000,
      reason: 'expired',
    });
  });

  it('reads a format-1 cart: Dates and Maps', () => {
    expect(snapshotOf(R1.cart).data).to.deep.equal({
      cart: [{ sku: 'a', qty: 2, addedAt: new Date(5), options: new Map([['size', 'M']]) }],
      total: 3,
    });
  });

  it('reads every type format 1 wrote', () => {
    const nullProto: Record<string, unknown> = Object.create(null);
    nullProto['x'] = 1;
    const holes: number[] = [1];
    holes[2] = 3;
    const expected = {
      s: 'Zoë 😀 \u2028 "q"',
      n: 12.5,
      negZero: -0,
      nan: Number.NaN,
      inf: Infinity,
      negInf: -Infinity,
      t: true,
      nil: null,
      u: undefined,
      big: -123456789012345678901234567890n,
      date: new Date(Date.UTC(2024, 1, 29, 12, 34, 56, 789)),
      map: new Map<unknown, unknown>([
        ['a', 1],
        [2, 'two'],
      ]),
      set: new Set<unknown>([1, 'x']),
      re: /a+b/gi,
      holes,
      nullProto,
      bytes: new Uint8Array([0, 1, 254, 255]),
      f64: new Float64Array([-0, Math.PI]),
      ab: new Uint8Array([9, 8, 7]).buffer,
      i16: new Int16Array([-1, 300]),
      b64: new BigInt64Array([-(2n ** 63n)]),
      tagLike: ['Date', '2020'],
      $type: 'Map',
    };
    const { badDate, ...data } = snapshotOf(R1.every).data;
    // (an invalid Date apart: node's deep equality finds two of them different, NaN !== NaN)
    expect(badDate).to.be.instanceOf(Date);
    expect(Number.isNaN((badDate as Date).getTime())).to.equal(true);
    assert.deepStrictEqual(data, expected);
    expect(Object.is(data['negZero'], -0)).to.equal(true);
    expect(Object.hasOwn(data['holes'] as unknown[], 1)).to.equal(false);
    expect(Object.getPrototypeOf(data['nullProto'])).to.equal(null);
  });

  it('keeps shared references and cycles of a format-1 record', () => {
    const data = snapshotOf(R1.shared).data as { a: object; b: object; self: { self: unknown }; list: unknown[] };
    expect(data.a).to.equal(data.b);
    expect(data.list[0]).to.equal(data.a);
    expect(data.self.self).to.equal(data.self);
  });

  it('reads a format-1 pointer', () => {
    expect(decodeRecord(R1.pointer)).to.deep.equal({
      kind: 'pointer',
      pointer: { version: 1, key: 'user:42', sessionId: 'AAAAAAAAAAAAAAAAAAAAAAAA', reason: 'evicted', closedAt: 1_700_000_000_000 },
    });
  });

  it('still refuses a format-1 record carrying a reserved key', () => {
    const tampered = R1.cart.replace('"sku"', '"constructor"');
    expect(tampered).to.not.equal(R1.cart);
    const error = (() => {
      try {
        decodeRecord(tampered);
      } catch (caught) {
        return caught;
      }
      throw new Error('expected a throw');
    })();
    expect(error).to.be.instanceOf(CodecError);
    expect((error as CodecError).code).to.equal('ERR_REPRISE_SNAPSHOT_CORRUPT');
    expect((error as CodecError).path).to.equal('data.cart[0].constructor');
  });
});
