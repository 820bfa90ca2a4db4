import { expect } from 'chai';
import { matches, parsePattern, prefixPattern, redisMatch, sqlLike } from '../src/pattern.js';
import { humanDuration, parseDuration, printable } from '../src/format.js';
import { headOf } from '../src/inspect.js';

describe('patterns and formatting', () => {
  it('a pattern has one wildcard, *, and \\ escapes; Redis and SQL get the same selection', () => {
    const pattern = parsePattern('user:*?[x]%_\\*');
    expect(matches(pattern, 'user:42?[x]%_*')).to.equal(true);
    expect(matches(pattern, 'user:?[x]%_*')).to.equal(true);
    expect(matches(pattern, 'user:42a[x]%_*'), '? is no wildcard').to.equal(false);
    expect(matches(pattern, 'user:42?[x]ab*'), '% and _ are no wildcards').to.equal(false);
    expect(redisMatch('app:[1]', pattern)).to.equal('app:\\[1\\]user:*\\?\\[x\\]%_\\*');
    expect(sqlLike(pattern)).to.equal('user:%?[x]\\%\\_*');
    const prefix = prefixPattern('a*b');
    expect(matches(prefix, 'a*bcd')).to.equal(true);
    expect(matches(prefix, 'axbcd')).to.equal(false);
    expect(sqlLike(prefix)).to.equal('a*b%');
  });

  it('durations, keys and first bytes for people', () => {
    expect([850, 61_000, 3_600_000, 3_660_000, 7 * 86_400_000 - 1].map(humanDuration)).to.deep.equal([
      '850ms',
      '1m 1s',
      '1h',
      '1h 1m',
      '6d 23h',
    ]);
    expect(['5000', '30s', '1.5h', '2d', 'x', '-1', '1w'].map(parseDuration)).to.deep.equal([
      5000,
      30_000,
      5_400_000,
      172_800_000,
      undefined,
      undefined,
      undefined,
    ]);
    expect(['user:42', 'a b', ' lead', '', 'é\u0085', 'q"'].map(printable)).to.deep.equal([
      'user:42',
      'a b',
      '" lead"',
      '""',
      '"é\\u0085"',
      '"q\\""',
    ]);
    expect(headOf(Buffer.from('a\\b\u0000\u00e9'))).to.equal('a\\x5cb\\x00\\xc3\\xa9');
    expect(headOf(Buffer.alloc(40, 0x61))).to.equal(`${'a'.repeat(32)}…`);
  });
});
