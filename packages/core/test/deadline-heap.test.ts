import { expect } from 'chai';
import fc from 'fast-check';
import { DeadlineHeap } from '../src/deadline-heap.js';

function drain<T>(heap: DeadlineHeap<T>): T[] {
  const out: T[] = [];
  for (let item = heap.shift(); item !== undefined; item = heap.shift()) out.push(item);
  return out;
}

describe('DeadlineHeap', () => {
  it('is empty at first: size 0, peek undefined, peekDeadline Infinity, shift undefined', () => {
    const heap = new DeadlineHeap<string>();
    expect(heap.size).to.equal(0);
    expect(heap.peek()).to.equal(undefined);
    expect(heap.peekDeadline()).to.equal(Infinity);
    expect(heap.shift()).to.equal(undefined);
  });

  it('shifts items in deadline order', () => {
    const heap = new DeadlineHeap<string>();
    heap.set('c', 30);
    heap.set('a', 10);
    heap.set('d', 40);
    heap.set('b', 20);
    expect(heap.size).to.equal(4);
    expect(heap.peek()).to.equal('a');
    expect(heap.peekDeadline()).to.equal(10);
    expect(drain(heap)).to.deep.equal(['a', 'b', 'c', 'd']);
    expect(heap.size).to.equal(0);
  });

  it('moves an item already scheduled instead of adding it twice (earlier and later)', () => {
    const heap = new DeadlineHeap<string>();
    heap.set('a', 10);
    heap.set('b', 20);
    heap.set('c', 30);
    heap.set('a', 35);
    expect(heap.size).to.equal(3);
    expect(heap.peek()).to.equal('b');
    heap.set('c', 5);
    expect(heap.peekDeadline()).to.equal(5);
    expect(drain(heap)).to.deep.equal(['c', 'b', 'a']);
  });

  it('deletes any item, reporting whether it was scheduled', () => {
    const heap = new DeadlineHeap<string>();
    for (const [item, deadline] of [
      ['a', 1],
      ['b', 2],
      ['c', 3],
      ['d', 4],
      ['e', 5],
    ] as const)
      heap.set(item, deadline);
    expect(heap.delete('c')).to.equal(true);
    expect(heap.delete('c')).to.equal(false);
    expect(heap.delete('zz')).to.equal(false);
    expect(heap.has('c')).to.equal(false);
    expect(heap.has('d')).to.equal(true);
    expect(heap.delete('a')).to.equal(true);
    expect(drain(heap)).to.deep.equal(['b', 'd', 'e']);
  });

  it('clear() forgets every item', () => {
    const heap = new DeadlineHeap<object>();
    const item = {};
    heap.set(item, 1);
    heap.clear();
    expect(heap.size).to.equal(0);
    expect(heap.has(item)).to.equal(false);
    heap.set(item, 2);
    expect(heap.peek()).to.equal(item);
  });

  it('matches a sorted model under any sequence of set, delete and shift', () => {
    type Op = { kind: 'set'; item: number; deadline: number } | { kind: 'delete'; item: number } | { kind: 'shift' };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), item: fc.integer({ min: 0, max: 15 }), deadline: fc.integer({ min: 0, max: 50 }) }),
      fc.record({ kind: fc.constant('delete' as const), item: fc.integer({ min: 0, max: 15 }) }),
      fc.record({ kind: fc.constant('shift' as const) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const heap = new DeadlineHeap<number>();
        const model = new Map<number, number>();
        for (const o of ops) {
          if (o.kind === 'set') {
            heap.set(o.item, o.deadline);
            model.set(o.item, o.deadline);
          } else if (o.kind === 'delete') {
            expect(heap.delete(o.item)).to.equal(model.delete(o.item));
          } else {
            const min = Math.min(...model.values());
            const item = heap.shift();
            if (model.size === 0) {
              expect(item).to.equal(undefined);
            } else {
              expect(model.get(item!)).to.equal(min);
              model.delete(item!);
            }
          }
          expect(heap.size).to.equal(model.size);
          expect(heap.peekDeadline()).to.equal(model.size === 0 ? Infinity : Math.min(...model.values()));
        }
      }),
    );
  });
});
