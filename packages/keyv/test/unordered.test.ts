import { expect } from 'chai';
import { Keyv } from 'keyv';
import { KeyvAdapter } from '../src/index.js';

/**
 * Keyv offers no conditional write and no atomic read-and-update of a version next to a value, so
 * the adapter is not ordered: it has neither saveIfNewer nor takeVersioned, nor the batch
 * saveManyIfNewer (the core then falls back to save and take; the README says what is weaker), and
 * the conformance suite skips those checks with the reason.
 */
describe('KeyvAdapter is not ordered', () => {
  it('has no saveIfNewer and no takeVersioned (not even on its prototype)', () => {
    const adapter = new KeyvAdapter(new Keyv({ throwOnErrors: true }));
    expect(adapter).not.to.have.property('saveIfNewer');
    expect(adapter).not.to.have.property('takeVersioned');
    expect('saveIfNewer' in adapter || 'takeVersioned' in adapter).to.equal(false);
  });

  it('has no saveManyIfNewer (a batch of conditional writes is for ordered adapters: the core falls back)', () => {
    const adapter = new KeyvAdapter(new Keyv({ throwOnErrors: true }));
    expect('saveManyIfNewer' in adapter).to.equal(false);
  });
});
