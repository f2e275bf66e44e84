/**
 * Browser tests of the Datadive JupyterLab extension.
 *
 * Playwright drives Debian's chromium (no browser is downloaded: CHROMIUM overrides
 * the path) against real JupyterLab servers that the fixtures in fixtures.ts start,
 * the way `make run` does. One worker: the machines have 2 cores, and each test
 * shares them with a JupyterLab server and a kernel.
 */
import { defineConfig } from '@playwright/test';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

export default defineConfig({
  testDir: '.',
  testMatch: '**/*.spec.ts',
  testIgnore: ['**/node_modules/**'],
  outputDir: 'test-results',
  globalSetup: './global-setup.ts',
  timeout: 60_000,
  expect: { timeout: 15_000 },
  workers: 1,
  fullyParallel: false,
  retries: 0,
  forbidOnly: !!process.env.CI,
  reporter: 'list',
  use: {
    browserName: 'chromium',
    headless: true,
    viewport: { width: 1400, height: 900 },
    actionTimeout: 15_000,
    navigationTimeout: 45_000,
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
    launchOptions: {
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
        '--disable-dev-shm-usage'
      ]
    }
  }
});
