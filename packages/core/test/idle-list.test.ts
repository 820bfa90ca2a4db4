import { expect } from 'chai';
import fc from 'fast-check';
import { IdleList, type IdleNode } from '../src/idle-list.js';

class Item implements IdleNode<Item> {
  prev: Item | undefined = undefined;
  next: Item | undefined = undefined;
  constructor(
    readonly name: string,
    public expiresAt = Infinity,
  ) {}
}

/** The items from oldest to newest, read through the links. */
function order(list: IdleList<Item>): string[] {
  const names: string[] = [];
  for (let item = list.oldest(); item !== undefined; item = item.next) names.push(item.name);
  return names;
}

describe('IdleList (intrusive recency list)', () => {
  it('is empty at first', () => {
    const list = new IdleList<Item>();
    expect(list.size).to.equal(0);
    expect(list.oldest()).to.equal(undefined);
  });

  it('keeps items in order of append, least recent first; delete and append again makes an item the newest', () => {
    const list = new IdleList<Item>();
    const [a, b, c] = [new Item('a'), new Item('b'), new Item('c')];
    list.append(a);
    list.append(b);
    list.append(c);
    expect(order(list)).to.deep.equal(['a', 'b', 'c']);
    list.delete(a);
    list.append(a);
    expect(order(list)).to.deep.equal(['b', 'c', 'a']);
    list.delete(c);
    expect(order(list)).to.deep.equal(['b', 'a']);
    expect(list.size).to.equal(2);
    expect(list.oldest()).to.equal(b);
  });

  it('has() tells an item of the list from one in no list, the only one and the ends included', () => {
    const list = new IdleList<Item>();
    const [a, b] = [new Item('a'), new Item('b')];
    expect(list.has(a)).to.equal(false);
    list.append(a);
    expect(list.has(a)).to.equal(true);
    list.append(b);
    expect([list.has(a), list.has(b)]).to.deep.equal([true, true]);
    list.delete(a);
    expect([list.has(a), list.has(b)]).to.deep.equal([false, true]);
    list.delete(b);
    expect(list.has(b)).to.equal(false);
    expect([b.prev, b.next]).to.deep.equal([undefined, undefined]);
  });

  it('append() answers whether the deadline keeps the expiry order, since the list was last empty', () => {
    const list = new IdleList<Item>();
    const a = new Item('a', 100);
    const b = new Item('b', 100);
    const early = new Item('early', 50);
    const c = new Item('c', 200);
    expect(list.append(a)).to.equal(true);
    expect(list.append(b)).to.equal(true);
    expect(list.append(early)).to.equal(false);
    // The out-of-order item does not lower the mark: an item after it is compared with 100.
    expect(list.append(c)).to.equal(true);
    expect(list.append(new Item('d', 150))).to.equal(false);
    for (let item = list.oldest(); item !== undefined; item = list.oldest()) list.delete(item);
    expect(list.append(new Item('after-empty', 10))).to.equal(true);
  });

  it('matches an array model under any sequence of appends and deletes', () => {
    const op = fc.oneof(fc.record({ append: fc.nat(9) }), fc.record({ remove: fc.nat(9) }));
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const items = Array.from({ length: 10 }, (_, i) => new Item(String(i)));
        const list = new IdleList<Item>();
        const model: Item[] = [];
        for (const o of ops) {
          const item = items['append' in o ? o.append : o.remove]!;
          const at = model.indexOf(item);
          if (at >= 0) {
            list.delete(item);
            model.splice(at, 1);
          }
          if ('append' in o) {
            list.append(item);
            model.push(item);
          }
          expect(order(list)).to.deep.equal(model.map((m) => m.name));
          expect(list.size).to.equal(model.length);
          for (const candidate of items) expect(list.has(candidate)).to.equal(model.includes(candidate));
        }
      }),
    );
  });
});
