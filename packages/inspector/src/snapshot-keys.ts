import type { SnapshotKey } from '@reprise/core';
import { usageError } from './errors.js';

/** The environment variable holding the application's `snapshotKeys` for the inspector. */
export const SNAPSHOT_KEYS_ENV = 'REPRISE_SNAPSHOT_KEYS';

/**
 * The `snapshotKeys` to open encrypted records with, from `REPRISE_SNAPSHOT_KEYS`:
 * `id:base64[,id:base64...]` (the application's key ids and keys). Only from the environment, never
 * from an option: command lines are visible to every user of the machine (`ps`). `undefined` when
 * unset. The keys themselves are checked where they are used (`openSealedRecord`), which never
 * prints them.
 * @throws InspectorError `ERR_REPRISE_INSPECTOR_USAGE` on an entry that is not `id:key`.
 */
export function snapshotKeysFrom(env: NodeJS.ProcessEnv): readonly SnapshotKey[] | undefined {
  const raw = env[SNAPSHOT_KEYS_ENV];
  if (raw === undefined || raw.trim() === '') return undefined;
  return Object.freeze(
    raw.split(',').map((entry, index) => {
      const colon = entry.indexOf(':');
      const id = entry.slice(0, colon).trim();
      const key = entry.slice(colon + 1).trim();
      if (colon <= 0 || key === '') throw usageError(`${SNAPSHOT_KEYS_ENV} entry ${index + 1} must be id:base64-key`);
      return Object.freeze({ id, key });
    }),
  );
}
