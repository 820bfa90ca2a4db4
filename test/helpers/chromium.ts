import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { requireService } from './services.js';

/** Debian's Chromium (`apt-get install chromium`), or the one `CHROMIUM_PATH` names. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/**
 * For a `before` hook: a headless Chromium driven by playwright-core. Without one, the suite is
 * skipped, or fails under CI (where `.ci/run` installs it).
 */
export async function launchChromium(context: Mocha.Context): Promise<Browser | undefined> {
  let browser: Browser | undefined;
  await requireService(context, `Chromium at ${CHROMIUM_PATH}`, async () => {
    if (!existsSync(CHROMIUM_PATH)) throw new Error('not installed (apt-get install chromium)');
    // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: ['--no-sandbox'] });
  });
  return browser;
}
