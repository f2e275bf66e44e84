/**
 * The Datadive sidebar: the active notebook's project and role at the top, then
 * three sections (Projects, Templates, Assistant). The template form opens in
 * the Templates section; Back returns to the list with the search kept.
 */
import type { IEditorLanguageRegistry } from '@jupyterlab/codemirror';
import { Contents } from '@jupyterlab/services';
import { ReactWidget } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import { Signal } from '@lumino/signaling';
import React, { useEffect, useState } from 'react';

import { Project, TemplateSummary } from './api';
import { AssistantPanel } from './assistant/AssistantPanel';
import { AssistantHost, DataFileChoice, KernelFrames } from './assistant/host';
import { Projects, ProjectsHost, isDataFile } from './components/Projects';
import { EMPTY_QUERY, Gallery, GalleryQuery } from './components/Gallery';
import { TemplateForm } from './components/TemplateForm';
import { DatadiveModel, FormRequest, Section } from './model';
import { insertTemplate, selectCell, waitForCell } from './notebook';

export interface SidebarServices {
  languages: IEditorLanguageRegistry | null;
  contents: Contents.IManager;
  openPath(path: string): void;
}

/** The expression evaluated in the kernel to list its DataFrames (fixed text: no user input reaches it). */
const FRAMES_EXPRESSION =
  "__import__('json').dumps(sorted(_n for _n, _v in globals().items() if not _n.startswith('_') and " +
  "type(_v).__name__ == 'DataFrame' and type(_v).__module__.startswith('pandas')))";

const KERNEL_WAIT_MS = 5000;

class Host implements AssistantHost, ProjectsHost {
  constructor(
    private model: DatadiveModel,
    private services: SidebarServices
  ) {
    model.activeChanged.connect(() => this._changed.emit());
  }

  get api() {
    return this.model.api;
  }

  get trans() {
    return this.model.trans;
  }

  get changed() {
    return this._changed;
  }

  preselect: DataFileChoice | null = null;
  analyseRequested: ((choice: DataFileChoice) => void) | null = null;

  openPath(path: string): void {
    this.services.openPath(path);
  }

  async listFiles(folder: string, depth = 0): Promise<string[]> {
    const listing = await this.services.contents.get(folder, { content: true });
    const out: string[] = [];
    for (const item of (listing.content as Contents.IModel[]) ?? []) {
      if (item.name.startsWith('.')) {
        continue;
      }
      if (item.type === 'directory' && depth < 3) {
        out.push(...(await this.listFiles(item.path, depth + 1)));
      } else if (item.type !== 'directory') {
        out.push(item.path);
      }
    }
    return out;
  }

  analyse(project: Project, path: string): void {
    this.preselect = { project, path };
    this.model.showSection('assistant');
    this._changed.emit();
  }

  async dataFiles(): Promise<DataFileChoice[]> {
    const target = this.model.target();
    const projects = target?.project ? [target.project] : this.model.projects;
    const out: DataFileChoice[] = [];
    for (const project of projects) {
      try {
        for (const path of await this.listFiles(project.path)) {
          if (isDataFile(path)) {
            out.push({ project, path });
          }
        }
      } catch {
        // A project whose folder is gone has no files to offer.
      }
    }
    return out;
  }

  async kernelFrames(): Promise<KernelFrames | null> {
    const panel = this.model.activePanel;
    const kernel = panel?.sessionContext.session?.kernel;
    if (!panel || !kernel) {
      return null;
    }
    const future = kernel.requestExecute(
      { code: '', silent: true, store_history: false, user_expressions: { frames: FRAMES_EXPRESSION } },
      true
    );
    // A kernel busy running a cell answers only when it is done: give up after a while.
    const timeout = new Promise<null>(resolve => window.setTimeout(() => resolve(null), KERNEL_WAIT_MS));
    const reply = await Promise.race([future.done, timeout]);
    if (!reply) {
      future.dispose();
      throw new Error(this.trans.__('The kernel is busy: its DataFrames will be listed when it is idle.'));
    }
    const result = (reply.content as any).user_expressions?.frames;
    let variables: string[] = [];
    if (result?.status === 'ok') {
      // text/plain is the repr of the JSON text: identifiers only, so Python quotes it with ' and escapes nothing.
      const text: string = result.data?.['text/plain'] ?? "'[]'";
      try {
        variables = JSON.parse(text.slice(1, -1));
      } catch {
        variables = [];
      }
    }
    return { kernelId: kernel.id, notebookPath: panel.context.path, variables };
  }

  notebookPath(): string | null {
    return this.model.activePanel?.context.path ?? null;
  }

  canInsert(): { ok: boolean; why: string } {
    const target = this.model.target();
    if (!target) {
      return { ok: false, why: this.trans.__('Open a notebook to insert cells') };
    }
    if (!target.canWrite) {
      return { ok: false, why: this.trans.__('You are a viewer of this project: you cannot change its notebooks') };
    }
    return { ok: true, why: '' };
  }

  async insert(cells: { template: string; inputs: Record<string, unknown> }[]): Promise<void> {
    const target = this.model.target();
    if (!target) {
      throw new Error(this.trans.__('Open a notebook to insert cells'));
    }
    const panel = target.panel;
    let first: string | undefined;
    for (const cell of cells) {
      const result = await insertTemplate(this.api, this.model.target(panel)!, this.model.settings.insertPath, { id: cell.template }, cell.inputs);
      first = first ?? result.ids[0];
      // The next template goes below the last cell of this one.
      const last = result.ids[result.ids.length - 1];
      if (last && cell !== cells[cells.length - 1]) {
        panel.content.activeCellIndex = await waitForCell(panel, last);
      }
    }
    // As for one template: the first new cell is selected.
    if (first) {
      selectCell(panel, await waitForCell(panel, first));
    }
  }

