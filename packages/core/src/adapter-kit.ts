/**
 * `@reprise/core/adapter-kit`: what authors of persistence adapters, session coordinators and
 * framework bindings need from core, and applications do not.
 *
 * ```ts
 * import type { SessionAdapter } from '@reprise/core';
 * import { adapterError, assertKey, assertTtl, assertValue } from '@reprise/core/adapter-kit';
 * ```
 *
 * - **Argument checks** every `SessionAdapter` makes, with the same messages everywhere (errors of
 *   code `ERR_REPRISE_ADAPTER` whose message starts with the adapter's name): `assertKey`,
 *   `assertValue`, `assertTtl`, `wholeMsTtl`, `assertVersion`, `assertFence`, `assertWrites`,
 *   `describeValue`, and the error factories `adapterError` and `unsentError`.
 * - **Limits** core holds adapters to: `MAX_PERSIST_KEY_LENGTH` (longest key, characters),
 *   `MAX_BATCH_WRITES` (writes per `saveManyIfNewer` call), `DEFAULT_MAX_SNAPSHOT_BYTES`,
 *   `MAX_TIMER_DELAY` (longest delay Node's timers hold, ms).
 * - **Records**: `decodeRecord`, `encodeSnapshot` and `encodePointer`, the codec of the opaque
 *   strings an adapter stores (for tools that read a store, such as an inspector), and
 *   `openSealedRecord` / `sealedKeyId` for records encrypted with `snapshotKeys`.
 * - **Session ids**: `isSessionId` (a binding checks a cookie's id with it), `newSessionId`.
 * - **Coordinators**: `HandoverExchange`, the hand-over protocol apart from how messages travel.
 * - **Reporting**: `redactId` and `describeKey` (a session id is a credential: name it redacted),
 *   `WarningThrottle` (process warnings aggregated per code and window).
 * - **Expiry**: `DeadlineHeap`, an indexed min-heap of deadlines (an adapter's expiry sweep).
 * - **Options** of a binding or an adapter, the one mechanism every Reprise package uses (valibot
 *   underneath): `optionsSchema<Interface>()(fields, defaults)` declares a strict schema that cannot
 *   drift from the documented interface, `parseOptions` turns its first issue into an `OptionError`
 *   (unknown names first, with a "did you mean" hint), and the field schemas (`positiveIntegerField`,
 *   `timerMsField`, `msOrOffField`, `booleanField`, `oneOfField`, ...) carry the shared wording and
 *   limits. `MANAGER_OPTIONS_SCHEMA` and `MANAGER_OPTION_NAMES` are the manager's own, for a binding
 *   that accepts them next to its own; `assertKnownOptions` and `describeOptionValue` for hand checks.
 * - **Framework bindings**: the session cookie's options, the same in Koa, Express and Fastify:
 *   `SessionCookieOptions` (documented), `CookieSettings` (normalized), `COOKIE_DEFAULTS` (frozen),
 *   `COOKIE_OPTIONS_SCHEMA` to nest as a binding's `cookie` option (`COOKIE_FIELDS` for a variant),
 *   and `parseCookieOptions(input, { what })`, whose messages name `cookie.<name>`. For the habits of
 *   express-session and `@fastify/session`: `ReservedNameProxy` (the session object over the data,
 *   answering the binding's method names), `sessionCookieView` (`session.cookie`) and
 *   `settleSessionCall` (a callback or a promise). `CookieLifetimes`: each session's cookie lifetime
 *   and when a response must (re)issue the cookie (sliding by `RENEW_FRACTION`).
 *
 * The contracts themselves (`SessionAdapter`, `SessionCoordinator` and their types) and the errors
 * (`AdapterError`, `OptionError`, `RepriseError`) are exported by the main entry, `@reprise/core`.
 * The conformance suites that prove an adapter or a coordinator are in `@reprise/adapter-tests`.
 *
 * @packageDocumentation
 */
export {
  adapterError,
  unsentError,
  assertKey,
  assertValue,
  assertTtl,
  assertVersion,
  assertFence,
  assertWrites,
  describeValue,
  wholeMsTtl,
  MAX_BATCH_WRITES,
} from './adapter-arguments.js';
export { MAX_PERSIST_KEY_LENGTH } from './live-session.js';
export { MAX_TIMER_DELAY } from './expiry-timer.js';
export { encodeSnapshot, encodePointer, decodeRecord, DEFAULT_MAX_SNAPSHOT_BYTES } from './codec.js';
export { openSealedRecord, sealedKeyId } from './snapshot-cipher.js';
export type { SnapshotPointer, DecodedRecord, EncodeResult } from './codec.js';
export { newSessionId, isSessionId } from './session-id.js';
export { HandoverExchange } from './handover-exchange.js';
export type { HandoverMessage, SendHandoverMessage } from './handover-exchange.js';
export { redactId, describeKey } from './redact.js';
export { WarningThrottle, WARNING_WINDOW_MS } from './warning-throttle.js';
export { DeadlineHeap } from './deadline-heap.js';
export { MANAGER_OPTION_NAMES, MANAGER_OPTIONS_SCHEMA } from './options.js';
export {
  parseOptions,
  optionsSchema,
  mustBe,
  unknownOptionMessage,
  assertKnownOptions,
  describeOptionValue,
  TIMER_LIMIT_REASON,
  integerField,
  positiveIntegerField,
  positiveNumberField,
  msField,
  positiveMsField,
  timerMsField,
  ttlMsField,
  msOrOffField,
  timerMsOrOffField,
  booleanField,
  stringField,
  anyStringField,
  patternField,
  functionField,
  oneOfField,
  customField,
  optionalField,
  notInThisForm,
  listField,
} from './option-schema.js';
export type {
  OptionField,
  OptionFields,
  OptionDefaults,
  DefaultedFields,
  OptionsSchema,
  ParsedOptions,
  FieldsOf,
  ParseContext,
  MsBounds,
} from './option-schema.js';
// Framework bindings: the session cookie's options.
export {
  COOKIE_DEFAULTS,
  COOKIE_FIELDS,
  COOKIE_OPTIONS_SCHEMA,
  COOKIE_TOKEN,
  cookieMaxAgeField,
  cookieTokenField,
  isCookieMaxAge,
  parseCookieOptions,
} from './cookie-options.js';
export type { SessionCookieOptions, CookieSettings } from './cookie-options.js';
export { sessionCookieView, settleSessionCall } from './session-cookie-view.js';
export type { SessionCookie, SessionCallback, CookieLifetime } from './session-cookie-view.js';
export { ReservedNameProxy } from './reserved-name-proxy.js';
export type { ReservedNames } from './reserved-name-proxy.js';
export { CookieLifetimes, RENEW_FRACTION } from './cookie-lifetimes.js';
