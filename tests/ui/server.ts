/**
 * Real JupyterLab servers for the browser tests, started as `make run` starts one
 * (`jupyter lab ... --DatadiveApp.demo_project=True`), each in a fresh temporary
 * directory of its own: contents root, SQLite store, Jupyter data / runtime / config
 * directories, user settings, workspaces and working directory (the collaboration
 * ystore writes `.jupyter_ystore.db` in the working directory).
 *
 * Flavours:
 * - `collab`: as installed, jupyter-collaboration active (the default of `make run`);
 * - `nocollab`: `--YDocExtension.disable_rtc=True`. jupyter-server-ydoc then puts
 *   `disableRTC: true` in the page config, and JupyterLab's collaboration plugins
 *   open documents through the contents REST API, without a room websocket (the
 *   smoke test checks this in the browser).
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

export type Flavour = 'collab' | 'nocollab';

export const FLAVOURS: readonly Flavour[] = ['collab', 'nocollab'];

/** Where the demo project of a server lives (made by `--DatadiveApp.demo_project=True`). */
export interface DemoProject {
  id: string;
  /** Folder of the project, relative to the contents root: `projects/demo-study`. */
  dir: string;
  /** `projects/demo-study/analysis.ipynb` */
  notebook: string;
  /** `projects/demo-study/study.csv` */
  csv: string;
}

export interface LabServer {
  flavour: Flavour;
  /** `http://127.0.0.1:<port>/`, always ending with a slash. */
  baseURL: string;
  token: string;
  /** The contents root (`--ServerApp.root_dir`). */
  rootDir: string;
  /** The temporary directory holding everything of this server (rootDir is inside). */
  tmpDir: string;
  /** The server's combined stdout / stderr. */
  logFile: string;
  port: number;
  pid: number;
  demo: DemoProject;
}

export interface StartOptions {
  flavour?: Flavour;
  /** More command-line arguments for `jupyter lab`. */
  extraArgs?: string[];
  /** More environment variables for the server. */
  env?: Record<string, string>;
  /** Milliseconds to wait for `/api/status` and the demo project (default 90 s). */
  startTimeout?: number;
}

/** tests/ui/../.. */
export const REPO_ROOT = path.resolve(__dirname, '..', '..');

/** The virtual environment of the repository; DATADIVE_VENV overrides `<repo>/.venv`. */
export function venvDir(): string {
  return path.resolve(REPO_ROOT, process.env.DATADIVE_VENV || '.venv');
}

export function jupyterBin(): string {
  return path.join(venvDir(), 'bin', 'jupyter');
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

function tail(file: string, lines = 40): string {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Servers started by this process, so that they die with it even on a crash. */
const live = new Map<number, ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) {
    return;
  }
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const pid of live.keys()) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  });
}

