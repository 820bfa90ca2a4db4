import { expect } from 'chai';
import type { CloseReason } from '@reprise/core';
import { buildApp, cookieIn, idOf, isClearing, SECRET, signed } from './support/app.js';

describe('close and restore', () => {
  it('an evicted session is restored under the same id when its visitor returns, data intact', async () => {
    const closes: Array<[string, CloseReason]> = [];
    const restored: string[] = [];
    const t = buildApp({
      session: {
        secret: SECRET,
        maxSessions: 1,
        onClose: (s, reason) => void closes.push([s.id, reason]),
        onRestore: (s) => void restored.push(s.id),
      },
    });
    const alice = t.browser();
    await alice.get('/set?cart=apple');
    const id = alice.sid!;
    await t.browser().get('/inc'); // Bob evicts Alice (cap 1)
    expect(closes).to.deep.include([id, 'evicted']);
    expect(t.manager.get(id)).to.equal(undefined);
    const back = await alice.get('/id');
    expect(back.body.id).to.equal(id);
    expect(back.body.data).to.deep.equal({ cart: 'apple' });
    expect(restored).to.deep.equal([id]);
    const reissued = cookieIn(back);
    if (reissued !== undefined) expect(reissued.value, 'a re-issued cookie names the same id').to.equal(signed(id, SECRET));
  });

  it('req.session = null closes the session (its hook runs before the response) and clears the cookie; the id is not restored', async () => {
    const order: string[] = [];
    const t = buildApp({
      session: {
        secret: SECRET,
        onClose: async (_s, reason) => {
          await new Promise((resolve) => setTimeout(resolve, 20));
          order.push(`hook:${reason}`);
        },
      },
      routes: {
        '/logout': (req, res) => {
          req.session = null;
          res.on('finish', () => order.push('response'));
          res.json({ ok: true });
        },
      },
    });
    const alice = t.browser();
    await alice.get('/set?cart=apple');
    const value = alice.jar.get('reprise.sid')!;
    const out = await alice.get('/logout');
    expect(isClearing(cookieIn(out))).to.equal(true);
    expect(order).to.deep.equal(['hook:closed', 'response']);
    expect(alice.jar.has('reprise.sid')).to.equal(false);
    // The old cookie replayed: no session, and it is cleared again.
    const replay = t.browser();
    replay.jar.set('reprise.sid', value);
    const res = await replay.get('/read');
    expect(res.body.data).to.deep.equal({});
    expect(t.manager.stats().live).to.equal(0);
  });

  it('an error after a first write: the 500 carries the cookie of the session written (as express-session does), which stays live', async () => {
    const t = buildApp({ session: { secret: SECRET } });
    const res = await t.browser().get('/boom');
    expect(res.status).to.equal(500);
    const id = idOf(cookieIn(res)!.value);
    expect(t.manager.get(id)?.data).to.deep.equal({ x: 1 });
  });

  it('a session created by a request whose response never carried its cookie is closed', async () => {
    const t = buildApp({
      session: { secret: SECRET },
      routes: {
        '/drop': (req, res) => {
          (req.session as unknown as Record<string, unknown>).x = 1;
          res.socket?.destroy();
        },
      },
    });
    await t
      .browser()
      .get('/drop')
      .catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(t.manager.stats().created).to.equal(1);
    expect(t.manager.stats().live).to.equal(0);
  });
});
