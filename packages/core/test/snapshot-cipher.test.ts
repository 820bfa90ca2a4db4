import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { decodeRecord, encodePointer, encodeSnapshot } from '../src/codec.js';
import { CodecError, OptionError } from '../src/errors.js';
import { openRecord, openSealedRecord, sealRecord, sealedKeyId } from '../src/snapshot-cipher.js';
import { SnapshotKeyring, normalizeSnapshotEncryption, normalizeSnapshotKeys, type SnapshotKey } from '../src/snapshot-keys.js';

const K1: SnapshotKey = { id: 'k1', key: randomBytes(32) };
const K2: SnapshotKey = { id: 'k2', key: randomBytes(32).toString('base64') };

function keyring(...keys: SnapshotKey[]): SnapshotKeyring {
  return normalizeSnapshotKeys(keys)!;
}

function encryption(keys: SnapshotKey[], acceptPlaintext = false) {
  return normalizeSnapshotEncryption({ snapshotKeys: keys, acceptPlaintextSnapshots: acceptPlaintext })!;
}

/** A codec record holding a recognisable marker. */
function record(marker = 'MARKER-7f3a'): string {
  const now = 1_700_000_000_000;
  return encodeSnapshot(
    {
      version: 1,
      key: 'user:42',
      sessionId: 'x'.repeat(22),
      data: { secret: marker, cart: new Map([['apple', 2]]) },
      createdAt: now,
      closedAt: now,
      reason: 'evicted',
    },
    Infinity,
  ).text;
}

/** The `ERR_REPRISE_SNAPSHOT_AUTH` error `action` throws. */
function refusal(action: () => unknown): CodecError {
  try {
    action();
  } catch (error) {
    expect(error, String(error)).to.be.instanceOf(CodecError);
    expect((error as CodecError).code).to.equal('ERR_REPRISE_SNAPSHOT_AUTH');
    return error as CodecError;
  }
  expect.fail('expected a refusal');
}

function optionError(action: () => unknown): OptionError {
  try {
    action();
  } catch (error) {
    expect(error, String(error)).to.be.instanceOf(OptionError);
    return error as OptionError;
  }
  expect.fail('expected an OptionError');
}

