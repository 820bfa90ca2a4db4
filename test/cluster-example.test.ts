import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { absorbSetCookies, cookieHeader, type CookieJar } from './helpers/cookie-jar.js';
import { Child } from './helpers/process.js';
import { deleteRedisKeys, requireRedis } from './helpers/services.js';

/** One request of the browser `jar` through the launcher's proxy. */
async function send(
  port: number,
  jar: CookieJar,
  method: string,
  path: string,
): Promise<{ status: number; instance: string | null; body: Record<string, unknown> }> {
  const cookie = cookieHeader(jar);
  const response = await fetch(`http://127.0.0.1:${port}${path}`, { method, headers: cookie === undefined ? {} : { cookie } });
  absorbSetCookies(jar, response.headers.getSetCookie());
  return {
    status: response.status,
    instance: response.headers.get('x-shop-instance'),
    body: (await response.json()) as Record<string, unknown>,
  };
}

/** `npm run cluster -w @reprise-examples/shop` as the README shows it: three shop processes and a round-robin proxy on Redis. */
describe('example shop as a cluster (examples/shop/src/cluster.ts)', function () {
  this.timeout(60_000);
  const prefix = `reprise-test-shop-cluster:${randomUUID()}:`;
  let launcher: Child | undefined;
  before(function () {
    return requireRedis(this);
  });
  afterEach(async () => {
    await launcher?.kill();
    await deleteRedisKeys(prefix);
  });

  it('a cart moves between the processes under one id, survives kill -9 of its owner (takeover from the checkpoint), and Ctrl-C stops everything cleanly', async () => {
    launcher = Child.node('../examples/shop/dist/cluster.js', {
      PORT: '0',
      REPRISE_PREFIX: prefix,
      REPRISE_LEASE_MS: '1500',
      REPRISE_HANDOVER_TIMEOUT_MS: '500',
      REPRISE_CHECKPOINT_INTERVAL_MS: '200',
    });
    const port = Number((await launcher.line(/cluster on http:\/\/127\.0\.0\.1:(\d+)/, 30_000))[1]);
    const jar: CookieJar = new Map();
    const answeredBy = new Set<string>();
    let sessionId: unknown;
    for (let n = 1; n <= 6; n++) {
      const answer = await send(port, jar, 'POST', '/cart/apple');
      expect(answer.status).to.equal(200);
      sessionId ??= answer.body.sessionId;
      expect(answer.body.sessionId, 'the same session every time').to.equal(sessionId);
      expect(answer.body.units).to.equal(n);
      answeredBy.add(answer.instance!);
    }
    expect(answeredBy.size, 'answered by several processes').to.equal(3);
    const owner = (await send(port, jar, 'GET', '/admin/sessions')).body.instance as { id: string; pid: number };
    const linesBeforeKill = launcher.stdout.lines.length;
    process.kill(owner.pid, 'SIGKILL');
    await launcher.line(new RegExp(`${owner.id} \\(pid ${owner.pid}\\) was killed by SIGKILL`));
    const statuses: number[] = [];
    let units: unknown;
    for (const end = Date.now() + 15_000; units === undefined && Date.now() < end; ) {
      const answer = await send(port, jar, 'POST', '/cart/pear');
      statuses.push(answer.status);
      if (answer.status === 200) units = answer.body.units;
      else await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(
      statuses.slice(0, -1).every((status) => status === 503),
      `${statuses.join(' ')}: 503 until the takeover`,
    ).to.equal(true);
    expect(units, 'the six apples and the pear, under the same id').to.equal(7);
    // Restored by a survivor from the newest record: the dead owner's checkpoint when it wrote one
    // after it restored the session, or else the hand-over snapshot it had restored from (a loaded
    // machine can kill it within the first checkpoint interval). Either holds all six apples.
    const takeover = /^\[(shop-\d+)\] \[reprise\] restored .* \(closed: (checkpoint|handover)\) under the same id/;
    const restoredAfterKill = async (): Promise<RegExpExecArray | undefined> => {
      for (const end = Date.now() + 15_000; Date.now() < end; await new Promise((resolve) => setTimeout(resolve, 50))) {
        for (const line of launcher!.stdout.lines.slice(linesBeforeKill)) {
          const match = takeover.exec(line);
          if (match) return match;
        }
      }
      return undefined;
    };
    const restored = await restoredAfterKill();
    expect(restored, 'a surviving instance restored the session after the kill').to.not.equal(undefined);
    expect(restored![1], 'not by the killed instance').to.not.equal(owner.id);
    launcher.process.kill('SIGTERM');
    await launcher.line(/\[cluster\] stopped$/, 30_000);
    expect(await launcher.exited).to.deep.equal({ code: 0, signal: null });
  });
});