  private _changed = new Signal<this, void>(this);
}

function ContextHeader(props: { model: DatadiveModel; onProjects: () => void }): JSX.Element {
  const { model } = props;
  const trans = model.trans;
  const [, setTick] = useState(0);
  useEffect(() => {
    const changed = () => setTick(t => t + 1);
    model.activeChanged.connect(changed);
    return () => {
      model.activeChanged.disconnect(changed);
    };
  }, [model]);
  const target = model.target();
  return (
    <div className="dd-context" data-testid="dd-context">
      {target?.project ? (
        <>
          <span className="dd-context-project">{target.project.name}</span>
          <span className="dd-badge">{target.project.role}</span>
        </>
      ) : (
        <>
          <span className="dd-context-none">{target ? trans.__('Not in a project') : trans.__('No notebook open')}</span>
          <button className="jp-mod-styled dd-link" onClick={props.onProjects}>
            {trans.__('Projects')}
          </button>
        </>
      )}
    </div>
  );
}

function SidebarView(props: { model: DatadiveModel; host: Host; services: SidebarServices }): JSX.Element {
  const { model, host, services } = props;
  const trans = model.trans;
  const [section, setSection] = useState<Section>('templates');
  const [query, setQuery] = useState<GalleryQuery>(EMPTY_QUERY);
  const [form, setForm] = useState<FormRequest | null>(null);
  const [focusSearch, setFocusSearch] = useState(0);

  useEffect(() => {
    const onForm = (_: unknown, request: FormRequest) => {
      setSection('templates');
      setForm(request);
    };
    const onSection = (_: unknown, request: { section: Section; query?: string }) => {
      setSection(request.section);
      if (request.section === 'templates' && request.query !== undefined) {
        setForm(null);
        setQuery({ ...EMPTY_QUERY, text: request.query });
      }
    };
    model.formRequested.connect(onForm);
    model.sectionRequested.connect(onSection);
    if (!model.templatesLoaded) {
      void model.refreshTemplates();
    }
    return () => {
      model.formRequested.disconnect(onForm);
      model.sectionRequested.disconnect(onSection);
    };
  }, [model]);

  const tabs: [Section, string][] = [
    ['projects', trans.__('Projects')],
    ['templates', trans.__('Templates')],
    ['assistant', trans.__('Assistant')]
  ];
  const onTabKey = (event: React.KeyboardEvent) => {
    const at = tabs.findIndex(([s]) => s === section);
    if (event.key === 'ArrowRight' || event.key === 'ArrowLeft') {
      const next = (at + (event.key === 'ArrowRight' ? 1 : tabs.length - 1)) % tabs.length;
      setSection(tabs[next][0]);
      (event.currentTarget.querySelectorAll('button')[next] as HTMLButtonElement | undefined)?.focus();
    }
  };
  return (
    <div className="dd-sidebar-inner">
      <ContextHeader model={model} onProjects={() => setSection('projects')} />
      <div className="dd-tabs" role="tablist" aria-label={trans.__('Datadive sections')} onKeyDown={onTabKey}>
        {tabs.map(([s, label]) => (
          <button
            key={s}
            role="tab"
            id={`dd-tab-${s}`}
            aria-selected={section === s}
            aria-controls={`dd-panel-${s}`}
            tabIndex={section === s ? 0 : -1}
            className={`dd-tab${section === s ? ' dd-mod-selected' : ''}`}
            data-testid={`dd-tab-${s}`}
            onClick={() => {
              setSection(s);
              if (s === 'templates') {
                setFocusSearch(n => n + 1);
              }
            }}
          >
            {label}
          </button>
        ))}
      </div>
      <div
        className="dd-section"
        role="tabpanel"
        id={`dd-panel-${section}`}
        aria-labelledby={`dd-tab-${section}`}
        hidden={section === 'assistant'}
      >
        {section === 'projects' && <Projects model={model} host={host} />}
        {section === 'templates' &&
          (form ? (
            <TemplateForm
              model={model}
              request={form}
              languages={services.languages}
              onBack={() => {
                setForm(null);
                setFocusSearch(n => n + 1);
              }}
            />
          ) : (
            <Gallery
              key={focusSearch}
              model={model}
              languages={services.languages}
              query={query}
              onQuery={setQuery}
              onUse={(t: TemplateSummary) => setForm({ templateId: t.id })}
              autoFocus={true}
            />
          ))}
      </div>
      {/* Always mounted: the chosen data, roles and suggestions survive a look at another section. */}
      <div className="dd-section" role="tabpanel" id="dd-panel-assistant-body" hidden={section !== 'assistant'}>
        <AssistantPanel host={host} />
      </div>
    </div>
  );
}

export class DatadiveSidebar extends ReactWidget {
  constructor(
    readonly model: DatadiveModel,
    services: SidebarServices
  ) {
    super();
    this.addClass('dd-sidebar');
    this._services = services;
    this._host = new Host(model, services);
  }

  protected render(): JSX.Element {
    return <SidebarView model={this.model} host={this._host} services={this._services} />;
  }

  /** Opening the sidebar puts the focus in the template search (when the gallery shows). */
  protected onActivateRequest(msg: Message): void {
    super.onActivateRequest(msg);
    const target =
      this.node.querySelector<HTMLElement>('[data-testid=dd-template-search]') ??
      this.node.querySelector<HTMLElement>('.dd-section:not([hidden]) input, .dd-section:not([hidden]) select, .dd-section:not([hidden]) button') ??
      this.node.querySelector<HTMLElement>('.dd-tab[aria-selected=true]');
    target?.focus();
  }

  private _services: SidebarServices;
  private _host: Host;
}
