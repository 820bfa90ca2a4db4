import assert from 'node:assert/strict';
import { expect } from 'chai';
import fc from 'fast-check';
import { MAX_DATA_DEPTH, checkpointText, decodeRecord, encodeSnapshot } from '../src/codec.js';
import { CodecError } from '../src/errors.js';
import type { SessionData, Snapshot } from '../src/types.js';

const ENVELOPE = '{"v":1,"t":"s","key":"k","id":"AAAAAAAAAAAAAAAAAAAAAAAA","c":1,"x":2,"r":"expired"';

/** A format-2 record whose data is the JSON text `data`. */
function record(data: string): string {
  return `R2:${ENVELOPE},"d":${data}}`;
}

function snapshot(data: SessionData): Snapshot {
  return { version: 1, key: 'k', sessionId: 'AAAAAAAAAAAAAAAAAAAAAAAA', data, createdAt: 1, closedAt: 2, reason: 'expired' };
}

function encode(data: SessionData): string {
  const { text, dropped } = encodeSnapshot(snapshot(data), Number.POSITIVE_INFINITY);
  expect(dropped).to.deep.equal([]);
  return text;
}

function decode(text: string): Record<string, unknown> {
  const decoded = decodeRecord(text);
  if (decoded.kind !== 'snapshot') throw new Error(`expected a snapshot, got a ${decoded.kind}`);
  return decoded.snapshot.data;
}

function refused(text: string): CodecError {
  try {
    decodeRecord(text);
  } catch (error) {
    expect(error).to.be.instanceOf(CodecError);
    expect((error as CodecError).code).to.equal('ERR_REPRISE_SNAPSHOT_CORRUPT');
    return error as CodecError;
  }
  throw new Error(`expected ${text.slice(0, 80)} to be refused`);
}

/** Decodes, or throws a CodecError; anything else fails the property. */
function decodesOrRefuses(text: string): void {
  try {
    decodeRecord(text);
  } catch (error) {
    if (!(error instanceof CodecError)) throw error;
  }
}

