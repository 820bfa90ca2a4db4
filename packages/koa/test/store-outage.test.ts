import { expect } from 'chai';
import { MemoryAdapter } from '@reprise/memory';
import { buildApp, cookieIn, SID } from './support/app.js';

/** A MemoryAdapter whose reads can be made to fail, like a store that is down. */
class FlakyAdapter extends MemoryAdapter {
  down = false;
  override async load(key: string): Promise<string | undefined> {
    if (this.down) throw new Error('store unreachable');
    return super.load(key);
  }
  override async take(key: string): Promise<string | undefined> {
    if (this.down) throw new Error('store unreachable');
    return super.take(key);
  }
}

describe('a store outage during a restore', () => {
  it('answers 200 with no session, reports the error, keeps the cookie, and restores once the store is back', async () => {
    const adapter = new FlakyAdapter();
    const t = buildApp({ keys: ['k1'], session: { maxSessions: 1, adapter } });
    const alice = t.browser();
    await alice.get('/set?cart=apple');
    const oldId = alice.sid!;
    await t.browser().get('/inc');
    adapter.down = true;

    const during = await alice.get('/read');
    expect(during.status).to.equal(200);
    expect(during.body.data).to.deep.equal({});
    expect(cookieIn(during), 'the cookie is neither cleared nor replaced').to.equal(undefined);
    expect(t.errors.map((error) => error.code)).to.include('ERR_REPRISE_RESTORE');
    expect(alice.sid).to.equal(oldId);

    adapter.down = false;
    const after = await alice.get('/id');
    expect(after.body.data).to.deep.equal({ cart: 'apple' });
    expect(cookieIn(after)?.value).to.equal(after.body.id);
    expect(after.body.id).to.not.equal(oldId);
  });

  it('a request that writes during the outage gets a fresh session (never a 500)', async () => {
    const adapter = new FlakyAdapter();
    const t = buildApp({ session: { maxSessions: 1, adapter } });
    const alice = t.browser();
    await alice.get('/set?cart=apple');
    await t.browser().get('/inc');
    adapter.down = true;
    const res = await alice.get('/set?fresh=yes');
    expect(res.status).to.equal(200);
    expect(res.body.data).to.deep.equal({ fresh: 'yes' });
    expect(cookieIn(res, SID)?.value).to.equal(res.body.id);
  });
});
