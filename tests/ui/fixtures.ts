/**
 * Playwright fixtures: JupyterLab servers per flavour, started lazily on first use and
 * kept for the worker's life (one worker: the whole run, unless a test fails, after
 * which Playwright starts a new worker and so fresh servers).
 *
 *   import { test, expect } from './fixtures';
 *   test('...', async ({ page, server }) => { ... });      // flavour 'collab'
 *   test.describe('without RTC', () => {
 *     test.use({ flavour: 'nocollab' });
 *     test('...', async ({ page, server }) => { ... });
 *   });
 *
 * `collabServer` / `nocollabServer` give one flavour explicitly; `labServers.start()`
 * starts an extra server with its own options (stopped with the worker).
 */
import { test as base, expect } from '@playwright/test';
import { Flavour, LabServer, StartOptions, startLabServer, stopLabServer } from './server';

export interface LabServerPool {
  /** The shared server of a flavour, started on first request. */
  get(flavour: Flavour): Promise<LabServer>;
  /** Whether the shared server of a flavour is already running. */
  has(flavour: Flavour): boolean;
  /** An extra server of its own (for a test that needs other options); stopped with the worker. */
  start(options: StartOptions): Promise<LabServer>;
  /** Stop a server now (a shared one is started afresh on the next `get`). */
  stop(server: LabServer): Promise<void>;
}

interface TestFixtures {
  /** Which flavour `server` is: 'collab' (default) or 'nocollab'. */
  flavour: Flavour;
  server: LabServer;
  collabServer: LabServer;
  nocollabServer: LabServer;
}

interface WorkerFixtures {
  labServers: LabServerPool;
}

/** Time a server may take to start, added to the timeout of the test that starts it. */
const START_BUDGET_MS = 90_000;

export const test = base.extend<TestFixtures, WorkerFixtures>({
  labServers: [
    // eslint-disable-next-line no-empty-pattern
    async ({}, use) => {
      const shared = new Map<Flavour, Promise<LabServer>>();
      const extra = new Set<LabServer>();
      const pool: LabServerPool = {
        get(flavour) {
          let s = shared.get(flavour);
          if (!s) {
            s = startLabServer({ flavour, startTimeout: START_BUDGET_MS });
            shared.set(flavour, s);
            s.catch(() => shared.delete(flavour));
          }
          return s;
        },
        has(flavour) {
          return shared.has(flavour);
        },
        async start(options) {
          const s = await startLabServer({ startTimeout: START_BUDGET_MS, ...options });
          extra.add(s);
          return s;
        },
        async stop(server) {
          for (const [f, p] of shared) {
            if ((await p.catch(() => null)) === server) {
              shared.delete(f);
            }
          }
          extra.delete(server);
          await stopLabServer(server);
        }
      };
      await use(pool);
      const all: LabServer[] = [...extra];
      for (const p of shared.values()) {
        const s = await p.catch(() => null);
        if (s) {
          all.push(s);
        }
      }
      await Promise.all(all.map(s => stopLabServer(s)));
    },
    { scope: 'worker', timeout: 60_000 }
  ],

  flavour: ['collab', { option: true }],

  server: async ({ labServers, flavour }, use, testInfo) => {
    if (!labServers.has(flavour)) {
      testInfo.setTimeout(testInfo.timeout + START_BUDGET_MS);
    }
    await use(await labServers.get(flavour));
  },

  collabServer: async ({ labServers }, use, testInfo) => {
    if (!labServers.has('collab')) {
      testInfo.setTimeout(testInfo.timeout + START_BUDGET_MS);
    }
    await use(await labServers.get('collab'));
  },

  nocollabServer: async ({ labServers }, use, testInfo) => {
    if (!labServers.has('nocollab')) {
      testInfo.setTimeout(testInfo.timeout + START_BUDGET_MS);
    }
    await use(await labServers.get('nocollab'));
  }
});

export { expect };
export type { Flavour, LabServer };
