import { expect } from 'chai';
import fc from 'fast-check';
import { VersionClock } from '../src/version-clock.js';

describe('VersionClock (versions of ordered writes)', () => {
  it('issues even, strictly growing safe integers from the clock, past 2^32 without wrapping', () => {
    let now = 1_796_289_570_747;
    const clock = new VersionClock(() => now);
    const first = clock.next();
    expect(first).to.equal(now * 1000);
    const second = clock.next();
    expect(second).to.equal(first + 2);
    now += 1;
    expect(clock.next()).to.equal(now * 1000);
  });

  it('stays above every version observed, odd ones (fences) included', () => {
    const clock = new VersionClock(() => 0);
    clock.observe(7_000_000_000_001);
    expect(clock.next()).to.equal(7_000_000_000_002);
    clock.observe(5);
    expect(clock.next()).to.equal(7_000_000_000_004);
  });

  it('never goes back when the clock does (property)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(fc.record({ tick: fc.integer({ min: -5_000, max: 5_000 }) }), fc.record({ seen: fc.integer({ min: 0, max: 2 ** 52 }) })),
          { maxLength: 60 },
        ),
        (steps) => {
          let now = 1_700_000_000_000;
          const clock = new VersionClock(() => now);
          let highest = -1;
          for (const step of steps) {
            if ('tick' in step) now += step.tick;
            else {
              clock.observe(step.seen);
              highest = Math.max(highest, step.seen);
            }
            const version = clock.next();
            if (version <= highest || version % 2 !== 0 || !Number.isSafeInteger(version)) return false;
            highest = version;
          }
          return true;
        },
      ),
    );
  });
});
