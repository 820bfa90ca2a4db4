import { expect } from 'chai';
import { RecencyList } from '../src/recency-list.js';

function order<T>(list: RecencyList<T>): T[] {
  const copy: T[] = [];
  // Drain a copy of the order through oldest()/delete() then restore it.
  for (let item = list.oldest(); item !== undefined; item = list.oldest()) {
    copy.push(item);
    list.delete(item);
  }
  for (const item of copy) list.touch(item);
  return copy;
}

describe('RecencyList', () => {
  it('is empty at first', () => {
    const list = new RecencyList<string>();
    expect(list.size).to.equal(0);
    expect(list.oldest()).to.equal(undefined);
  });

  it('keeps items in order of last touch, least recent first', () => {
    const list = new RecencyList<string>();
    list.touch('a');
    list.touch('b');
    list.touch('c');
    expect(list.oldest()).to.equal('a');
    list.touch('a');
    expect(order(list)).to.deep.equal(['b', 'c', 'a']);
    list.touch('c');
    expect(order(list)).to.deep.equal(['b', 'a', 'c']);
    expect(list.size).to.equal(3);
  });

  it('delete removes an item and reports whether it was there', () => {
    const list = new RecencyList<string>();
    list.touch('a');
    list.touch('b');
    expect(list.delete('a')).to.equal(true);
    expect(list.delete('a')).to.equal(false);
    expect(list.has('a')).to.equal(false);
    expect(list.has('b')).to.equal(true);
    expect(list.oldest()).to.equal('b');
  });
});
