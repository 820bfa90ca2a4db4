import { Readable } from 'node:stream';
import { expect } from 'chai';
import { bag, buildApp, cookieIn, idOf, isClearing, SECRET } from './support/app.js';

describe('the response lifecycle (no await next() in Express)', () => {
  it('a streamed response (res.write before res.end) still carries the cookie of a session created before it', async () => {
    const t = buildApp({
      session: { secret: SECRET },
      routes: {
        '/stream': (req, res) => {
          bag(req).cart = 'apple';
          res.write('a');
          setImmediate(() => res.end('b'));
        },
      },
    });
    const res = await t.browser().get('/stream');
    expect(res.text).to.equal('ab');
    const id = idOf(cookieIn(res)!.value);
    expect(t.manager.get(id)!.data).to.deep.equal({ cart: 'apple' });
  });

  it('a piped stream and res.flushHeaders() decide the cookie when the headers go out', async () => {
    const t = buildApp({
      session: { secret: SECRET },
      routes: {
        '/pipe': (req, res) => {
          bag(req).n = 1;
          Readable.from(['x', 'y']).pipe(res);
        },
        '/flush': (req, res) => {
          req.session = null;
          res.flushHeaders();
          res.end('z');
        },
      },
    });
    const alice = t.browser();
    const piped = await alice.get('/pipe');
    expect(cookieIn(piped), 'the cookie went out with the piped body').to.not.equal(undefined);
    const flushed = await alice.get('/flush');
    expect(isClearing(cookieIn(flushed))).to.equal(true);
  });

  it('res.end waits for a closing hook started by the request, then sends the cleared cookie', async () => {
    let hookDone = false;
    let hookDoneAtFinish = false;
    const t = buildApp({
      session: {
        secret: SECRET,
        onClose: async () => {
          await new Promise((resolve) => setTimeout(resolve, 30));
          hookDone = true;
        },
      },
      routes: {
        '/bye': (req, res) => {
          req.session = null;
          res.on('finish', () => (hookDoneAtFinish = hookDone));
          res.json({ ok: true });
        },
      },
    });
    const alice = t.browser();
    await alice.get('/set?x=1');
    const res = await alice.get('/bye');
    expect(hookDoneAtFinish, 'the response was held until the hook ended').to.equal(true);
    expect(isClearing(cookieIn(res))).to.equal(true);
  });

  it('the hold ends when the response is done: an idle session can then be evicted', async () => {
    const t = buildApp({ session: { secret: SECRET, maxSessions: 1 } });
    const alice = t.browser();
    await alice.get('/set?x=1');
    await new Promise((resolve) => setImmediate(resolve));
    expect(t.manager.stats().busy).to.equal(0);
    await t.browser().get('/set?y=2');
    expect(t.manager.get(alice.sid!)).to.equal(undefined);
  });

  it('a write after the response went out is ignored and reported, never a crash', async () => {
    const t = buildApp({
      session: { secret: SECRET },
      routes: {
        '/late': (req, res) => {
          res.json({ ok: true });
          setTimeout(() => (bag(req).late = 1), 10);
        },
      },
    });
    const res = await t.browser().get('/late');
    expect(cookieIn(res)).to.equal(undefined);
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(t.manager.stats().live).to.equal(0);
    expect(t.errors.map((error) => error.message).join()).to.include('late');
  });
});
