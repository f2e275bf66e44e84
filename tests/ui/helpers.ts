/**
 * Helpers for the browser tests. Import the fixtures from here too:
 *
 *   import { test, expect, openNotebook, shot, api } from './helpers';
 */
import { Locator, Page, test as base } from '@playwright/test';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { LabServer } from './server';

export { test, expect } from './fixtures';
export type { Flavour, LabServer, LabServerPool } from './fixtures';
export { FLAVOURS, startLabServer, stopLabServer } from './server';

/** tests/ui/screenshots */
export const SCREENSHOTS_DIR = path.join(__dirname, 'screenshots');

// ---------------------------------------------------------------------------------
// REST API
// ---------------------------------------------------------------------------------

export interface ApiResponse<T = any> {
  status: number;
  ok: boolean;
  /** The parsed JSON body (null when the body is empty or not JSON). */
  body: T;
  text: string;
  headers: Headers;
}

function encodePath(p: string): string {
  return p
    .split('/')
    .filter(s => s !== '')
    .map(encodeURIComponent)
    .join('/');
}

/**
 * Call the server's REST API with its token. `apiPath` is relative to the base URL,
 * with or without the leading slash (`api/contents/x.ipynb?content=1`); it is sent
 * as given, so encode path segments that need it. Never throws on an HTTP error:
 * check `status` / `ok`.
 */
export async function api<T = any>(
  server: LabServer,
  method: string,
  apiPath: string,
  body?: unknown
): Promise<ApiResponse<T>> {
  const url = server.baseURL + apiPath.replace(/^\/+/, '');
  const headers: Record<string, string> = { Authorization: `token ${server.token}` };
  let payload: string | undefined;
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = typeof body === 'string' ? body : JSON.stringify(body);
  }
  const r = await fetch(url, { method: method.toUpperCase(), headers, body: payload });
  const text = await r.text();
  let parsed: any = null;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = null;
    }
  }
  return { status: r.status, ok: r.ok, body: parsed as T, text, headers: r.headers };
}

/** A file's model from the contents API, with its content (notebooks: the JSON document). */
export async function readFile(server: LabServer, filePath: string): Promise<any> {
  const r = await api(server, 'GET', `api/contents/${encodePath(filePath)}?content=1`);
  if (!r.ok) {
    throw new Error(`GET ${filePath}: HTTP ${r.status} ${r.text}`);
  }
  return r.body;
}

/** The notebook document on disk (`{cells, metadata, nbformat, ...}`). */
export async function readNotebook(server: LabServer, notebookPath: string): Promise<any> {
  return (await readFile(server, notebookPath)).content;
}

/**
 * A copy of a notebook (default: the demo notebook) under a new name in the same folder,
 * so a test edits a notebook no other test uses. Returns its path.
 * The name defaults to one made from the running test's title.
 */
export async function copyNotebook(
  server: LabServer,
  opts: { from?: string; name?: string } = {}
): Promise<string> {
  const from = opts.from ?? server.demo.notebook;
  const dir = from.includes('/') ? from.slice(0, from.lastIndexOf('/')) : '';
  let name = opts.name;
  if (!name) {
    const title = base.info().title.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
    name = `${title.slice(0, 40) || 'test'}-${crypto.randomBytes(3).toString('hex')}.ipynb`;
  }
  const target = dir ? `${dir}/${name}` : name;
  const content = await readNotebook(server, from);
  const r = await api(server, 'PUT', `api/contents/${encodePath(target)}`, {
    type: 'notebook',
    format: 'json',
    content
  });
  if (!r.ok) {
    throw new Error(`PUT ${target}: HTTP ${r.status} ${r.text}`);
  }
  return target;
}

// ---------------------------------------------------------------------------------
// JupyterLab in the page
// ---------------------------------------------------------------------------------

export interface OpenOptions {
  /**
   * JupyterLab workspace name. Default: a new one per call, so nothing that earlier
   * tests left open on the same server is restored (no `?reset` needed).
   */
  workspace?: string;
  /** Extra query parameters. */
  query?: Record<string, string>;
}

/**
 * Go to `<base>/lab/workspaces/<ws>/tree/<path>?token=...` (or `.../lab/workspaces/<ws>`
 * without a path) and wait until JupyterLab is ready: the splash screen gone, the main
 * dock panel visible, the application started and its layout restored.
 */
export async function openLab(
  page: Page,
  server: LabServer,
  filePath?: string,
  opts: OpenOptions = {}
): Promise<void> {
  const ws = opts.workspace ?? `ui-${crypto.randomBytes(4).toString('hex')}`;
  const tree = filePath ? `/tree/${encodePath(filePath)}` : '';
  const query = new URLSearchParams({ token: server.token, ...(opts.query ?? {}) });
  await page.goto(`${server.baseURL}lab/workspaces/${encodeURIComponent(ws)}${tree}?${query}`);
  await waitForLab(page);
}

