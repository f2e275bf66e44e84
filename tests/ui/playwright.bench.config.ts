/**
 * Playwright configuration of the UI benchmark (`bench_ui.bench.ts`), run on demand:
 *
 *   cd tests/ui && npx playwright test -c playwright.bench.config.ts
 *
 * The normal suite (`playwright.config.ts`) matches `*.spec.ts` only, so it never runs
 * `*.bench.ts`. This file reuses its browser, servers and global setup, and allows a
 * long run (servers, 1,000 templates, 500-cell notebooks).
 */
import { defineConfig } from '@playwright/test';
import base from './playwright.config';

export default defineConfig({
  ...base,
  testMatch: '**/*.bench.ts',
  outputDir: 'test-results/bench', // git-ignored with test-results/
  timeout: 15 * 60_000,
  retries: 0,
  reporter: [['list', { printSteps: false }]],
  use: {
    ...base.use,
    // No trace: Playwright's trace snapshots the whole DOM in the page after every
    // action (about a second of main-thread time on a 500-cell notebook), which
    // would land inside the measured intervals.
    trace: 'off',
    screenshot: 'off',
    video: 'off'
  }
});
