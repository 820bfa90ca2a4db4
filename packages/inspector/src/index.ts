/**
 * `@reprise/inspector`: the `reprise` command (see the README). The exports are for running it from
 * code and for tools that want the same readable form of session data.
 */
export { main } from './main.js';
export type { Io } from './context.js';
export { EXIT_CODES, InspectorError } from './errors.js';
export type { InspectorErrorCode } from './errors.js';
export { readable } from './readable.js';
export type { Json } from './readable.js';
