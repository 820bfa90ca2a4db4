import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Throws unless each workspace (`packages/core`, `examples/shop`, ...) was built after its last
 * source change: tests that run the built dist in a child process must not run stale code.
 */
export function assertBuilt(...workspaces: string[]): void {
  const stale: string[] = [];
  for (const workspace of workspaces) {
    let built: number;
    try {
      built = statSync(join(ROOT, workspace, 'dist', '.tsbuildinfo')).mtimeMs;
    } catch {
      stale.push(`${workspace} (never built)`);
      continue;
    }
    const changed = newest(join(ROOT, workspace, 'src'));
    if (changed > built) stale.push(`${workspace} (src changed after the build)`);
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
