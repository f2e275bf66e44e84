/**
 * The front end's shared state: the template list (with its search index), the
 * projects, the active notebook and the settings. Views read it and listen to
 * its signals; commands and views change it only through its methods.
 */
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { TranslationBundle } from '@jupyterlab/translation';
import { ISignal, Signal } from '@lumino/signaling';

import { DatadiveAPI, DatadiveError, Project, TemplateDetail, TemplateSummary } from './api';
import { TemplateIndex } from './logic/gallery';
import { InsertMode, NotebookTarget, notebookTarget } from './notebook';

export interface Settings {
  showCellMarkers: boolean;
  previewDebounceMs: number;
  insertPath: InsertMode;
}

export const DEFAULT_SETTINGS: Settings = { showCellMarkers: true, previewDebounceMs: 300, insertPath: 'auto' };

/** What the form is for: a new insert, or re-generating one generated cell. */
export interface FormRequest {
  templateId: string;
  version?: number;
  inputs?: Record<string, unknown>;
  /** Set when editing the inputs of a generated cell. */
  edit?: { panel: NotebookPanel; cellId: string };
}

export type Section = 'projects' | 'templates' | 'assistant';

export class DatadiveModel {
  constructor(
    readonly api: DatadiveAPI,
    readonly tracker: INotebookTracker,
    readonly trans: TranslationBundle
  ) {
    tracker.currentChanged.connect(() => this._activeChanged.emit());
  }

  // ---- settings --------------------------------------------------------------------

  get settings(): Settings {
    return this._settings;
  }

  set settings(value: Settings) {
    this._settings = value;
    this._settingsChanged.emit();
  }

  get settingsChanged(): ISignal<this, void> {
    return this._settingsChanged;
  }

  // ---- templates -------------------------------------------------------------------

  get templates(): TemplateSummary[] {
    return this._templates;
  }

  get index(): TemplateIndex {
    return this._index;
  }

  get templatesError(): DatadiveError | null {
    return this._templatesError;
  }

  get templatesLoaded(): boolean {
    return this._templatesLoaded;
  }

  get templatesChanged(): ISignal<this, void> {
    return this._templatesChanged;
  }

  async refreshTemplates(): Promise<void> {
    try {
      this._templates = await this.api.templates();
      this._index = new TemplateIndex(this._templates);
      this._latest = new Map(this._templates.map(t => [t.id, t.version]));
      this._templatesError = null;
    } catch (error) {
      this._templatesError = error as DatadiveError;
    }
    this._templatesLoaded = true;
    this._templatesChanged.emit();
  }

  summary(id: string): TemplateSummary | undefined {
    return this._templates.find(t => t.id === id);
  }

  latestVersion(id: string): number | undefined {
    return this._latest.get(id);
  }

  /** A template document at a version (cached: versions are immutable). */
  async detail(id: string, version?: number): Promise<TemplateDetail> {
    const key = `${id}@${version ?? 'latest'}`;
    let found = this._details.get(key);
    if (!found) {
      found = this.api.template(id, version);
      this._details.set(key, found);
      found.catch(() => this._details.delete(key));
    }
    return found;
  }

  // ---- projects --------------------------------------------------------------------

  get projects(): Project[] {
    return this._projects;
  }

  get projectsError(): DatadiveError | null {
    return this._projectsError;
  }

  get projectsChanged(): ISignal<this, void> {
    return this._projectsChanged;
  }

  async refreshProjects(): Promise<void> {
    try {
      this._projects = await this.api.projects();
      this._projectsError = null;
    } catch (error) {
      this._projectsError = error as DatadiveError;
    }
    this._projectsChanged.emit();
    this._activeChanged.emit();
  }

  // ---- the active notebook ---------------------------------------------------------

  get activePanel(): NotebookPanel | null {
    return this.tracker.currentWidget;
  }

  target(panel: NotebookPanel | null = this.activePanel): NotebookTarget | null {
    return panel ? notebookTarget(panel, this._projects) : null;
  }

  get activeChanged(): ISignal<this, void> {
    return this._activeChanged;
  }

  // ---- navigation requests (commands -> sidebar) -----------------------------------

  get formRequested(): ISignal<this, FormRequest> {
    return this._formRequested;
  }

  requestForm(request: FormRequest): void {
    this._formRequested.emit(request);
  }

  get sectionRequested(): ISignal<this, { section: Section; query?: string }> {
    return this._sectionRequested;
  }

  /** Show a section of the sidebar; for templates, `query` replaces the search text. */
  showSection(section: Section, query?: string): void {
    this._sectionRequested.emit({ section, query });
  }

  private _settings: Settings = DEFAULT_SETTINGS;
  private _templates: TemplateSummary[] = [];
  private _index = new TemplateIndex([]);
  private _latest = new Map<string, number>();
  private _templatesError: DatadiveError | null = null;
  private _templatesLoaded = false;
  private _details = new Map<string, Promise<TemplateDetail>>();
  private _projects: Project[] = [];
  private _projectsError: DatadiveError | null = null;
  private _settingsChanged = new Signal<this, void>(this);
  private _templatesChanged = new Signal<this, void>(this);
  private _projectsChanged = new Signal<this, void>(this);
  private _activeChanged = new Signal<this, void>(this);
  private _formRequested = new Signal<this, FormRequest>(this);
  private _sectionRequested = new Signal<this, { section: Section; query?: string }>(this);
}
