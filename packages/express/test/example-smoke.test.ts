import { expect } from 'chai';
import request from 'supertest';
import { createApp } from '@reprise-examples/express';
import { cookieIn, idOf } from './support/app.js';

describe('the example cart app', () => {
  it('lazy reads, a cart in the session, restore after eviction, login regenerates, logout runs the hook and clears the cookie', async () => {
    const lines: string[] = [];
    const { app, manager } = createApp({ maxSessions: 1, log: (line) => lines.push(line) });
    try {
      const look = await request(app).get('/cart');
      expect(look.body).to.deep.equal({ cart: [], user: null });
      expect(look.headers['set-cookie']).to.equal(undefined);

      const add = await request(app).post('/cart').send({ item: 'apple' });
      const cookie = cookieIn(add as never)!;
      const jar = `reprise.sid=${encodeURIComponent(cookie.value)}`;
      await request(app).post('/cart').send({ item: 'pear' }); // a second visitor evicts the first (cap 1)
      expect(lines.some((line) => line.startsWith('evicted'))).to.equal(true);

      const back = await request(app).get('/cart').set('Cookie', jar);
      expect(back.body.cart).to.deep.equal(['apple']);
      expect(lines.some((line) => line.startsWith('restored'))).to.equal(true);

      const login = await request(app).post('/login').set('Cookie', jar).send({ user: 'alice' });
      expect(login.body).to.deep.equal({ user: 'alice', cart: ['apple'] });
      const renewed = cookieIn(login as never)!;
      expect(idOf(renewed.value)).to.not.equal(idOf(cookie.value));

      const out = await request(app)
        .post('/logout')
        .set('Cookie', `reprise.sid=${encodeURIComponent(renewed.value)}`);
      expect(cookieIn(out as never)!.value).to.equal('');
      expect(lines.some((line) => line.startsWith('logout') && line.includes('cart of 1 abandoned'))).to.equal(true);
    } finally {
      await manager.shutdown();
    }
  });
});
