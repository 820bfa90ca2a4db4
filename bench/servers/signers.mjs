// Diagnostic only: replacements for Keygrip, the signer Koa's `cookies` module builds from app.keys.
// Koa accepts any object with sign/verify/index as `app.keys`; both produce Keygrip's exact signatures
// (HMAC-SHA1, base64url), so cookies stay interchangeable. They show how much of a session
// middleware's per-request cost is the signature check of the cookie:
// - 'hmac':   one HMAC per key tried, compared with crypto.timingSafeEqual. Keygrip instead compares
//             through tsscmp, which draws 32 random bytes and computes two more HMAC-SHA256 per key.
// - 'cached': also remembers the (value, signature) pairs that verified, so a returning cookie costs
//             a map lookup (what a session store that keeps each live session's expected signature
//             would pay).
import { createHmac, timingSafeEqual } from 'node:crypto';

function hmac(data, key) {
  return createHmac('sha1', key).update(data).digest('base64url');
}

export function hmacSigner(keys) {
  return {
    sign: (data) => hmac(data, keys[0]),
    verify(data, digest) {
      return this.index(data, digest) > -1;
    },
    index(data, digest) {
      if (typeof digest !== 'string') return -1;
      const given = Buffer.from(digest);
      for (let i = 0; i < keys.length; i += 1) {
        const expected = Buffer.from(hmac(data, keys[i]));
        if (expected.length === given.length && timingSafeEqual(expected, given)) return i;
      }
      return -1;
    },
  };
}

export function cachedSigner(keys, limit = 100_000) {
  const base = hmacSigner(keys);
  const verified = new Map();
  return {
    sign: base.sign,
    verify(data, digest) {
      return this.index(data, digest) > -1;
    },
    index(data, digest) {
      const key = `${data}\n${digest}`;
      const known = verified.get(key);
      if (known !== undefined) return known;
      const index = base.index(data, digest);
      if (index >= 0) {
        if (verified.size >= limit) verified.clear();
        verified.set(key, index);
      }
      return index;
    },
  };
}