/** Start a JupyterLab server; resolves once `/api/status` answers and the demo project exists. */
export async function startLabServer(options: StartOptions = {}): Promise<LabServer> {
  const flavour = options.flavour ?? 'collab';
  const jupyter = jupyterBin();
  if (!fs.existsSync(jupyter)) {
    throw new Error(`${jupyter} is missing: run \`make install-test\` (or set DATADIVE_VENV)`);
  }
  const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), `datadive-ui-${flavour}-`));
  const dirs = {
    root: path.join(tmpDir, 'root'),
    data: path.join(tmpDir, 'data'),
    runtime: path.join(tmpDir, 'runtime'),
    config: path.join(tmpDir, 'config'),
    ipython: path.join(tmpDir, 'ipython'),
    settings: path.join(tmpDir, 'lab-settings'),
    workspaces: path.join(tmpDir, 'lab-workspaces')
  };
  for (const d of Object.values(dirs)) {
    fs.mkdirSync(d, { recursive: true });
  }
  // No "news" question nor update check popping up over the page.
  const notif = path.join(dirs.settings, '@jupyterlab', 'apputils-extension');
  fs.mkdirSync(notif, { recursive: true });
  fs.writeFileSync(
    path.join(notif, 'notification.jupyterlab-settings'),
    JSON.stringify({ fetchNews: 'false', checkForUpdates: false })
  );

  const port = await freePort();
  const token = crypto.randomBytes(16).toString('hex');
  const logFile = path.join(tmpDir, 'server.log');
  const args = [
    'lab',
    '--ip=127.0.0.1',
    `--port=${port}`,
    '--ServerApp.port_retries=0',
    '--no-browser',
    `--ServerApp.root_dir=${dirs.root}`,
    '--DatadiveApp.demo_project=True',
    `--DatadiveApp.db_path=${path.join(tmpDir, 'datadive.sqlite')}`,
    `--IdentityProvider.token=${token}`,
    `--LabApp.user_settings_dir=${dirs.settings}`,
    `--LabApp.workspaces_dir=${dirs.workspaces}`,
    // Lets tests run JupyterLab commands through `window.jupyterapp` (helpers.execCommand).
    '--LabApp.expose_app_in_browser=True'
  ];
  if (process.getuid && process.getuid() === 0) {
    args.push('--allow-root');
  }
  if (flavour === 'nocollab') {
    args.push('--YDocExtension.disable_rtc=True');
  }
  args.push(...(options.extraArgs ?? []));

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: `${path.join(venvDir(), 'bin')}${path.delimiter}${process.env.PATH ?? ''}`,
    JUPYTER_DATA_DIR: dirs.data,
    JUPYTER_RUNTIME_DIR: dirs.runtime,
    JUPYTER_CONFIG_DIR: dirs.config,
    IPYTHONDIR: dirs.ipython,
    PYTHONUNBUFFERED: '1',
    ...(options.env ?? {})
  };
  delete env.JUPYTERHUB_USER;
  delete env.JUPYTER_TOKEN;

  const out = fs.openSync(logFile, 'a');
  const child = spawn(jupyter, args, {
    cwd: tmpDir,
    env,
    detached: true, // its own process group: stopped as a whole
    stdio: ['ignore', out, out]
  });
  fs.closeSync(out);
  if (!child.pid) {
    throw new Error(`could not start ${jupyter}; log: ${logFile}`);
  }
  installExitHook();
  live.set(child.pid, child);
  let exited: string | null = null;
  child.on('exit', (code, signal) => {
    exited = `exited with ${code ?? signal}`;
  });

  const baseURL = `http://127.0.0.1:${port}/`;
  const server: LabServer = {
    flavour,
    baseURL,
    token,
    rootDir: dirs.root,
    tmpDir,
    logFile,
    port,
    pid: child.pid,
    demo: { id: '', dir: '', notebook: '', csv: '' }
  };

  const deadline = Date.now() + (options.startTimeout ?? 90_000);
  const headers = { Authorization: `token ${token}` };
  let lastError = '';
  try {
    // 1. the server answers
    for (;;) {
      if (exited) {
        throw new Error(`the server ${exited}`);
      }
      if (Date.now() > deadline) {
        throw new Error(`no answer from ${baseURL}api/status (${lastError})`);
      }
      try {
        const r = await fetch(`${baseURL}api/status`, { headers });
        if (r.ok) {
          break;
        }
        lastError = `HTTP ${r.status}`;
      } catch (e) {
        lastError = String(e);
      }
      await sleep(250);
    }
    // 2. the demo project is seeded (a callback right after start-up)
    for (;;) {
      if (exited) {
        throw new Error(`the server ${exited}`);
      }
      if (Date.now() > deadline) {
        throw new Error(`no demo project on ${baseURL} (${lastError})`);
      }
      const r = await fetch(`${baseURL}api/datadive/projects`, { headers });
      if (r.ok) {
        const body = (await r.json()) as { items: { id: string; name: string; path: string }[] };
        const p = body.items.find(i => i.name === 'Demo study') ?? body.items[0];
        if (p) {
          const nb = await fetch(`${baseURL}api/contents/${p.path}/analysis.ipynb?content=0`, {
            headers
          });
          if (nb.ok) {
            server.demo = {
              id: p.id,
              dir: p.path,
              notebook: `${p.path}/analysis.ipynb`,
              csv: `${p.path}/study.csv`
            };
            break;
          }
          lastError = `analysis.ipynb: HTTP ${nb.status}`;
        } else {
          lastError = 'no project yet';
        }
      } else {
        lastError = `projects: HTTP ${r.status}`;
      }
      await sleep(250);
    }
  } catch (e) {
    await stopLabServer(server, { keep: true });
    throw new Error(
      `JupyterLab (${flavour}) did not start: ${(e as Error).message}\n` +
        `log ${logFile}:\n${tail(logFile)}`
    );
  }
  return server;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Pids of processes whose command line mentions `marker` (a server's kernels name its runtime dir). */
function pidsMentioning(marker: string): number[] {
  const pids: number[] = [];
  let entries: string[] = [];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return pids;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) {
      continue;
    }
    try {
      const cmd = fs.readFileSync(`/proc/${e}/cmdline`, 'utf8');
      if (cmd.includes(marker)) {
        pids.push(Number(e));
      }
    } catch {
      /* gone, or not ours to read */
    }
  }
  return pids;
}

/**
 * Stop a server: SIGTERM to its process group (the server shuts its kernels down),
 * SIGKILL after `graceMs`; then any kernel of this server still running (found by
 * its connection file in the server's own runtime directory) is killed by pid.
 * The temporary directory is removed unless `keep` or DATADIVE_UI_KEEP=1.
 */
export async function stopLabServer(
  server: Pick<LabServer, 'pid' | 'tmpDir'>,
  opts: { graceMs?: number; keep?: boolean } = {}
): Promise<void> {
  const { pid, tmpDir } = server;
  const graceMs = opts.graceMs ?? 10_000;
  if (alive(pid)) {
    try {
      process.kill(-pid, 'SIGTERM');
    } catch {
      /* gone */
    }
    const deadline = Date.now() + graceMs;
    while (alive(pid) && Date.now() < deadline) {
      await sleep(100);
    }
    if (alive(pid)) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
  live.delete(pid);
  for (const kernel of pidsMentioning(path.join(tmpDir, 'runtime'))) {
    try {
      process.kill(kernel, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  if (!opts.keep && process.env.DATADIVE_UI_KEEP !== '1') {
    fs.rmSync(tmpDir, { recursive: true, force: true });
  }
}
