/**
 * The Datadive REST API (`<base_url>api/datadive/`) as typed calls.
 *
 * Every failure becomes a `DatadiveError` carrying the server's status, `code`,
 * `message` and per-field `errors` (JSON pointers). A request that never reaches
 * the server is a `DatadiveError` with status 0 and code `unreachable`.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

export interface FieldError {
  path: string;
  message: string;
}

export class DatadiveError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly errors: FieldError[] = []
  ) {
    super(message);
    this.name = 'DatadiveError';
  }
}

export type Role = 'owner' | 'editor' | 'viewer';
export type TemplateSource = 'builtin' | 'path' | 'user';
export type CellState = 'plain' | 'generated' | 'edited' | 'outdated';

export interface Project {
  id: string;
  name: string;
  description: string;
  path: string;
  owner: string;
  role: Role;
  status: 'ok' | 'missing' | 'unknown';
  created_at: string;
  updated_at: string;
}

export interface Member {
  user: string;
  role: Role;
}

export interface NotebookEntry {
  path: string;
  name: string;
  last_modified?: string;
}

export interface TemplateSummary {
  id: string;
  version: number;
  title: string;
  description?: string;
  category: string;
  tags: string[];
  source: TemplateSource;
  locked?: boolean;
  assistant_test?: string | null;
  author?: string | null;
}

export interface TemplateExample {
  title?: string;
  inputs: Record<string, unknown>;
}

export interface TemplateDocument {
  id: string;
  title: string;
  description?: string;
  category: string;
  tags?: string[];
  inputs: Record<string, any>;
  ui?: Record<string, any>;
  cells: { cell_type: string; source: string | string[] }[];
  locked?: boolean;
  examples: TemplateExample[];
  assistant?: { test?: string };
}

export interface TemplateDetail extends TemplateSummary {
  latest_version: number;
  document: TemplateDocument;
}

/** An nbformat 4.5 cell as the server renders it. */
export interface NbCell {
  id: string;
  cell_type: 'code' | 'markdown' | 'raw';
  source: string | string[];
  metadata: Record<string, any>;
  outputs?: unknown[];
  execution_count?: number | null;
}

export interface CellView {
  index: number;
  id: string;
  cell_type: 'code' | 'markdown' | 'raw';
  source: string;
  state: CellState;
  template?: string | null;
  version?: number | null;
  inputs?: Record<string, unknown> | null;
  metadata?: Record<string, any>;
}

export interface ColumnProfile {
  name: string;
  level: string;
  reason?: string;
  n?: number;
  missing?: number;
  distinct?: number;
  summary?: Record<string, any>;
  [key: string]: unknown;
}

export interface Assumption {
  name: string;
  statistic?: number | null;
  p?: number | null;
  passed?: boolean | null;
  detail?: string;
}

export interface Suggestion {
  test: string;
  title: string;
  rationale?: string;
  assumptions?: Assumption[];
  warnings?: string[];
  alternatives?: unknown[];
  effect_size?: unknown;
  posthoc?: unknown;
  template: string;
  inputs: Record<string, unknown>;
}

export type AssistantSource =
  | { project: string; path: string }
  | { kernel_id: string; variable: string };

/** The answer of `assistant/profile`: the profile itself, with what was read. */
export interface AssistantProfile {
  rows: number;
  columns: Record<string, ColumnProfile>;
  source?: Record<string, unknown>;
}

export interface AssistantResult {
  profile?: any;
  suggestions?: Suggestion[];
  design?: Record<string, unknown>;
  source?: Record<string, unknown>;
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

/** What `fetch` is given; tests may swap in their own. */
export interface Transport {
  settings: ServerConnection.ISettings;
  makeRequest?: typeof ServerConnection.makeRequest;
}

export interface RequestOptions {
  method?: string;
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export interface Reply<T> {
  data: T;
  etag: string | null;
  status: number;
}

const PREFIX = 'api/datadive';

export class DatadiveAPI {
  constructor(readonly transport: Transport = { settings: ServerConnection.makeSettings() }) {}

  get settings(): ServerConnection.ISettings {
    return this.transport.settings;
  }

