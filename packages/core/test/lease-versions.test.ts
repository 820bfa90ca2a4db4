import { expect } from 'chai';
import fc from 'fast-check';
import { LEASE_VERSION_BASE, LeaseVersions, MAX_LEASE_TOKEN, VERSIONS_PER_TERM, termStart } from '../src/lease-versions.js';
import { VersionClock } from '../src/version-clock.js';

describe('lease versions: the fencing token in the version', () => {
  it('every version of a later term beats every version of an earlier one, the last it could ever write included', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: MAX_LEASE_TOKEN - 1 }), fc.integer({ min: 1, max: 50 }), (token, writes) => {
        const earlier = new LeaseVersions(token);
        const later = new LeaseVersions(token + 1);
        let last = 0;
        for (let i = 0; i < writes; i++) last = earlier.next();
        const first = later.next();
        expect(first).to.be.above(last);
        expect(first).to.equal(termStart(token + 1));
        // The last version the earlier term could ever write (a fence: odd) is still below the later term.
        expect(termStart(token) + VERSIONS_PER_TERM - 1).to.be.below(termStart(token + 1));
      }),
    );
  });

  it('versions are even, strictly increasing and safe integers up to the largest token', () => {
    const versions = new LeaseVersions(MAX_LEASE_TOKEN);
    const a = versions.next();
    const b = versions.next();
    expect(b - a).to.equal(2);
    expect(a % 2).to.equal(0);
    expect(Number.isSafeInteger(termStart(MAX_LEASE_TOKEN) + VERSIONS_PER_TERM - 1)).to.equal(true);
  });

  it('uncoordinated versions (the hybrid clock, until the year 2100) stay below every term, token 0 included', () => {
    const year2100 = Date.UTC(2100, 0, 1);
    expect(new VersionClock(() => year2100).next()).to.be.below(termStart(0));
    expect(new VersionClock(() => Date.now()).next()).to.be.below(LEASE_VERSION_BASE);
    expect(termStart(0)).to.equal(LEASE_VERSION_BASE);
  });

  it('a term runs out after 2^20 writes, and refuses tokens out of range', () => {
    const versions = new LeaseVersions(7);
    for (let i = 0; i < VERSIONS_PER_TERM / 2; i++) versions.next();
    expect(versions.exhausted).to.equal(true);
    expect(() => versions.next()).to.throw(RangeError, /used up/);
    for (const bad of [-1, 1.5, MAX_LEASE_TOKEN + 1, Number.NaN]) expect(() => new LeaseVersions(bad)).to.throw(RangeError, /lease token/);
  });
});
