/**
 * Headless Chromium for tests of what a person sees in a browser: Debian's chromium package
 * (CI installs it with `apt-get install chromium`) driven by playwright-core.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';

export interface Chromium {
  context: BrowserContext;
  /** Closes the browser and removes its profile. */
  close(): Promise<void>;
}

/**
 * Starts Chromium with a fresh profile: no cookie, cache or state from anywhere else. No
 * background traffic of its own (updates, sync, QUIC probes), so the page under test is all
 * it loads.
 */
export async function launchChromium(): Promise<Chromium> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: install it with \`apt-get install -y chromium\``);
  }
  const profile = mkdtempSync(join(tmpdir(), 'volley-chromium-'));
  const removeProfile = (): void => rmSync(profile, { recursive: true, force: true });
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  } catch (err) {
    removeProfile();
    throw err;
  }
  return {
    context,
    async close() {
      await context.close();
      removeProfile();
    },
  };
}
