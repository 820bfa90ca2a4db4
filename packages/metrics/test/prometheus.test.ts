import { channel } from 'node:diagnostics_channel';
import { expect } from 'chai';
import { HOOK_CHANNEL, OptionError, SessionManager, STORE_CHANNEL, type SessionAdapter } from '@reprise/core';
import { MemoryAdapter } from '@reprise/memory';
import { Registry } from 'prom-client';
import { registerPrometheusMetrics, type PrometheusMetrics } from '../src/index.js';

/** The value of one series in the text exposition format (`undefined` when absent). */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** Resolves once `done()` holds (checked every 5 ms, up to 2 s): writes leave the close through a queue. */
async function until(done: () => boolean): Promise<void> {
  const deadline = Date.now() + 2_000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A MemoryAdapter whose writes fail while `down` is true. */
class FlakyAdapter extends MemoryAdapter implements SessionAdapter {
  down = false;
  override async save(key: string, value: string, ttlMs?: number): Promise<void> {
    if (this.down) throw new Error('store down (test)');
    return super.save(key, value, ttlMs);
  }
  override async saveIfNewer(key: string, value: string, version: number, ttlMs?: number): Promise<boolean> {
    if (this.down) throw new Error('store down (test)');
    return super.saveIfNewer(key, value, version, ttlMs);
  }
  override async saveManyIfNewer(writes: Parameters<MemoryAdapter['saveManyIfNewer']>[0]): Promise<boolean[]> {
    if (this.down) throw new Error('store down (test)');
    return super.saveManyIfNewer(writes);
  }
}

describe('registerPrometheusMetrics', () => {
  let registry: Registry;
  const handles: PrometheusMetrics[] = [];
  const managers: SessionManager[] = [];

  function manager(options: Partial<ConstructorParameters<typeof SessionManager>[0]> = {}): SessionManager {
    const m = new SessionManager({ adapter: new MemoryAdapter(), checkpointInterval: 0, ...options });
    m.on('error', () => undefined);
    managers.push(m);
    return m;
  }
  function register(m: SessionManager, options: Parameters<typeof registerPrometheusMetrics>[1] = {}): PrometheusMetrics {
    const handle = registerPrometheusMetrics(m, { registry, ...options });
    handles.push(handle);
    return handle;
  }

  beforeEach(() => {
    registry = new Registry();
  });
  afterEach(async () => {
    for (const handle of handles.splice(0)) handle.unregister();
    for (const m of managers.splice(0)) await m.shutdown();
  });

  it('reads the gauges and counters from stats() at scrape time: live, created, restored, closed by reason', async () => {
    const m = manager({ maxSessions: 10 });
    register(m);
    const a = m.create({ n: 1 });
    const b = m.create({ n: 2 });
    m.create({ n: 3 });
    await m.close(a.id, 'evicted');
    await m.close(b.id, 'closed');
    const restored = await m.resume(a.id);
    expect(restored.kind).to.equal('restored');
    if (restored.kind === 'restored') m.release(restored.session);
    const text = await registry.metrics();
    expect(sample(text, 'reprise_sessions_live')).to.equal(2);
    expect(sample(text, 'reprise_sessions_created_total')).to.equal(3);
    expect(sample(text, 'reprise_sessions_restored_total')).to.equal(1);
    expect(sample(text, 'reprise_sessions_closed_total{reason="evicted"}')).to.equal(1);
    expect(sample(text, 'reprise_sessions_closed_total{reason="closed"}')).to.equal(1);
    expect(sample(text, 'reprise_sessions_closed_total{reason="expired"}')).to.equal(0);
    expect(sample(text, 'reprise_snapshots_written_total')).to.equal(1);
    expect(text).to.include('# TYPE reprise_sessions_created_total counter');
    expect(text).to.include('# TYPE reprise_sessions_live gauge');
    m.create({ n: 4 });
    expect(sample(await registry.metrics(), 'reprise_sessions_live')).to.equal(3);
  });

  it('times the hooks of each close and restore, and counts hook errors', async () => {
    const m = manager({
      onClose: [
        async () => new Promise((resolve) => setTimeout(resolve, 20)),
        () => {
          throw new Error('hook fails (test)');
        },
      ],
      onRestore: () => undefined,
    });
    register(m);
    const s = m.create({ n: 1 });
    await m.close(s.id, 'expired');
    const back = await m.resume(s.id);
    if (back.kind === 'restored') m.release(back.session);
    const text = await registry.metrics();
    expect(sample(text, 'reprise_hook_duration_seconds_count{kind="close",reason="expired"}')).to.equal(1);
    expect(sample(text, 'reprise_hook_duration_seconds_sum{kind="close",reason="expired"}')).to.be.at.least(0.015);
    expect(sample(text, 'reprise_hook_duration_seconds_bucket{le="0.0005",kind="close",reason="expired"}')).to.equal(0);
    expect(sample(text, 'reprise_hook_duration_seconds_count{kind="restore",reason=""}')).to.equal(1);
    expect(sample(text, 'reprise_hook_errors_total')).to.equal(1);
  });

  it('times every store call by operation and outcome, and counts failed writes and pending ones', async () => {
    const adapter = new FlakyAdapter();
    const m = manager({ adapter });
    register(m);
    await m.close(m.create({ n: 1 }).id, 'evicted');
    await until(() => m.stats().persisted === 1);
    adapter.down = true;
    await m.close(m.create({ n: 2 }).id, 'evicted');
    await until(() => m.stats().persistFailures >= 1);
    const text = await registry.metrics();
    expect(sample(text, 'reprise_store_operation_duration_seconds_count{operation="save",outcome="ok"}')).to.be.at.least(1);
    expect(sample(text, 'reprise_store_operation_duration_seconds_count{operation="save",outcome="error"}')).to.be.at.least(1);
    expect(sample(text, 'reprise_write_failures_total')).to.be.at.least(1);
    expect(sample(text, 'reprise_writes_retrying')).to.equal(1);
    adapter.down = false;
  });

  it('several managers share a registry, told apart by a constant label; a second registration or other label names are refused', async () => {
    const web = manager();
    const api = manager();
    register(web, { labels: { manager: 'web' } });
    register(api, { labels: { manager: 'api' } });
    web.create();
    web.create();
    api.create();
    const text = await registry.metrics();
    expect(sample(text, 'reprise_sessions_live{manager="web"}')).to.equal(2);
    expect(sample(text, 'reprise_sessions_live{manager="api"}')).to.equal(1);
    expect(() => registerPrometheusMetrics(web, { registry, labels: { manager: 'again' } })).to.throw(OptionError, /registered already/);
    expect(() => registerPrometheusMetrics(manager(), { registry, labels: { app: 'x' } })).to.throw(
      OptionError,
      /labels must have the names/,
    );
    // Another prefix is another set of metrics.
    register(manager(), { registry, prefix: 'other_' });
    expect(await registry.metrics()).to.include('other_sessions_live 0');
  });

  it('unregister() takes the manager out; the last one out removes the metrics and the channel subscriptions', async () => {
    const web = manager({ onClose: () => undefined });
    const api = manager({ onClose: () => undefined });
    const first = register(web, { labels: { manager: 'web' } });
    const second = register(api, { labels: { manager: 'api' } });
    await web.close(web.create().id, 'evicted');
    await api.close(api.create().id, 'evicted');
    first.unregister();
    first.unregister();
    let text = await registry.metrics();
    expect(text).to.not.include('manager="web"');
    expect(sample(text, 'reprise_hook_duration_seconds_count{manager="api",kind="close",reason="evicted"}')).to.equal(1);
    expect(channel(HOOK_CHANNEL).hasSubscribers).to.equal(true);
    second.unregister();
    text = await registry.metrics();
    expect(text.trim()).to.equal('');
    expect(channel(HOOK_CHANNEL).hasSubscribers).to.equal(false);
    expect(channel(STORE_CHANNEL).hasSubscribers).to.equal(false);
  });

  it('refuses unknown and wrong options with an OptionError naming them', () => {
    const m = manager();
    expect(() => registerPrometheusMetrics(m, { registry, prefx: 'x_' } as never)).to.throw(
      OptionError,
      /unknown option "prefx" \(did you mean "prefix"\?\)/,
    );
    expect(() => registerPrometheusMetrics(m, { registry, prefix: '1bad' })).to.throw(OptionError, /prefix/);
    expect(() => registerPrometheusMetrics(m, { registry, labels: { reason: 'x' } })).to.throw(OptionError, /labels/);
    expect(() => registerPrometheusMetrics(m, { registry: {} as Registry })).to.throw(OptionError, /Registry/);
    expect(() => registerPrometheusMetrics({} as never, { registry })).to.throw(OptionError, /SessionManager/);
  });
});
