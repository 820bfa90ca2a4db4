import { expect } from 'chai';
import { PLACEHOLDER } from '../src/index.js';
describe('@reprise/express placeholder', () => { it('loads', () => expect(PLACEHOLDER).to.equal(true)); });
