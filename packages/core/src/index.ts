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
} from './errors.js';
export type { RepriseErrorCode } from './errors.js';
export type { SessionCoordinator, CoordinatorMember, Lease, LeaseRenewal, Claim, HandoverOutcome } from './coordinator.js';
export { HandoverExchange } from './handover-exchange.js';
export type { HandoverMessage, SendHandoverMessage } from './handover-exchange.js';
export { DeadlineHeap } from './deadline-heap.js';
export { newSessionId, isSessionId } from './session-id.js';
export { SessionManager } from './session-manager.js';
export type { ManagerEvents, Resumption } from './session-manager.js';
export { SessionRequest } from './request.js';
export type { CookieAction, SessionRequestOptions } from './request.js';
export { redactId, describeKey } from './redact.js';
export { WarningThrottle, WARNING_WINDOW_MS } from './warning-throttle.js';
export { LiveSession, MAX_PERSIST_KEY_LENGTH } from './live-session.js';
export { DEFAULTS, describeOptionValue, assertKnownOptions, MANAGER_OPTION_NAMES } from './options.js';
export type { SessionManagerOptions, RuntimeOptionName, Settings } from './options.js';
export type { ManagerStats } from './stats.js';
export { encodeSnapshot, encodePointer, decodeRecord, DEFAULT_MAX_SNAPSHOT_BYTES } from './codec.js';
export type { SnapshotPointer, DecodedRecord, EncodeResult } from './codec.js';
export { MAX_TIMER_DELAY } from './expiry-timer.js';
export { adapterError, unsentError, assertKey, assertValue, assertTtl, assertVersion, assertFence, assertWrites, MAX_BATCH_WRITES, describeValue, wholeMsTtl } from './adapter-arguments.js';
export { openSealedRecord, sealedKeyId } from './snapshot-cipher.js';
export type { SnapshotKey } from './snapshot-keys.js';