describe('codec: format 2 (R2)', () => {
  describe('the text', () => {
    it('is JSON after the marker, with tags for what JSON has not', () => {
      const text = encode({ a: 1, s: 'x', at: new Date(5), m: new Map<string, unknown>([['k', 1]]), u: undefined, n: -0 });
      expect(text).to.equal(`R2:${ENVELOPE},"d":{"a":1,"s":"x","at":"~D5","m":["~M","k",1],"u":"~u","n":"~n-0"}}`);
      expect(JSON.parse(text.slice(3)).d.at).to.equal('~D5');
    });

    it('writes every tag as documented', () => {
      const nullProto: Record<string, unknown> = Object.create(null);
      nullProto['x'] = 1;
      const holes: number[] = [];
      holes[3] = 7;
      const shared = { id: 1 };
      const text = encode({
        nan: Number.NaN,
        inf: -Infinity,
        big: -31n,
        bad: new Date(Number.NaN),
        set: new Set([1]),
        re: /a.b/gi,
        holes,
        nullProto,
        bytes: new Uint8Array([1, 2, 3]),
        ab: new Uint8Array([255]).buffer,
        one: shared,
        two: shared,
        tilde: '~x',
      });
      expect(JSON.parse(text.slice(3)).d).to.deep.equal({
        nan: '~nNaN',
        inf: '~n-Infinity',
        big: '~b-1f',
        bad: '~D',
        set: ['~S', 1],
        re: ['~R', 'a.b', 'gi'],
        holes: ['~H', 4, 3, 7],
        nullProto: ['~N', { x: 1 }],
        bytes: '~BUint8Array:AQID',
        ab: '~BArrayBuffer:/w==',
        one: { id: 1 },
        two: '~r8', // data is object 0, then bad, set, re, holes, nullProto, bytes, ab, one
        tilde: '~~x',
      });
    });

    it('keeps strings and arrays that look like tags', () => {
      const data = {
        strings: ['~', '~~', '~u', '~D', '~D5', '~M', '~r0', '~b1', '~n-0', '~BUint8Array:AA==', '~~~', 'a~'],
        arrays: [['~M', 1, 2], ['~N', {}], ['~H', 1], ['~S'], ['~R', 'a', 'g'], ['~u'], ['~D'], []],
        objects: [{ $D: 1 }, { '~M': [1] }, { $r: 0 }],
        keys: { '~': 1, '~~': 2, '~D5': 3 },
        map: new Map<unknown, unknown>([
          ['~M', '~S'],
          [['~M'], '~u'],
        ]),
      };
      assert.deepStrictEqual(decode(encode(data)), data);
    });

    it('writes the whole envelope of a snapshot and a pointer as JSON', () => {
      const text = encode({});
      expect(JSON.parse(text.slice(3))).to.deep.equal({
        v: 1,
        t: 's',
        key: 'k',
        id: 'AAAAAAAAAAAAAAAAAAAAAAAA',
        c: 1,
        x: 2,
        r: 'expired',
        d: {},
      });
    });

    it('writes big and negative times and integers exactly', () => {
      const values = [
        2 ** 30,
        -(2 ** 30),
        1_768_469_400_000,
        -1_768_469_400_000,
        100_000_000,
        2 ** 53 - 1,
        -(2 ** 53 - 1),
        2 ** 53,
        1e21,
        5e-324,
      ];
      const dates = [new Date(8.64e15), new Date(-8.64e15), new Date(-1), new Date(0)];
      const out = decode(encode({ values, dates }));
      assert.deepStrictEqual(out, { values, dates });
      expect(JSON.parse(encode({ values }).slice(3)).d.values).to.deep.equal(values);
    });
  });

  describe('crafted records', () => {
    it('refuses reserved keys anywhere, naming the path', () => {
      expect(refused(record('{"a":[{"constructor":1}]}')).path).to.equal('data.a[0].constructor');
      expect(refused(record('{"m":["~M","k",{"prototype":1}]}')).path).to.equal('data.m<Map value #0>.prototype');
      expect(refused(record('{"m":["~M",{"__proto__":1},1]}')).path).to.equal('data.m<Map key #0>.__proto__');
      expect(refused(record('{"s":["~S",1,{"constructor":1}]}')).path).to.equal('data.s<Set member #1>.constructor');
      expect(refused(record('{"h":["~H",5,4,{"prototype":1}]}')).path).to.equal('data.h[4].prototype');
      expect(refused(record('{"x-y":{"__proto__":{"polluted":true}}}')).path).to.equal('data["x-y"].__proto__');
      expect(refused(record('{"__proto__":{"polluted":true}}')).path).to.equal('data.__proto__');
      expect(({} as Record<string, unknown>)['polluted']).to.equal(undefined);
    });

    it('refuses a null-prototype object carrying __proto__, without setting any prototype', () => {
      const error = refused(record('{"n":["~N",{"a":1,"__proto__":{"polluted":true}}]}'));
      expect(error.path).to.equal('data.n.__proto__');
      expect(({} as Record<string, unknown>)['polluted']).to.equal(undefined);
    });

    it('refuses unknown and malformed tags', () => {
      const cases: [string, string][] = [
        ['{"a":"~Z"}', 'data.a'],
        ['{"a":"~"}', 'data.a'],
        ['{"a":"~u1"}', 'data.a'],
        ['{"a":"~nFoo"}', 'data.a'],
        ['{"a":"~bxyz"}', 'data.a'],
        ['{"a":"~b"}', 'data.a'],
        ['{"a":"~Dnope"}', 'data.a'],
        ['{"a":"~D1e3"}', 'data.a'],
        ['{"a":"~r0x"}', 'data.a'],
        ['{"a":"~r9"}', 'data.a'],
        ['{"a":"~r-1"}', 'data.a'],
        ['{"a":"~BFunction:AA=="}', 'data.a'],
        ['{"a":"~BUint8Array:not base64!"}', 'data.a'],
        ['{"a":"~BFloat64Array:AAAA"}', 'data.a'],
        ['{"a":"~BUint8Array"}', 'data.a'],
        ['{"a":["~M",1]}', 'data.a'],
        ['{"a":["~H",-1]}', 'data.a'],
        ['{"a":["~H",4294967296]}', 'data.a'],
        ['{"a":["~H",3,5,1]}', 'data.a'],
        ['{"a":["~H",3,1,1,0,1]}', 'data.a'],
        ['{"a":["~H",3,1.5,1]}', 'data.a'],
        ['{"a":["~H"]}', 'data.a'],
        ['{"a":["~R","(","g"]}', 'data.a'],
        ['{"a":["~R","a","zz"]}', 'data.a'],
        ['{"a":["~R","a"]}', 'data.a'],
        ['{"a":["~R",1,"g"]}', 'data.a'],
        ['{"a":["~N",[1]]}', 'data.a'],
        ['{"a":["~N",{},{}]}', 'data.a'],
        ['{"a":["~N"]}', 'data.a'],
        ['{"a":[1,{"b":"~Q"}]}', 'data.a[1].b'],
      ];
      for (const [data, path] of cases) expect(refused(record(data)).path, data).to.equal(path);
    });

    it('resolves references only to objects already read, never forward', () => {
      const out = decode(record('{"a":{"x":1},"b":"~r1","self":"~r0"}'));
      expect(out['b']).to.equal(out['a']);
      expect(out['self']).to.equal(out);
      expect(refused(record('{"a":"~r2","b":{}}')).path).to.equal('data.a');
    });

    it('refuses data that is not a plain object', () => {
      for (const data of ['[1]', '"~D5"', '["~M"]', '1', 'null', '"~r0"']) expect(refused(record(data)).path, data).to.equal('data');
      expect(refused(`R2:${ENVELOPE}}`).path).to.equal('data');
      expect(Object.getPrototypeOf(decode(record('["~N",{"a":1}]')))).to.equal(null);
    });

    it('refuses envelopes that are not records', () => {
      expect(refused('R2:').path).to.equal('');
      expect(refused('R2:[]').path).to.equal('');
      expect(refused('R2:null').path).to.equal('');
      expect(refused('R2:{"v":1').path).to.equal('');
      expect(refused(`R2:${ENVELOPE.replace('"v":1', '"v":2')},"d":{}}`).path).to.equal('version');
      expect(refused(`R2:${ENVELOPE.replace('"t":"s"', '"t":"q"')},"d":{}}`).path).to.equal('kind');
      expect(refused(`R2:${ENVELOPE.replace('"c":1', '"c":"1"')},"d":{}}`).path).to.equal('createdAt');
      expect(refused(`R2:${ENVELOPE.replace('"r":"expired"', '"r":"gone"')},"d":{}}`).path).to.equal('reason');
      expect(decodeRecord('R2:{"v":1,"t":"p","key":"k","id":"i","r":"evicted","x":5,"later":true}').kind).to.equal('pointer');
    });

    it(`refuses data nested more than ${MAX_DATA_DEPTH} levels deep, naming where`, () => {
      const nested = (levels: number): string => `{"root":${'['.repeat(levels)}${']'.repeat(levels)}}`;
      expect(decode(record(nested(MAX_DATA_DEPTH)))).to.have.property('root');
      const error = refused(record(nested(MAX_DATA_DEPTH + 1)));
      expect(error.path).to.equal(`data.root${'[0]'.repeat(MAX_DATA_DEPTH)}`);
      const maps = `{"root":${'["~M","k",'.repeat(MAX_DATA_DEPTH + 1)}1${']'.repeat(MAX_DATA_DEPTH + 1)}}`;
      expect(refused(record(maps)).path).to.match(/^data\.root(<Map value #0>)+$/);
    });

    it('refuses text nested far deeper than any stack, with a CodecError', () => {
      const levels = 200_000;
      const arrays = refused(record(`{"a":${'['.repeat(levels)}${']'.repeat(levels)}}`));
      expect(arrays.path).to.match(/^data\.a(\[0\])+$/);
      const objects = refused(record(`{"a":${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}}`));
      expect(objects.path).to.match(/^data(\.a)+$/);
      refused(record(`{"a":${'["~N",'.repeat(levels)}{}${']'.repeat(levels)}}`));
    });

    it(`writes and reads ${MAX_DATA_DEPTH} levels of every container`, () => {
      const levels = (wrap: (inner: unknown) => unknown): unknown => {
        let value: unknown = { leaf: true };
        for (let i = 1; i < MAX_DATA_DEPTH; i++) value = wrap(value);
        return value;
      };
      const holey = (inner: unknown): unknown[] => {
        const array: unknown[] = [];
        array[3] = inner;
        return array;
      };
      const kinds: [string, (inner: unknown) => unknown, (outer: unknown) => unknown][] = [
        ['Map keys', (inner) => new Map([[inner, 1]]), (outer) => [...(outer as Map<unknown, unknown>).keys()][0]],
        ['Map values', (inner) => new Map([['k', inner]]), (outer) => (outer as Map<unknown, unknown>).get('k')],
        ['Sets', (inner) => new Set([inner]), (outer) => [...(outer as Set<unknown>)][0]],
        [
          'null-prototype objects',
          (inner) => Object.assign(Object.create(null) as object, { n: inner }),
          (outer) => (outer as { n: unknown }).n,
        ],
        ['arrays with holes', holey, (outer) => (outer as unknown[])[3]],
        ['arrays', (inner) => [inner], (outer) => (outer as unknown[])[0]],
      ];
      for (const [name, wrap, unwrap] of kinds) {
        const out = decode(encode({ root: levels(wrap) }));
        let value: unknown = out['root'];
        for (let i = 1; i < MAX_DATA_DEPTH; i++) value = unwrap(value);
        expect(value, name).to.deep.equal({ leaf: true });
      }
    });

    it('never crashes when the caller already used most of the stack: drops with a report, or a CodecError', () => {
      let value: unknown = { leaf: true };
      for (let i = 1; i < MAX_DATA_DEPTH; i++) value = new Map([[{ k: i }, value]]);
      const data = { root: value };
      const text = encode(data);
      const deep = (frames: number, fn: () => unknown): unknown => (frames === 0 ? fn() : deep(frames - 1, fn));
      for (const frames of [2_000, 5_000, 8_000]) {
        const result = deep(frames, () => encodeSnapshot(snapshot(data), Number.POSITIVE_INFINITY)) as { dropped: CodecError[] };
        for (const report of result.dropped) expect(report.path).to.match(/^data\.root(<Map value #0>)+/);
        try {
          deep(frames, () => decodeRecord(text));
        } catch (error) {
          expect(error).to.be.instanceOf(CodecError);
        }
      }
    });

    it('ignores enumerable properties of a polluted Object.prototype, writing and reading', () => {
      const proto = Object.prototype as Record<string, unknown>;
      proto['polluted'] = { evil: true };
      try {
        const text = encode({ a: { b: 1 }, list: [{}] });
        expect(text).to.not.include('polluted');
        const out = decode(record('{"a":{"b":1},"n":["~N",{"c":2}]}'));
        expect(Object.hasOwn(out, 'polluted')).to.equal(false);
        expect(Object.hasOwn(out['a'] as object, 'polluted')).to.equal(false);
        expect(Object.keys(out['n'] as object)).to.deep.equal(['c']);
      } finally {
        delete proto['polluted'];
      }
    });
  });

  describe('properties', () => {
    const tildeStrings = fc.constantFrom('~', '~~', '~u', '~D', '~D5', '~M', '~S', '~H', '~R', '~N', '~r0', '~b1', '~n-0', '~BUint8Array:');
    const key = fc
      .oneof(fc.string({ unit: 'binary', maxLength: 6 }), tildeStrings)
      .filter((k) => !['__proto__', 'constructor', 'prototype'].includes(k));
    const leaf = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 12 }),
      tildeStrings,
      fc.double(),
      fc.integer(),
      fc.bigInt(),
      fc.boolean(),
      fc.constant(null),
      fc.constant(undefined),
      fc.date({ noInvalidDate: true }),
    );
    const { value } = fc.letrec((tie) => ({
      value: fc.oneof({ depthSize: 'small' }, leaf, tie('array'), tie('object'), tie('nullObject'), tie('map'), tie('set'), tie('sparse')),
      array: fc.array(tie('value'), { maxLength: 4 }),
      object: fc.dictionary(key, tie('value'), { maxKeys: 4 }),
      nullObject: fc.dictionary(key, tie('value'), { maxKeys: 3 }).map((entries) => Object.assign(Object.create(null) as object, entries)),
      map: fc.array(fc.tuple(tie('value'), tie('value')), { maxLength: 3 }).map((entries) => new Map(entries)),
      set: fc.array(tie('value'), { maxLength: 3 }).map((members) => new Set(members)),
      sparse: fc.sparseArray(tie('value'), { maxLength: 20, maxNumElements: 3 }),
    }));

    it('decode(encode(x)) is faithful for arbitrary supported data, shared references included', () => {
      fc.assert(
        fc.property(fc.dictionary(key, value, { maxKeys: 5 }), value, (data, shared) => {
          const input = { ...data, s1: shared, s2: shared, list: [shared] };
          const out = decode(encode(input));
          assert.deepStrictEqual(out, input);
          if (typeof shared === 'object' && shared !== null) {
            expect(out['s1']).to.equal(out['s2']);
            expect((out['list'] as unknown[])[0]).to.equal(out['s1']);
          }
        }),
        { numRuns: 400 },
      );
    });

    it('arbitrary text after the marker decodes or throws a CodecError', () => {
      fc.assert(
        fc.property(fc.string({ unit: 'binary', maxLength: 60 }), (text) => {
          decodesOrRefuses(`R2:${text}`);
          decodesOrRefuses(record(text));
          decodesOrRefuses(text);
        }),
        { numRuns: 500 },
      );
    });

    it('arbitrary JSON as data or envelope decodes or throws a CodecError', () => {
      const tagged = fc.oneof(fc.jsonValue(), tildeStrings, fc.constantFrom('["~M",1,2]', '["~N",{}]', '["~H",2,1,0]'));
      fc.assert(
        fc.property(
          fc.jsonValue(),
          fc.dictionary(fc.oneof(fc.string(), fc.constantFrom('__proto__', 'constructor', '$r')), tagged),
          (json, object) => {
            decodesOrRefuses(record(JSON.stringify(json)));
            decodesOrRefuses(record(JSON.stringify(object)));
            decodesOrRefuses(`R2:${JSON.stringify(json)}`);
            decodesOrRefuses(record(`["~M",${JSON.stringify(json)},${JSON.stringify(object)}]`));
          },
        ),
        { numRuns: 500 },
      );
    });

    it('an encoded record with one character changed decodes or throws a CodecError', () => {
      fc.assert(
        fc.property(
          fc.dictionary(key, value, { maxKeys: 4 }),
          fc.nat(),
          fc.constantFrom('~', '"', '[', ']', '{', '}', ',', ':', '0', 'r', 'M', 'x'),
          (data, at, char) => {
            const text = encode(data);
            const index = 3 + (at % (text.length - 3));
            decodesOrRefuses(text.slice(0, index) + char + text.slice(index + 1));
          },
        ),
        { numRuns: 500 },
      );
    });
  });

  describe('checkpointText', () => {
    it('turns a snapshot into a checkpoint of the same data without re-encoding it, exactly as encodeSnapshot would', () => {
      const data = { cart: new Map([['sku', { qty: 2, at: new Date(5) }]]), tag: '~x', n: -0 };
      const taken = { ...snapshot(data), key: 'user:"42",\\"d":', reason: 'evicted' as const };
      const text = encodeSnapshot(taken, Number.POSITIVE_INFINITY).text;
      const decoded = decodeRecord(text);
      assert(decoded.kind === 'snapshot');
      const checkpoint = { ...decoded.snapshot, key: 'AAAAAAAAAAAAAAAAAAAAAAAA', reason: 'checkpoint' as const, closedAt: 1_000 };
      const rewritten = checkpointText(text, decoded.snapshot, checkpoint);
      expect(rewritten).to.equal(encodeSnapshot({ ...checkpoint, data }, Number.POSITIVE_INFINITY).text);
      const back = decodeRecord(rewritten!);
      assert(back.kind === 'snapshot');
      expect(back.snapshot).to.deep.include({ key: checkpoint.key, reason: 'checkpoint', closedAt: 1_000, createdAt: 1 });
      expect(back.snapshot.data).to.deep.equal(data);
    });

    it('gives undefined for a text that is not the format-2 encoding of the taken snapshot, and refuses a bad field', () => {
      const text = encode({ a: 1 });
      const decoded = decodeRecord(text);
      assert(decoded.kind === 'snapshot');
      const checkpoint = { ...decoded.snapshot, reason: 'checkpoint' as const, closedAt: 3 };
      expect(checkpointText(text, decoded.snapshot, checkpoint)).to.be.a('string');
      expect(checkpointText(text.replace('R2:', 'R1:'), decoded.snapshot, checkpoint)).to.equal(undefined);
      expect(checkpointText(text, { ...decoded.snapshot, sessionId: 'BBBBBBBBBBBBBBBBBBBBBBBB' }, checkpoint)).to.equal(undefined);
      expect(checkpointText(text.replace('"c":1,"x":2', '"x":2,"c":1'), decoded.snapshot, checkpoint)).to.equal(undefined);
      expect(() => checkpointText(text, decoded.snapshot, { ...checkpoint, closedAt: Number.NaN })).to.throw(CodecError);
    });
  });
});
