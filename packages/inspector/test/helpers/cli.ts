import { execFile } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGES = fileURLToPath(new URL('../../..', import.meta.url));
/** The built bin, as `npx reprise` runs it. */
export const CLI = join(PACKAGES, 'inspector', 'dist', 'cli.js');

/** What a run of the CLI did. */
export interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout as bytes (for `show --raw`). */
  readonly bytes: Buffer;
}

/**
 * Runs `node dist/cli.js ...args` in a child process, without the `REPRISE_*` variables of this
 * process (plus `env`); resolves when it exits (never rejects on a non-zero exit).
 */
export function reprise(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(childEnv)) if (name.startsWith('REPRISE_') || name === 'NODE_OPTIONS') delete childEnv[name];
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { env: { ...childEnv, ...env }, encoding: 'buffer', timeout: 30_000, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
        if (code === null) reject(error);
        else resolve({ code, stdout: stdout.toString('utf8'), stderr: stderr.toString('utf8'), bytes: stdout });
      },
    );
  });
}

/** The JSON objects of NDJSON output. */
export function jsonLines<T = Record<string, unknown>>(stdout: string): T[] {
  return stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as T);
}

/**
 * Throws unless the inspector and the packages it runs were built after their last source change:
 * the tests run the built bin, never stale code (as test/helpers/build.ts at the root does).
 */
export function assertBuilt(): void {
  const stale: string[] = [];
  for (const workspace of ['core', 'redis', 'postgres', 'inspector']) {
    let built: number;
    try {
      built = statSync(join(PACKAGES, workspace, 'dist', '.tsbuildinfo')).mtimeMs;
    } catch {
      stale.push(`${workspace} (never built)`);
      continue;
    }
    if (newest(join(PACKAGES, workspace, 'src')) > built) stale.push(`${workspace} (src changed after the build)`);
  }
  if (stale.length > 0) throw new Error(`run \`npx tsc -b\` at the root first: ${stale.join(', ')}`);
}

function newest(dir: string): number {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return latest;
}