describe('snapshot encryption: the cipher', () => {
  it('round trip: a sealed record opens to the very text under the key it was sealed for; no plaintext shows', () => {
    const text = record();
    const sealed = sealRecord(text, 'user:42', keyring(K1));
    expect(sealed).to.match(/^E1\.k1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
    expect(sealed).to.not.include('MARKER-7f3a');
    expect(sealed).to.not.include('R1:');
    expect(sealed).to.not.include('apple');
    expect(openRecord(sealed, 'user:42', encryption([K1]))).to.equal(text);
    const decoded = decodeRecord(openRecord(sealed, 'user:42', encryption([K1])));
    expect(decoded.kind === 'snapshot' && decoded.snapshot.data).to.deep.equal({ secret: 'MARKER-7f3a', cart: new Map([['apple', 2]]) });
  });

  it('a random IV per record: the same text sealed twice gives two different values', () => {
    const ring = keyring(K1);
    const a = sealRecord(record(), 'k', ring);
    const b = sealRecord(record(), 'k', ring);
    expect(a).to.not.equal(b);
    expect(a.split('.')[2]).to.not.equal(b.split('.')[2]);
  });

  it('rotation: the first key seals, every key opens by the id the record names; a key left out no longer opens', () => {
    const old = sealRecord(record('old'), 'user:42', keyring(K1));
    const rotated = encryption([K2, K1]);
    expect(decodeRecord(openRecord(old, 'user:42', rotated)).kind).to.equal('snapshot');
    const fresh = sealRecord(record('new'), 'user:42', rotated.keyring);
    expect(sealedKeyId(fresh)).to.equal('k2');
    expect(openRecord(fresh, 'user:42', encryption([K1, K2]))).to.equal(record('new'));
    const error = refusal(() => openRecord(old, 'user:42', encryption([K2])));
    expect(error.message).to.include('"k1"').and.include('does not hold');
  });

  it('a tampered character anywhere (header, IV, ciphertext, tag) is refused', () => {
    const text = encodePointer({ version: 1, key: 'user:42', sessionId: 'y'.repeat(22), reason: 'evicted', closedAt: 1 });
    const sealed = sealRecord(text, 'y'.repeat(22), keyring(K1, K2));
    const ring = encryption([K1, K2]);
    for (let at = 0; at < sealed.length; at++) {
      for (const replacement of ['A', 'b', '_', '.', '!']) {
        if (sealed[at] === replacement) continue;
        const altered = sealed.slice(0, at) + replacement + sealed.slice(at + 1);
        refusal(() => openRecord(altered, 'y'.repeat(22), ring));
      }
    }
  });

  it('bound to its store key: a valid record copied or moved to another key is refused (two users cannot be swapped)', () => {
    const ring = encryption([K1]);
    const ann = sealRecord(record('ann'), 'user:ann', ring.keyring);
    const bob = sealRecord(record('bob'), 'user:bob', ring.keyring);
    expect(refusal(() => openRecord(ann, 'user:bob', ring)).message).to.include('does not authenticate');
    refusal(() => openRecord(bob, 'user:ann', ring));
    refusal(() => openRecord(ann, 'user:ann ', ring));
  });

  it('the key id is authenticated too: a header renamed to another key of the ring is refused, even one holding the same bytes', () => {
    const sealed = sealRecord(record(), 'k', keyring(K1, K2));
    refusal(() => openRecord(sealed.replace('E1.k1.', 'E1.k2.'), 'k', encryption([K1, K2])));
    // The option refuses one key under two ids; built directly, such a ring shows the id is in the AAD.
    const bytes = randomBytes(32);
    const twin = new SnapshotKeyring(
      new Map([
        ['a', bytes],
        ['b', Buffer.from(bytes)],
      ]),
    );
    const byA = sealRecord(record(), 'k', twin);
    expect(openRecord(byA, 'k', { keyring: twin, acceptPlaintext: false })).to.equal(record());
    refusal(() => openRecord(byA.replace('E1.a.', 'E1.b.'), 'k', { keyring: twin, acceptPlaintext: false }));
  });

  it('only canonical base64url opens: a value that decodes to the same bytes but is written otherwise was altered, and is refused', () => {
    const ring = encryption([K1]);
    const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    // A record whose ciphertext and tag leave spare bits in the last character (length not a multiple of 3).
    const text = ['R1:a', 'R1:ab', 'R1:abc'].find((t) => (Buffer.byteLength(t) + 16) % 3 !== 0)!;
    const sealed = sealRecord(text, 'k', ring.keyring);
    const last = ALPHABET.indexOf(sealed.at(-1)!);
    const spare = sealed.slice(0, -1) + ALPHABET[last ^ 1];
    expect(Buffer.from(spare.split('.')[3]!, 'base64url')).to.deep.equal(Buffer.from(sealed.split('.')[3]!, 'base64url'));
    refusal(() => openRecord(spare, 'k', ring));
    refusal(() => openRecord(`${sealed}=`, 'k', ring));
    refusal(() => openRecord(`${sealed.slice(0, 30)}\n${sealed.slice(30)}`, 'k', ring));
    // Node decodes base64's + and / as base64url's - and _: the same bytes in the other alphabet.
    let urlSafe = sealed;
    while (!/[-_]/.test(urlSafe.slice(6))) urlSafe = sealRecord(text, 'k', ring.keyring);
    refusal(() => openRecord(urlSafe.slice(0, 6) + urlSafe.slice(6).replace(/-/g, '+').replace(/_/g, '/'), 'k', ring));
    expect(openRecord(sealed, 'k', ring)).to.equal(text);
  });

  it('an unknown key id, a truncated record, an extra field, an unknown format: refused', () => {
    const ring = encryption([K1]);
    const sealed = sealRecord(record(), 'k', ring.keyring);
    refusal(() => openRecord(sealed.replace('E1.k1.', 'E1.k9.'), 'k', ring));
    for (let length = 0; length < sealed.length; length++) {
      const truncated = sealed.slice(0, length);
      if (!truncated.startsWith('E')) continue; // shorter: plaintext, refused below
      refusal(() => openRecord(truncated, 'k', ring));
    }
    refusal(() => openRecord(`${sealed}.AAAA`, 'k', ring));
    refusal(() => openRecord(sealed.replace('E1.', 'E2.'), 'k', ring));
    refusal(() => openRecord('E1.', 'k', ring));
    refusal(() => openRecord('E1.k1..', 'k', ring));
  });

  it('a plaintext record with keys: refused by default (anyone with store access could write one), read with acceptPlaintextSnapshots', () => {
    const text = record();
    expect(refusal(() => openRecord(text, 'k', encryption([K1]))).message)
      .to.include('plaintext')
      .and.include('acceptPlaintextSnapshots');
    refusal(() => openRecord('', 'k', encryption([K1])));
    expect(openRecord(text, 'k', encryption([K1], true))).to.equal(text);
  });

  it('an encrypted record read without keys: decodeRecord says it needs snapshotKeys', () => {
    const sealed = sealRecord(record(), 'k', keyring(K1));
    const error = refusal(() => decodeRecord(sealed));
    expect(error.message).to.include('encrypted').and.include('"k1"').and.include('snapshotKeys');
    expect(() => decodeRecord('nonsense'))
      .to.throw(CodecError)
      .with.property('code', 'ERR_REPRISE_SNAPSHOT_CORRUPT');
  });

  it('openSealedRecord (for tools): opens with the keys in any order, passes plaintext through, validates the keys', () => {
    const sealed = sealRecord(record(), 'user:42', keyring(K2, K1));
    expect(openSealedRecord(sealed, 'user:42', [K1, K2])).to.equal(record());
    expect(openSealedRecord(record(), 'user:42', [K1])).to.equal(record());
    refusal(() => openSealedRecord(sealed, 'user:41', [K1, K2]));
    expect(optionError(() => openSealedRecord(sealed, 'user:42', [])).message).to.include('keys must hold at least one key');
    expect(sealedKeyId(sealed)).to.equal('k2');
    expect(sealedKeyId(record())).to.equal(undefined);
  });

  it('text beyond ASCII (NUL, lone surrogates as devalue escapes them, emoji) comes back exactly', () => {
    const now = 1;
    const text = encodeSnapshot(
      { version: 1, key: 'k', sessionId: 'k', data: { s: 'a\u0000b\uD800c😀é' }, createdAt: now, closedAt: now, reason: 'evicted' },
      Infinity,
    ).text;
    const opened = openRecord(sealRecord(text, 'k', keyring(K1)), 'k', encryption([K1]));
    expect(opened).to.equal(text);
    const decoded = decodeRecord(opened);
    expect(decoded.kind === 'snapshot' && decoded.snapshot.data['s']).to.equal('a\u0000b\uD800c😀é');
  });
});

describe('snapshot encryption: the snapshotKeys option', () => {
  const key32 = randomBytes(32);

  it('accepts Buffers, Uint8Arrays, base64 and base64url strings (with or without padding, surrounding whitespace ignored)', () => {
    const bytes = randomBytes(32);
    const forms: SnapshotKey['key'][] = [
      bytes,
      new Uint8Array(bytes),
      bytes.toString('base64'),
      bytes.toString('base64url'),
      `${bytes.toString('base64')}\n`,
      bytes.toString('base64').replace('=', ''),
    ];
    const sealed = sealRecord('R1:x', 'k', keyring({ id: 'a', key: bytes }));
    for (const form of forms) {
      expect(openRecord(sealed, 'k', encryption([{ id: 'a', key: form }]))).to.equal('R1:x');
    }
  });

  it("keeps a copy (changing the caller's buffer afterwards changes nothing) that inspect and JSON never show", () => {
    const bytes = randomBytes(32);
    const ring = keyring({ id: 'a', key: bytes });
    for (const shown of [inspect(ring, { showHidden: true, depth: 9 }), JSON.stringify(ring)]) {
      expect(shown).to.include('a');
      for (const form of [
        bytes.toString('hex').slice(0, 16),
        bytes.toString('base64').slice(0, 12),
        String(bytes[0]) + ', ' + String(bytes[1]),
      ])
        expect(shown).to.not.include(form);
    }
    const sealed = sealRecord('R1:x', 'k', ring);
    bytes.fill(7);
    expect(openRecord(sealed, 'k', { keyring: ring, acceptPlaintext: false })).to.equal('R1:x');
  });

  it('refuses what is not a list of { id, key }, with clear messages', () => {
    expect(optionError(() => normalizeSnapshotKeys({ id: 'a', key: key32 })).message)
      .to.include('must be an array')
      .and.include('[{ id, key }]');
    expect(optionError(() => normalizeSnapshotKeys([])).message).to.include('at least one key');
    expect(optionError(() => normalizeSnapshotKeys([null])).message).to.include('snapshotKeys[0] must be an object');
    expect(optionError(() => normalizeSnapshotKeys([{ id: 'a', key: key32, kid: 'x' }])).message).to.include('"snapshotKeys[0].kid"');
    expect(optionError(() => normalizeSnapshotKeys([{ id: 'a', kye: key32 }])).message).to.include('did you mean "snapshotKeys[0].key"');
  });

  it('refuses bad and duplicate ids', () => {
    for (const id of ['', 'a.b', 'a b', 'x'.repeat(33), 7, undefined, 'é']) {
      expect(optionError(() => normalizeSnapshotKeys([{ id, key: key32 }])).message).to.include(
        'snapshotKeys[0].id must be 1 to 32 characters',
      );
    }
    expect(normalizeSnapshotKeys([{ id: 'x'.repeat(32), key: key32 }])!.currentId).to.equal('x'.repeat(32));
    const duplicate = optionError(() =>
      normalizeSnapshotKeys([
        { id: 'a', key: key32 },
        { id: 'a', key: randomBytes(32) },
      ]),
    );
    expect(duplicate.message).to.include('snapshotKeys[1].id "a"').and.include('each key needs its own id');
  });

  it('refuses keys of the wrong length, hex, passwords, zero bytes and one key under two ids; never shows the key', () => {
    const short = randomBytes(31).toString('base64');
    const cases: [unknown, string][] = [
      [randomBytes(16), 'must be 32 bytes, got 16 bytes'],
      [new Uint16Array(16), 'a Buffer or Uint8Array'],
      [short, 'got a string of 44 characters that is not'],
      [randomBytes(32).toString('hex'), 'got a string of 64 characters'],
      ['correct horse battery staple', 'openssl rand -base64 32'],
      [`${randomBytes(32).toString('base64').slice(0, 42)}!=`, 'that is not'],
      [Buffer.alloc(32), 'all zero bytes'],
      [42, 'got a number'],
      [undefined, 'got undefined'],
    ];
    for (const [key, message] of cases) {
      const error = optionError(() => normalizeSnapshotKeys([{ id: 'a', key }]));
      expect(error.message).to.include('snapshotKeys[0].key').and.include(message);
      if (typeof key === 'string') expect(error.message).to.not.include(key.slice(0, 12));
    }
    const twice = optionError(() =>
      normalizeSnapshotKeys([
        { id: 'new', key: key32 },
        { id: 'old', key: key32.toString('base64') },
      ]),
    );
    expect(twice.message).to.include('snapshotKeys[1].key is the same key as snapshotKeys[0]');
  });

  it('acceptPlaintextSnapshots must be a boolean', () => {
    expect(optionError(() => normalizeSnapshotEncryption({ snapshotKeys: [K1], acceptPlaintextSnapshots: 'yes' })).message).to.include(
      'acceptPlaintextSnapshots must be a boolean',
    );
    expect(normalizeSnapshotEncryption({ acceptPlaintextSnapshots: true }), 'ignored without keys').to.equal(undefined);
    expect(normalizeSnapshotEncryption({ snapshotKeys: [K1] })!.acceptPlaintext).to.equal(false);
  });
});
