import { expect } from 'chai';
import { buildApp, cookieIn, isClearing, SECRET } from './support/app.js';

describe("express-session's habits", () => {
  it('req.session.id and req.sessionID name the session; methods and cookie are not data (never enumerated or stored)', async () => {
    const t = buildApp({
      session: { secret: SECRET },
      routes: {
        '/habits': (req, res) => {
          const id = req.session.id;
          (req.session as unknown as Record<string, unknown>).cart = 'apple';
          res.json({
            id,
            sessionID: req.sessionID,
            keys: Object.keys(req.session),
            json: JSON.parse(JSON.stringify(req.session)),
            maxAge: req.session.cookie.maxAge,
          });
        },
      },
    });
    const res = await t.browser().get('/habits');
    expect(res.body.sessionID).to.equal(res.body.id);
    expect(res.body.keys).to.deep.equal(['cart']);
    expect(res.body.json).to.deep.equal({ cart: 'apple' });
    expect(res.body.maxAge).to.equal(7 * 24 * 3_600_000);
    expect(t.manager.get(String(res.body.id))!.data).to.deep.equal({ cart: 'apple' });
  });

  it('destroy(cb) closes the session and clears the cookie', async () => {
    const t = buildApp({
      session: { secret: SECRET },
      routes: { '/destroy': (req, res) => req.session.destroy(() => res.json({ ok: true })) },
    });
    const alice = t.browser();
    await alice.get('/set?cart=apple');
    const id = alice.sid!;
    const res = await alice.get('/destroy');
    expect(isClearing(cookieIn(res))).to.equal(true);
    expect(t.manager.get(id)).to.equal(undefined);
  });

  it('regenerate(cb) gives a new id with empty data; the old id stops working', async () => {
    const t = buildApp({
      session: { secret: SECRET },
      routes: {
        '/login': (req, res) =>
          req.session.regenerate(
            () => (((req.session as unknown as Record<string, unknown>).user = 'alice'), res.json({ id: req.session.id })),
          ),
      },
    });
    const alice = t.browser();
    await alice.get('/set?cart=apple');
    const old = alice.sid!;
    const res = await alice.get('/login');
    expect(res.body.id).to.not.equal(old);
    expect(alice.sid).to.equal(res.body.id);
    expect(t.manager.get(String(res.body.id))!.data).to.deep.equal({ user: 'alice' });
    expect(t.manager.get(old)).to.equal(undefined);
  });

  it('save(cb), reload(cb) succeed at once; touch() and resetMaxAge() work; the promise forms resolve', async () => {
    const t = buildApp({
      session: { secret: SECRET },
      routes: {
        '/calls': async (req, res) => {
          (req.session as unknown as Record<string, unknown>).n = 1;
          await new Promise<void>((resolve, reject) =>
            req.session.save((error) => (error === undefined ? resolve() : reject(error as Error))),
          );
          await new Promise<void>((resolve, reject) =>
            req.session.reload((error) => (error === undefined ? resolve() : reject(error as Error))),
          );
          await req.session.save();
          req.session.touch();
          req.session.cookie.maxAge = 60_000;
          req.session.resetMaxAge();
          res.json({ maxAge: req.session.cookie.maxAge });
        },
      },
    });
    const res = await t.browser().get('/calls');
    expect(res.status).to.equal(200);
    expect(res.body.maxAge).to.equal(7 * 24 * 3_600_000);
  });

  it('req.session.cookie.maxAge = ms ("remember me") re-issues the cookie with that lifetime', async () => {
    const t = buildApp({
      session: { secret: SECRET },
      routes: { '/remember': (req, res) => ((req.session.cookie.maxAge = 30 * 24 * 3_600_000), res.json({})) },
    });
    const alice = t.browser();
    await alice.get('/set?cart=apple');
    const res = await alice.get('/remember');
    expect(cookieIn(res)!.attributes['max-age']).to.equal(String(30 * 24 * 3600));
  });

  it('assigning a method name, cookie.expires or req.sessionStore throws a clear error naming the equivalent', async () => {
    const t = buildApp({
      session: { secret: SECRET },
      routes: {
        '/wrong': (req, res) => {
          const messages: string[] = [];
          for (const attempt of [
            () => ((req.session as unknown as Record<string, unknown>).save = 1),
            () => ((req.session.cookie as unknown as { expires: Date }).expires = new Date()),
            () => (req as unknown as { sessionStore: unknown }).sessionStore,
          ]) {
            try {
              attempt();
              messages.push('no error');
            } catch (error) {
              messages.push((error as Error).message);
            }
          }
          res.json({ messages });
        },
      },
    });
    const res = await t.browser().get('/wrong');
    const messages = res.body.messages as string[];
    expect(messages[0]).to.include('not a data key');
    expect(messages[1]).to.include('cookie.maxAge');
    expect(messages[2]).to.include('manager');
    expect(t.manager.stats().live, 'none of these created a session').to.equal(0);
  });
});
