import { expect } from 'chai';
import { isSessionId, newSessionId } from '../src/session-id.js';

describe('session ids', () => {
  it('are 24 base64url characters, all distinct across several refills of the random pool', () => {
    const ids = Array.from({ length: 5000 }, () => newSessionId());
    for (const id of ids) expect(isSessionId(id), id).to.equal(true);
    expect(new Set(ids).size).to.equal(ids.length);
  });

  it('spread their bits: every base64url character appears in the first position over many ids', () => {
    const firsts = new Set(Array.from({ length: 5000 }, () => newSessionId()[0]));
    expect(firsts.size).to.equal(64);
  });

  it('recognizes only well-formed ids', () => {
    expect(isSessionId('A'.repeat(24))).to.equal(true);
    for (const bad of ['A'.repeat(23), 'A'.repeat(25), `${'A'.repeat(23)}=`, `${'A'.repeat(23)}+`, 42, undefined]) {
      expect(isSessionId(bad), String(bad)).to.equal(false);
    }
  });
});
