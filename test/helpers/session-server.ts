import { Child } from './process.js';

/** The fixture server the process tests run (see its header for the environment it reads). */
export const SESSION_SERVER = 'fixtures/session-server.mjs';

/**
 * Starts the fixture server process with `env`, records it in `started` (for the test's cleanup) and
 * waits for its `listening on <port>` line.
 */
export async function startSessionServer(env: NodeJS.ProcessEnv, started: Child[]): Promise<{ child: Child; base: string }> {
  const child = Child.node(SESSION_SERVER, env);
  started.push(child);
  const [, port] = await child.line(/^listening on (\d+)$/);
  return { child, base: `http://127.0.0.1:${port}` };
}
