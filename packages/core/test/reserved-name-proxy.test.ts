import { expect } from 'chai';
import { ReservedNameProxy } from '../src/reserved-name-proxy.js';

describe('binding kit: ReservedNameProxy', () => {
  it('answers reserved names itself, refuses writing, defining and deleting them, and passes the rest to the data', () => {
    let data: Record<string, unknown> = { views: 1 };
    const proxy = new ReservedNameProxy<Record<string, unknown>>(() => data, {
      has: (property) => property === 'save',
      read: () => 'the method',
      refuse: (property) => {
        throw new TypeError(`${String(property)} is reserved`);
      },
    });
    const object = proxy.object;
    expect(object.save).to.equal('the method');
    expect(object.views).to.equal(1);
    object.views = 2;
    expect(data.views).to.equal(2);
    expect(Object.keys(object)).to.deep.equal(['views']);
    expect(JSON.stringify(object)).to.equal('{"views":2}');
    expect(() => {
      object.save = 1;
    }).to.throw(TypeError, 'save is reserved');
    expect(() => Object.defineProperty(object, 'save', { value: 1 })).to.throw(TypeError, 'save is reserved');
    expect(() => delete object.save).to.throw(TypeError, 'save is reserved');
    expect(Object.hasOwn(data, 'save')).to.equal(false);
    expect(proxy.object).to.equal(object);
    data = { other: true };
    expect(proxy.object).to.not.equal(object);
    expect(proxy.object.other).to.equal(true);
  });
});
