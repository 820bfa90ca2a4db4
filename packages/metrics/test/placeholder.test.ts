import { expect } from 'chai';
import { PLACEHOLDER } from '../src/index.js';
describe('@reprise/metrics placeholder', () => { it('loads', () => expect(PLACEHOLDER).to.equal(true)); });
