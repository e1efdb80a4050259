import { mkdirSync } from 'node:fs';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';

/** Debian's chromium; `npm test` installs it (scripts/ensure-debian-deps.sh). */
export const CHROMIUM = process.env.MESHGATE_CHROMIUM ?? '/usr/bin/chromium';

/** Screenshots land here (gitignored); CI keeps them as artifacts. */
export const ARTIFACTS = fileURLToPath(new URL('../../../test-artifacts/console/', import.meta.url));

/** Headless Chromium with nothing that talks to the network on its own. Playwright gives it a fresh profile directory. */
export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
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
    timeout: 30_000,
  });
}

/** A page that records uncaught errors and console errors, so a test can assert there were none. */
export interface WatchedPage {
  readonly page: Page;
  readonly pageErrors: Error[];
  readonly consoleErrors: string[];
}

export async function openPage(t: TestContext | null, browser: Browser, url?: string): Promise<WatchedPage> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  t?.after(() => context.close());
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  const watched: WatchedPage = { page, pageErrors: [], consoleErrors: [] };
  page.on('pageerror', (err) => watched.pageErrors.push(err));
  page.on('console', (msg) => {
    if (msg.type() === 'error') watched.consoleErrors.push(msg.text());
  });
  if (url !== undefined) await page.goto(url);
  return watched;
}

/** Saves a full-page screenshot as test-artifacts/console/<name>.png and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = `${ARTIFACTS}${name}.png`;
  await page.screenshot({ path, fullPage: true });
  return path;
}
