import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { expect } from 'chai';
import type { Browser as Chromium, Page } from 'playwright-core';
import { createApp, type Shop } from '@reprise-examples/shop';
import { Browser } from './helpers/browser.js';
import { launchChromium } from './helpers/chromium.js';
import { Lines } from './helpers/lines.js';

/** The rows of the sessions table: [idPrefix, user, age, idle, expires, data]. */
async function sessionRows(page: Page): Promise<string[][]> {
  return page.$$eval('#sessions tbody tr', (rows) =>
    rows.map((row) => [...row.querySelectorAll('td')].slice(0, 6).map((td) => td.textContent ?? '')),
  );
}

/**
 * Polls through the DevTools protocol (no script evaluated in the page: its Content-Security-Policy
 * forbids eval, and that policy is part of what is tested) until `read` gives `expected`.
 */
async function waitFor<T>(read: () => Promise<T>, expected: T, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = await read();
  while (last !== expected) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} to be ${String(expected)} (last: ${String(last)})`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    last = await read();
  }
}

async function waitForRows(page: Page, count: number): Promise<void> {
  await waitFor(() => page.locator('#sessions tbody tr').count(), count, 'the number of session rows');
}

describe("the shop's live-sessions page in a real browser (Chromium)", function () {
  this.timeout(30_000);
  let chromium: Chromium | undefined;
  let shop: Shop;
  let server: Server;
  let base: string;

  before(async function () {
    chromium = await launchChromium(this);
  });
  after(async () => {
    await chromium?.close();
  });

  beforeEach(async () => {
    shop = createApp({ log: new Lines().log, maxSessions: 10 });
    server = createServer(shop.app.callback());
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const address = server.address();
    base = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
  });
  afterEach(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await shop.middleware.manager.shutdown();
  });

  it('lists live sessions with age, idle time and data size, closes one with its button, and counts the close', async () => {
    const anna = new Browser(server);
    await anna.post('/cart/apple', 200);
    await anna.post('/cart/pear', 200);
    const bob = new Browser(server);
    await bob.post('/login?user=bob', 200);
    await bob.post('/cart/plum', 200);
    const carl = new Browser(server);
    await carl.post('/cart/fig', 200);

    const page = await chromium!.newPage();
    try {
      await page.goto(`${base}/admin/live`);
      await waitForRows(page, 3);
      expect(await page.textContent('#live')).to.equal('3');
      expect(await page.textContent('#cap')).to.equal('10');
      const rows = await sessionRows(page);
      const users = rows.map((row) => row[1]).sort();
      expect(users).to.deep.equal(['bob', '–', '–']);
      for (const [idPrefix, , age, idle, expires, data] of rows) {
        expect(idPrefix).to.match(/^[A-Za-z0-9_-]{6}…$/); // never the whole id: it is a credential
        expect(age).to.match(/^\d+ s$/);
        expect(idle).to.match(/^\d+ s$/);
        expect(expires).to.match(/^\d+ h \d+ min$/); // 480 min idle timeout
        expect(Number.parseInt(data ?? '', 10)).to.be.greaterThan(0);
      }
      // The page's own requests (HTML, JSON polls) never create a session.
      expect((await page.context().cookies()).map((c) => c.name)).to.not.include('reprise.sid');

      const bobRow = page.locator('#sessions tbody tr', { hasText: 'bob' });
      await bobRow.getByRole('button', { name: 'Close' }).click();
      await waitForRows(page, 2);
      expect((await sessionRows(page)).map((row) => row[1])).to.deep.equal(['–', '–']);
      expect(await page.textContent('#status')).to.equal('closed');
      await waitFor(() => page.locator('#closes tbody tr td.closed').first().textContent(), '1', "the minute's count of 'closed'");
      expect(shop.middleware.manager.size).to.equal(2);
    } finally {
      await page.close();
    }

    // Closed explicitly (as a logout): bob's cookie no longer reaches his session, anna's still does.
    expect((await bob.get('/me', 200)).body.user ?? null).to.equal(null);
    expect((await anna.get('/cart', 200)).body.items).to.have.length(2);
  });

  it('a stale close (the session is gone already) answers 404 and closes nothing', async () => {
    const anna = new Browser(server);
    await anna.post('/cart/apple', 200);
    const page = await chromium!.newPage();
    try {
      await page.goto(`${base}/admin/live`);
      await waitForRows(page, 1);
      await shop.middleware.manager.close(shop.middleware.manager.sessions()[0]!.id, 'expired');
      await page.locator('#sessions tbody tr button').click();
      await waitFor(() => page.locator('#status').textContent(), 'not closed: HTTP 404', 'the status line');
      await waitForRows(page, 0);
    } finally {
      await page.close();
    }
  });
});
