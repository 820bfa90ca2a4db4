export { KeyvAdapter } from './keyv-adapter.js';