/** Wait until JupyterLab has started in the page and restored its layout. */
export async function waitForLab(page: Page): Promise<void> {
  await page.locator('#jupyterlab-splash').waitFor({ state: 'detached', timeout: 45_000 });
  await page.locator('#jp-main-dock-panel').waitFor({ state: 'visible' });
  await page.waitForFunction(
    async () => {
      const app = (window as any).jupyterapp;
      if (!app) {
        return false;
      }
      await app.started;
      await app.restored;
      return true;
    },
    undefined,
    { timeout: 45_000 }
  );
}

/** The active notebook panel's locator (the notebook with `filePath` when given). */
export function notebookPanel(page: Page): Locator {
  return page.locator('.jp-NotebookPanel:not(.lm-mod-hidden)').first();
}

/** The cells of the active notebook. */
export function cells(page: Page): Locator {
  return notebookPanel(page).locator('.jp-Notebook .jp-Cell');
}

/**
 * Open a notebook (in a fresh workspace) and wait until it shows its cells and, unless
 * `kernel: false`, its kernel is idle.
 */
export async function openNotebook(
  page: Page,
  server: LabServer,
  notebookPath: string,
  opts: OpenOptions & { kernel?: boolean } = {}
): Promise<void> {
  await openLab(page, server, notebookPath, opts);
  await page.waitForFunction(
    async (p: string) => {
      const app = (window as any).jupyterapp;
      const w = app?.shell?.currentWidget;
      if (!w || !w.context || w.context.path !== p) {
        return false;
      }
      await w.context.ready;
      await w.revealed;
      return true;
    },
    notebookPath,
    { timeout: 45_000 }
  );
  await cells(page).first().waitFor({ state: 'visible' });
  if (opts.kernel !== false) {
    await waitKernelIdle(page);
  }
}

/** Wait until the active notebook's kernel is started and idle. */
export async function waitKernelIdle(page: Page, timeout = 45_000): Promise<void> {
  await page.waitForFunction(
    () => {
      const app = (window as any).jupyterapp;
      const sc = app?.shell?.currentWidget?.sessionContext;
      return !!sc && sc.isReady && sc.session?.kernel?.status === 'idle';
    },
    undefined,
    { timeout, polling: 200 }
  );
}

/** Run a JupyterLab command (`docmanager:save`, `notebook:run-all-cells`, `datadive:...`). */
export async function execCommand(page: Page, id: string, args: Record<string, unknown> = {}): Promise<unknown> {
  return page.evaluate(
    async ([cmd, a]) => {
      const app = (window as any).jupyterapp;
      return app.commands.execute(cmd, a);
    },
    [id, args] as const
  );
}

/** Save the active document and wait until the save is done. */
export async function saveActive(page: Page): Promise<void> {
  await page.evaluate(async () => {
    const app = (window as any).jupyterapp;
    const w = app.shell.currentWidget;
    await w.context.save();
  });
}

/** The tab of a left-area widget in the left side bar, by the widget's id. */
export function leftTab(page: Page, widgetId: string): Locator {
  return page.locator(`.jp-SideBar.jp-mod-left .lm-TabBar-tab[data-id="${widgetId}"]`);
}

/**
 * Record the URLs of every websocket the page opens (call before navigating).
 * Returns the live array.
 */
export function trackWebSockets(page: Page): string[] {
  const urls: string[] = [];
  page.on('websocket', ws => urls.push(ws.url()));
  return urls;
}

// ---------------------------------------------------------------------------------
// Screenshots
// ---------------------------------------------------------------------------------

/**
 * Save a full-page PNG to `tests/ui/screenshots/<spec>/<NN>-<name>.png`, NN counting
 * the screenshots of that spec file in this run (a folder left by an earlier run is
 * emptied first), and attach it to the test's report. Returns the file's path.
 */
export async function shot(page: Page, name: string): Promise<string> {
  const info = base.info();
  const spec = path.basename(info.file).replace(/\.spec\.[cm]?[jt]s$/, '').replace(/\.[cm]?[jt]s$/, '');
  const dir = path.join(SCREENSHOTS_DIR, spec);
  fs.mkdirSync(dir, { recursive: true });
  const runId = process.env.DATADIVE_UI_RUN_ID ?? 'no-run-id';
  const marker = path.join(dir, '.run');
  let previous = '';
  try {
    previous = fs.readFileSync(marker, 'utf8');
  } catch {
    /* first time */
  }
  if (previous !== runId) {
    for (const f of fs.readdirSync(dir)) {
      if (f.endsWith('.png')) {
        fs.rmSync(path.join(dir, f), { force: true });
      }
    }
    fs.writeFileSync(marker, runId);
  }
  const n = fs.readdirSync(dir).filter(f => f.endsWith('.png')).length + 1;
  const safe = name.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '') || 'shot';
  const file = path.join(dir, `${String(n).padStart(2, '0')}-${safe}.png`);
  await page.screenshot({ path: file, fullPage: true });
  await info.attach(name, { path: file, contentType: 'image/png' });
  return file;
}
