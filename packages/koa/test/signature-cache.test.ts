import { createHmac } from 'node:crypto';
import { expect } from 'chai';
import { buildApp, cookieIn, setCookies, sign, SID } from './support/app.js';

/** A Keygrip-compatible signer (what Koa accepts as `app.keys`) that counts full verifications. */
class CountingSigner {
  indexCalls = 0;
  constructor(private readonly keys: string[]) {}
  sign(data: string): string {
    return createHmac('sha1', this.keys[0]!).update(data).digest('base64url');
  }
  verify(data: string, digest: string): boolean {
    return this.index(data, digest) > -1;
  }
  index(data: string, digest: string): number {
    this.indexCalls += 1;
    return this.keys.findIndex((key) => createHmac('sha1', key).update(data).digest('base64url') === digest);
  }
}

describe('returning cookies of live sessions', () => {
  it('are verified against the signature issued for them, without an HMAC per request', async () => {
    const t = buildApp();
    const signer = new CountingSigner(['k1']);
    t.app.keys = signer as unknown as string[];
    const alice = t.browser();
    await alice.get('/inc');
    for (let i = 0; i < 5; i++) await alice.get('/inc');
    expect((await alice.get('/inc')).body.views).to.equal(7);
    expect(signer.indexCalls, 'no full verification for the issued signature').to.equal(0);
  });

  it('still refuse a tampered signature (full verification, which fails)', async () => {
    const t = buildApp();
    const signer = new CountingSigner(['k1']);
    t.app.keys = signer as unknown as string[];
    const alice = t.browser();
    await alice.get('/inc');
    const res = await t.browser({ cookie: `${SID}=${alice.sid}; ${SID}.sig=${'A'.repeat(27)}` }).get('/read');
    expect(res.body.data).to.deep.equal({});
    expect(signer.indexCalls).to.equal(1);
    expect(cookieIn(res)).to.equal(undefined);
  });

  it('refuse a signature issued for another id of the same session object (after regenerate())', async () => {
    const t = buildApp();
    const signer = new CountingSigner(['k1']);
    t.app.keys = signer as unknown as string[];
    const alice = t.browser();
    await alice.get('/set?cart=apple');
    const oldId = alice.sid!;
    const oldSig = alice.jar.get(`${SID}.sig`)!;
    // The application moves the session to a new id outside a request: no cookie is issued for it.
    const newId = t.manager.get(oldId)!.regenerate();
    // The new id presented with the signature issued for the old one: no fast path, the HMAC fails.
    const forged = await t.browser({ cookie: `${SID}=${newId}; ${SID}.sig=${oldSig}` }).get('/read');
    expect(forged.body.data).to.deep.equal({});
    expect(signer.indexCalls, 'fully verified').to.equal(1);
    expect(setCookies(forged)).to.deep.equal([]);
    // The genuine signature of the new id works.
    const genuine = await t.browser({ cookie: `${SID}=${newId}; ${SID}.sig=${sign(SID, newId, 'k1')}` }).get('/read');
    expect(genuine.body.data).to.deep.equal({ cart: 'apple' });
  });

  it('refuse, within the request that regenerated, the old signature for the new id', async () => {
    const t = buildApp({
      routes: {
        '/login': (ctx) => {
          ctx.liveSession.regenerate();
          ctx.body = { id: ctx.liveSession.id };
        },
      },
    });
    const signer = new CountingSigner(['k1']);
    t.app.keys = signer as unknown as string[];
    const alice = t.browser();
    await alice.get('/set?cart=apple');
    const oldSig = alice.jar.get(`${SID}.sig`)!;
    const login = await alice.get('/login');
    const newId = login.body.id as string;
    expect(cookieIn(login)!.value).to.equal(newId);
    const calls = signer.indexCalls;
    const forged = await t.browser({ cookie: `${SID}=${newId}; ${SID}.sig=${oldSig}` }).get('/read');
    expect(forged.body.data).to.deep.equal({});
    expect(signer.indexCalls - calls).to.equal(1);
    expect((await alice.get('/read')).body.data).to.deep.equal({ cart: 'apple' });
  });
});
