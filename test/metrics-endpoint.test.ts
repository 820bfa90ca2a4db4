import { expect } from 'chai';
import request from 'supertest';
import { createApp } from '@reprise-examples/shop';
import { Browser } from './helpers/browser.js';
import { Lines } from './helpers/lines.js';

describe("the shop's /metrics (Prometheus, @reprise/metrics)", () => {
  it('serves the manager metrics in the text format, and a scrape creates no session', async () => {
    const shop = createApp({ log: new Lines().log, maxSessions: 2 });
    const server = shop.app.listen(0, '127.0.0.1');
    try {
      const visitors = [new Browser(server), new Browser(server), new Browser(server)];
      for (const visitor of visitors) await visitor.post('/cart/apple', 200); // the third evicts the first
      const scrape = await request(server).get('/metrics').expect(200);
      expect(scrape.headers['content-type']).to.match(/^text\/plain; version=0\.0\.4/);
      expect(scrape.headers['set-cookie']).to.equal(undefined);
      expect(scrape.text).to.match(/^reprise_sessions_live 2$/m);
      expect(scrape.text).to.match(/^reprise_sessions_created_total 3$/m);
      expect(scrape.text).to.match(/^reprise_sessions_closed_total\{reason="evicted"\} 1$/m);
      expect(scrape.text).to.match(/^reprise_hook_duration_seconds_count\{kind="close",reason="evicted"\} 1$/m);
      expect(shop.middleware.manager.size).to.equal(2);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await shop.middleware.manager.shutdown();
    }
  });
});
