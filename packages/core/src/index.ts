/**
 * `@reprise/core`: the framework-free engine of Reprise. Applications use `SessionManager` (through a
 * binding such as `@reprise/koa`, or directly), its options, events, stats and errors; framework
 * bindings drive it per request with `SessionRequest`.
 *
 * What only adapter, coordinator and binding authors need (argument checks, the record codec,
 * session-id helpers, the hand-over protocol, option helpers) is in `@reprise/core/adapter-kit`.
 *
 * @packageDocumentation
 */
export type {
  CloseReason,
  InvoluntaryReason,
  SnapshotReason,
  SessionState,
  SessionData,
  Snapshot,
  CloseHook,
  RestoreHook,
  LiveSessionView,
  SessionAdapter,
  VersionedValue,
  VersionedWrite,
  Fence,
} from './types.js';
export {
  RepriseError,
  OptionError,
  HookError,
  CodecError,
  PersistError,
  RestoreError,
  PersistKeyError,
  SessionClosedError,
  ListenerError,
  AdapterError,
  SessionUnavailableError,
  UnsupportedError,
} from './errors.js';
export type { RepriseErrorCode } from './errors.js';
export type { SessionCoordinator, CoordinatorMember, Lease, LeaseRenewal, Claim, HandoverOutcome } from './coordinator.js';
export { SessionManager } from './session-manager.js';
export type { ManagerEvents, Resumption } from './session-manager.js';
export { SessionRequest } from './request.js';
export type { CookieAction, SessionRequestOptions } from './request.js';
export type { LiveSession } from './live-session.js';
export { DEFAULTS } from './options.js';
export type { SessionManagerOptions, CoordinationOptions, RuntimeOptionName, Settings } from './options.js';
export type { ManagerStats } from './stats.js';
export type { SnapshotKey } from './snapshot-keys.js';
export { HOOK_CHANNEL, STORE_CHANNEL } from './instrumentation.js';
export type { HookTiming, StoreTiming } from './instrumentation.js';
