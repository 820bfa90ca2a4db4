/**
 * Helpers of this repository's own adapter tests (`@reprise/adapter-tests/internal`), not part of the
 * published API. The subpath resolves only under the repository's `@reprise/source` export
 * condition, which its mocha runs and `tsconfig.test.json` set; anywhere else it is not exported.
 *
 * @packageDocumentation
 */
export { expectRejection, expectOptionError } from './expect-error.js';
