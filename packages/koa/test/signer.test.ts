import { createHmac } from 'node:crypto';
import { expect } from 'chai';
import { arraySigner, sameShortText, signerOf } from '../src/signer.js';

/** Keygrip's signature (HMAC-SHA1, base64 made URL-safe without padding), computed independently. */
function keygrip(key: string, data: string): string {
  return createHmac('sha1', key)
    .update(data)
    .digest('base64')
    .replace(/\/|\+|=/g, (x) => ({ '/': '_', '+': '-', '=': '' })[x]!);
}

describe('the signer of app.keys given as an array', () => {
  const data = 'reprise.sid=AbCdEfGhIjKlMnOpQrStUvWx';

  it('signs exactly as Keygrip does, with the first key', () => {
    expect(arraySigner(['k1', 'k0']).sign(data)).to.equal(keygrip('k1', data));
  });

  it('finds the index of the key that signed, -1 for a tampered signature (even in its last character)', () => {
    const signer = arraySigner(['k2', 'k1']);
    expect(signer.index(data, keygrip('k2', data))).to.equal(0);
    expect(signer.index(data, keygrip('k1', data))).to.equal(1);
    const genuine = keygrip('k2', data);
    const last = genuine.at(-1) === 'A' ? 'B' : 'A';
    expect(signer.index(data, genuine.slice(0, -1) + last)).to.equal(-1);
    expect(signer.index(data, '')).to.equal(-1);
    expect(signer.index(`${data}x`, genuine)).to.equal(-1);
  });

  it('reads the array at each call: a rotation in place is honoured', () => {
    const keys = ['k1'];
    const signer = signerOf(keys)!;
    keys.unshift('k2');
    expect(signerOf(keys)).to.equal(signer);
    expect(signer.sign(data)).to.equal(keygrip('k2', data));
    expect(signer.index(data, keygrip('k1', data))).to.equal(1);
  });

  it('takes any other object as the signer itself, and nothing as unsigned', () => {
    const custom = { sign: () => 's', index: () => 0 };
    expect(signerOf(custom)).to.equal(custom);
    expect(signerOf(undefined)).to.equal(undefined);
  });
});

describe('the comparison of an issued signature with a presented one', () => {
  it('is true for the same text only: any character, the length', () => {
    expect(sameShortText('abcDEF_-', 'abcDEF_-')).to.equal(true);
    expect(sameShortText('abcDEF_-', 'abcDEF_.')).to.equal(false);
    expect(sameShortText('abcDEF_-', 'Abcdef_-')).to.equal(false);
    expect(sameShortText('abcDEF_-', 'abcDEF_')).to.equal(false);
    expect(sameShortText('', '')).to.equal(true);
  });
});
