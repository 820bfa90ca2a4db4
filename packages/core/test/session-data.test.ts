import { expect } from 'chai';
import { installClock, type Clock } from './support/clock.js';
import { makeManager } from './support/manager.js';

type Data = Record<string, unknown>;

describe('LiveSession.data: reserved key names', () => {
  let clock: Clock;
  beforeEach(() => {
    clock = installClock();
  });
  afterEach(() => {
    clock.uninstall();
  });

  const payload = (): Record<string, unknown> => JSON.parse('{"__proto__": {"isAdmin": true}, "name": "ann"}') as Record<string, unknown>;

  it('Object.assign of parsed JSON carrying __proto__ makes it an own property; the prototype never changes', () => {
    const { manager } = makeManager<Data>();
    const s = manager.create();
    Object.assign(s.data, payload());
    expect(Object.getPrototypeOf(s.data)).to.equal(Object.prototype);
    expect(s.data.isAdmin).to.equal(undefined);
    expect(Object.getOwnPropertyNames(s.data)).to.have.members(['__proto__', 'name']);
    expect(s.data.name).to.equal('ann');
  });

  it('assigning __proto__ directly is an own property too', () => {
    const { manager } = makeManager<Data>();
    const s = manager.create();
    (s.data as Record<string, unknown>)['__proto__'] = { isAdmin: true };
    s.data.__proto__ = { isAdmin: true };
    expect(Object.getPrototypeOf(s.data)).to.equal(Object.prototype);
    expect(s.data.isAdmin).to.equal(undefined);
    expect(Object.hasOwn(s.data, '__proto__')).to.equal(true);
  });

  it('data given to create() or assigned whole keeps Object.prototype', () => {
    const { manager } = makeManager<Data>();
    const s = manager.create(payload());
    expect(Object.getPrototypeOf(s.data)).to.equal(Object.prototype);
    expect(s.data.isAdmin).to.equal(undefined);
    s.data = payload();
    expect(Object.getPrototypeOf(s.data)).to.equal(Object.prototype);
    expect(s.data.isAdmin).to.equal(undefined);
  });

  it('at close the reserved key is dropped with a report and the rest of the snapshot is written', async () => {
    const { manager, adapter, events } = makeManager<Data>();
    const s = manager.create();
    Object.assign(s.data, payload());
    await manager.close(s.id, 'expired');
    const record = adapter.record(s.id);
    expect(record?.kind).to.equal('snapshot');
    expect(record?.kind === 'snapshot' && record.snapshot.data).to.deep.equal({ name: 'ann' });
    expect(events.errors.map((e) => e.code)).to.deep.equal(['ERR_REPRISE_CODEC']);
    expect(events.persistFailed).to.deep.equal([]);
  });
});