  url(path: string, query?: Record<string, string | number | boolean | undefined>): string {
    let url = URLExt.join(this.settings.baseUrl, PREFIX, path);
    const params = Object.entries(query ?? {}).filter(([, v]) => v !== undefined && v !== '');
    if (params.length) {
      url += '?' + params.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`).join('&');
    }
    return url;
  }

  async request<T>(path: string, options: RequestOptions = {}, query?: Record<string, any>): Promise<Reply<T>> {
    const init: RequestInit = { method: options.method ?? 'GET', headers: { ...(options.headers ?? {}) } };
    if (options.body !== undefined) {
      init.body = JSON.stringify(options.body);
      (init.headers as Record<string, string>)['Content-Type'] = 'application/json';
    }
    if (options.signal) {
      init.signal = options.signal;
    }
    const make = this.transport.makeRequest ?? ServerConnection.makeRequest;
    let response: Response;
    try {
      response = await make(this.url(path, query), init, this.settings);
    } catch (error) {
      if ((error as Error)?.name === 'AbortError') {
        throw error;
      }
      throw new DatadiveError(0, 'unreachable', 'Server unreachable');
    }
    const text = await response.text();
    let data: any = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = null;
      }
    }
    if (!response.ok) {
      const message =
        (data && typeof data.message === 'string' && data.message) ||
        `${response.status} ${response.statusText || 'error'}`;
      const code = (data && typeof data.code === 'string' && data.code) || `http_${response.status}`;
      const errors = Array.isArray(data?.errors) ? (data.errors as FieldError[]) : [];
      throw new DatadiveError(response.status, code, message, errors);
    }
    return { data: data as T, etag: response.headers.get('ETag'), status: response.status };
  }

  // ---- projects --------------------------------------------------------------------

  async listAll<T>(path: string, query: Record<string, any> = {}): Promise<T[]> {
    const items: T[] = [];
    let cursor: string | null | undefined = undefined;
    do {
      const reply: Reply<Page<T>> = await this.request<Page<T>>(path, {}, { ...query, limit: 500, cursor });
      items.push(...reply.data.items);
      cursor = reply.data.next_cursor;
    } while (cursor);
    return items;
  }

  projects(): Promise<Project[]> {
    return this.listAll<Project>('projects');
  }

  async createProject(name: string, description = ''): Promise<Project> {
    return (await this.request<Project>('projects', { method: 'POST', body: { name, description } })).data;
  }

  async renameProject(pid: string, name: string): Promise<Project> {
    return (await this.request<Project>(`projects/${encodeURIComponent(pid)}`, { method: 'PATCH', body: { name } })).data;
  }

  members(pid: string): Promise<Member[]> {
    return this.listAll<Member>(`projects/${encodeURIComponent(pid)}/members`);
  }

  notebooks(pid: string): Promise<NotebookEntry[]> {
    return this.listAll<NotebookEntry>(`projects/${encodeURIComponent(pid)}/notebooks`);
  }

  async createNotebook(pid: string, name: string): Promise<NotebookEntry> {
    return (
      await this.request<NotebookEntry>(`projects/${encodeURIComponent(pid)}/notebooks`, {
        method: 'POST',
        body: { name }
      })
    ).data;
  }

  // ---- templates -------------------------------------------------------------------

  templates(): Promise<TemplateSummary[]> {
    return this.listAll<TemplateSummary>('templates');
  }

  async template(tid: string, version?: number): Promise<TemplateDetail> {
    return (await this.request<TemplateDetail>(`templates/${encodeURIComponent(tid)}`, {}, { version })).data;
  }

  async render(tid: string, inputs: Record<string, unknown>, version?: number, signal?: AbortSignal): Promise<NbCell[]> {
    const body: Record<string, unknown> = { inputs };
    if (version !== undefined) {
      body.version = version;
    }
    const reply = await this.request<{ cells: NbCell[] }>(`templates/${encodeURIComponent(tid)}/render`, {
      method: 'POST',
      body,
      signal
    });
    return reply.data.cells;
  }

  // ---- cells -----------------------------------------------------------------------

  cellsPath(pid: string, nb: string, rest = ''): string {
    return `projects/${encodeURIComponent(pid)}/notebooks/${encodeURIComponent(nb)}/cells${rest}`;
  }

  async cells(pid: string, nb: string): Promise<Reply<{ cells: CellView[] }>> {
    return this.request<{ cells: CellView[] }>(this.cellsPath(pid, nb));
  }

  async insertCells(pid: string, nb: string, body: Record<string, unknown>): Promise<Reply<{ cells: CellView[] }>> {
    return this.request<{ cells: CellView[] }>(this.cellsPath(pid, nb), { method: 'POST', body });
  }

  async updateCell(pid: string, nb: string, cellId: string, body: Record<string, unknown>): Promise<Reply<any>> {
    return this.request<any>(this.cellsPath(pid, nb, `/${encodeURIComponent(cellId)}`), { method: 'PATCH', body });
  }

  // ---- assistant -------------------------------------------------------------------

  async profile(source: AssistantSource, signal?: AbortSignal): Promise<AssistantProfile> {
    return (await this.request<AssistantProfile>('assistant/profile', { method: 'POST', body: { source }, signal })).data;
  }

  async suggest(source: AssistantSource, design: Record<string, unknown>, signal?: AbortSignal): Promise<AssistantResult> {
    return (
      await this.request<AssistantResult>('assistant/suggest', { method: 'POST', body: { source, design }, signal })
    ).data;
  }
}
