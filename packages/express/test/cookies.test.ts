import { expect } from 'chai';
import { buildApp, cookieIn, OTHER_SECRET, SECRET, signed, SID } from './support/app.js';

async function aliceWithCart(secret: string | string[] = SECRET) {
  const t = buildApp({ session: { secret } });
  const alice = t.browser();
  await alice.get('/set?cart=apple');
  return { t, alice, id: alice.sid! };
}

describe('cookies, as an attacker sends them', () => {
  it("the cookie is express-session's format: s:<id>.<cookie-signature HMAC>", async () => {
    const { alice, id } = await aliceWithCart();
    expect(alice.jar.get(SID)).to.equal(signed(id, SECRET));
  });

  const hostile: Array<[string, (id: string) => string]> = [
    ['a tampered signature', (id) => `${signed(id, SECRET).slice(0, -2)}xx`],
    ['a signature made with another secret', (id) => signed(id, OTHER_SECRET)],
    ['the bare id, unsigned', (id) => id],
    ['the id without the s: prefix', (id) => signed(id, SECRET).slice(2)],
    ['an oversized value', (id) => `${signed(id, SECRET)}${'a'.repeat(4000)}`],
    ['a malformed id, correctly signed', () => signed('../../etc/passwd', SECRET)],
    ['garbage', () => '%%%;;=='],
  ];
  for (const [what, forge] of hostile) {
    it(`${what} is no cookie: no session, no 500, a write creates a fresh session`, async () => {
      const { t, id } = await aliceWithCart();
      const mallory = t.browser();
      mallory.jar.set(SID, forge(id));
      const read = await mallory.get('/read');
      expect(read.status).to.equal(200);
      expect(read.body.data).to.deep.equal({});
      const write = await mallory.get('/inc');
      expect(write.status).to.equal(200);
      expect(write.body.id).to.not.equal(id);
      expect(t.manager.get(id)!.data).to.deep.equal({ cart: 'apple' });
    });
  }

  it("another session's valid signature does not open this session", async () => {
    const { t, id } = await aliceWithCart();
    const bob = t.browser();
    await bob.get('/inc');
    const bobValue = bob.jar.get(SID)!;
    // Bob's signature glued to Alice's id.
    const forged = `s:${id}.${bobValue.slice(bobValue.lastIndexOf('.') + 1)}`;
    const mallory = t.browser();
    mallory.jar.set(SID, forged);
    const res = await mallory.get('/read');
    expect(res.body.data).to.deep.equal({});
  });

  it('secret rotation: a cookie signed with an older secret still works and is re-issued with the first', async () => {
    const { t, id } = await aliceWithCart(SECRET);
    const rotated = buildApp({ session: { manager: t.manager, secret: [OTHER_SECRET, SECRET] } });
    const alice = rotated.browser();
    alice.jar.set(SID, signed(id, SECRET));
    const res = await alice.get('/read');
    expect(res.body.data).to.deep.equal({ cart: 'apple' });
    expect(cookieIn(res)!.value).to.equal(signed(id, OTHER_SECRET));
  });

  it('without any secret the cookie is the bare id (and a signed one is no cookie)', async () => {
    const t = buildApp();
    const alice = t.browser();
    const res = await alice.get('/inc');
    expect(alice.jar.get(SID)).to.equal(res.body.id);
    const again = await alice.get('/inc');
    expect(again.body.views).to.equal(2);
  });

  it("cookie-parser's req.secret signs when the middleware has none, as express-session does", async () => {
    const t = buildApp({ setup: (app) => app.use((req, _res, next) => (((req as { secret?: string }).secret = SECRET), next())) });
    const alice = t.browser();
    const res = await alice.get('/inc');
    expect(alice.jar.get(SID)).to.equal(signed(String(res.body.id), SECRET));
  });
});
