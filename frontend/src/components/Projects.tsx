/**
 * Projects: the list (name, your role, number of notebooks), create and rename in
 * place, and one project opened: its notebooks, data files and members.
 */
import React, { useEffect, useState } from 'react';

import { Member, NotebookEntry, Project } from '../api';
import { DatadiveModel } from '../model';
import { ErrorNote, Progress, useDelayed } from './common';

const DATA_FILE = /\.(csv|tsv|txt|xlsx|xls|parquet|pq|json|jsonl|ndjson)$/i;
/** The project's own marker file (it lets the server follow a renamed folder): not data. */
const PROJECT_MANIFEST = 'datadive-project.json';

export function isDataFile(path: string): boolean {
  return DATA_FILE.test(path) && path.split('/').pop() !== PROJECT_MANIFEST;
}

export interface ProjectsHost {
  openPath(path: string): void;
  /** Files (not folders) anywhere under a folder of the contents root, as contents paths. */
  listFiles(folder: string): Promise<string[]>;
  analyse(project: Project, path: string): void;
}

function roleLabel(trans: DatadiveModel['trans'], role: string): string {
  return role === 'owner' ? trans.__('owner') : role === 'editor' ? trans.__('editor') : trans.__('viewer');
}

export function Projects(props: { model: DatadiveModel; host: ProjectsHost }): JSX.Element {
  const { model, host } = props;
  const trans = model.trans;
  const [, setTick] = useState(0);
  const [loaded, setLoaded] = useState(false);
  const [open, setOpen] = useState<string | null>(null);
  const [creating, setCreating] = useState(false);
  const [newName, setNewName] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [counts, setCounts] = useState<Record<string, number>>({});

  useEffect(() => {
    const changed = () => setTick(t => t + 1);
    model.projectsChanged.connect(changed);
    void model.refreshProjects().then(() => setLoaded(true));
    return () => {
      model.projectsChanged.disconnect(changed);
    };
  }, [model]);

  const projects = model.projects;
  useEffect(() => {
    let live = true;
    for (const p of projects) {
      model.api.notebooks(p.id).then(
        list => live && setCounts(c => ({ ...c, [p.id]: list.length })),
        () => undefined
      );
    }
    return () => {
      live = false;
    };
  }, [projects]);

  const slow = useDelayed(!loaded, 100);

  const create = async () => {
    const name = newName.trim();
    if (!name) {
      return;
    }
    setError(null);
    try {
      const project = await model.api.createProject(name);
      setCreating(false);
      setNewName('');
      await model.refreshProjects();
      setOpen(project.id);
    } catch (e) {
      setError(e);
    }
  };

  const opened = projects.find(p => p.id === open);
  if (opened) {
    return <ProjectDetail model={model} host={host} project={opened} onBack={() => setOpen(null)} />;
  }
  return (
    <div className="dd-projects" data-testid="dd-projects">
      <div className="dd-section-actions">
        {!creating && (
          <button className="jp-Button jp-mod-styled jp-mod-accept" data-testid="dd-project-new" onClick={() => setCreating(true)}>
            {trans.__('New project')}
          </button>
        )}
        {creating && (
          <form
            className="dd-inline-form"
            onSubmit={e => {
              e.preventDefault();
              void create();
            }}
          >
            <input
              className="jp-mod-styled dd-input"
              aria-label={trans.__('Project name')}
              placeholder={trans.__('Project name')}
              autoFocus
              data-testid="dd-project-name"
              value={newName}
              onChange={e => setNewName(e.target.value)}
              onKeyDown={e => e.key === 'Escape' && setCreating(false)}
            />
            <button type="submit" className="jp-Button jp-mod-styled jp-mod-accept">
              {trans.__('Create')}
            </button>
            <button type="button" className="jp-Button jp-mod-styled jp-mod-reject" onClick={() => setCreating(false)}>
              {trans.__('Cancel')}
            </button>
          </form>
        )}
      </div>
      {error !== null && <ErrorNote error={error} trans={trans} />}
      {slow && <Progress label={trans.__('Loading projects…')} />}
      {model.projectsError && <ErrorNote error={model.projectsError} trans={trans} retry={() => void model.refreshProjects()} />}
      {loaded && !model.projectsError && projects.length === 0 && (
        <p className="dd-empty">{trans.__('No project yet. Create one to group notebooks and data.')}</p>
      )}
      <ul className="dd-list" aria-label={trans.__('Projects')}>
        {projects.map(p => (
          <li key={p.id} className="dd-list-item" data-testid="dd-project-item" data-project-id={p.id}>
            <button className="dd-list-main" onClick={() => setOpen(p.id)} title={p.path}>
              <span className="dd-list-title">{p.name}</span>
              <span className="dd-list-sub">
                {roleLabel(trans, p.role)}
                {counts[p.id] !== undefined && ` · ${trans._n('%1 notebook', '%1 notebooks', counts[p.id])}`}
                {p.status === 'missing' && ` · ${trans.__('folder missing')}`}
              </span>
            </button>
          </li>
        ))}
      </ul>
    </div>
  );
}

function ProjectDetail(props: { model: DatadiveModel; host: ProjectsHost; project: Project; onBack: () => void }): JSX.Element {
  const { model, host, project } = props;
  const trans = model.trans;
  const [notebooks, setNotebooks] = useState<NotebookEntry[] | null>(null);
  const [files, setFiles] = useState<string[] | null>(null);
  const [members, setMembers] = useState<Member[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [renaming, setRenaming] = useState(false);
  const [name, setName] = useState(project.name);
  const [newNotebook, setNewNotebook] = useState('');

  const load = () => {
    setError(null);
    model.api.notebooks(project.id).then(setNotebooks, setError);
    model.api.members(project.id).then(setMembers, setError);
    host.listFiles(project.path).then(all => setFiles(all.filter(isDataFile)), setError);
  };
  useEffect(load, [project.id]);

  const rename = async () => {
    try {
      await model.api.renameProject(project.id, name.trim());
      setRenaming(false);
      await model.refreshProjects();
    } catch (e) {
      setError(e);
    }
  };
  const createNotebook = async () => {
    const nbName = newNotebook.trim();
    if (!nbName) {
      return;
    }
    try {
      const nb = await model.api.createNotebook(project.id, nbName.endsWith('.ipynb') ? nbName : `${nbName}.ipynb`);
      setNewNotebook('');
      load();
      host.openPath(`${project.path}/${nb.path}`);
    } catch (e) {
      setError(e);
    }
  };
  const canWrite = project.role !== 'viewer';
  return (
    <div className="dd-project" data-testid="dd-project-detail">
      <button className="jp-mod-styled dd-link" onClick={props.onBack}>
        ← {trans.__('Projects')}
      </button>
      {!renaming ? (
        <div className="dd-project-head">
          <h3 className="dd-project-name">{project.name}</h3>
          {project.role === 'owner' && (
            <button className="jp-mod-styled dd-link" data-testid="dd-project-rename" onClick={() => setRenaming(true)}>
              {trans.__('Rename')}
            </button>
          )}
        </div>
      ) : (
        <form
          className="dd-inline-form"
          onSubmit={e => {
            e.preventDefault();
            void rename();
          }}
        >
          <input
            className="jp-mod-styled dd-input"
            aria-label={trans.__('Project name')}
            autoFocus
            value={name}
            onChange={e => setName(e.target.value)}
            onKeyDown={e => e.key === 'Escape' && setRenaming(false)}
          />
          <button type="submit" className="jp-Button jp-mod-styled jp-mod-accept">
            {trans.__('Save')}
          </button>
        </form>
      )}
      <p className="dd-list-sub">
        {trans.__('Your role: %1', roleLabel(trans, project.role))} · {project.path}
      </p>
      {error !== null && <ErrorNote error={error} trans={trans} retry={load} />}
      <h4 className="dd-subhead">{trans.__('Notebooks')}</h4>
      {notebooks === null ? (
        <Progress label={trans.__('Loading…')} />
      ) : notebooks.length === 0 ? (
        <p className="dd-empty">{trans.__('No notebook yet.')}</p>
      ) : (
        <ul className="dd-list">
          {notebooks.map(nb => (
            <li key={nb.path} className="dd-list-item">
              <button className="dd-list-main" data-testid="dd-project-notebook" onClick={() => host.openPath(`${project.path}/${nb.path}`)}>
                <span className="dd-list-title">{nb.name}</span>
              </button>
            </li>
          ))}
        </ul>
      )}
      {canWrite && (
        <form
          className="dd-inline-form"
          onSubmit={e => {
            e.preventDefault();
            void createNotebook();
          }}
        >
          <input
            className="jp-mod-styled dd-input"
            aria-label={trans.__('New notebook name')}
            placeholder={trans.__('New notebook name')}
            value={newNotebook}
            onChange={e => setNewNotebook(e.target.value)}
          />
          <button type="submit" className="jp-Button jp-mod-styled">
            {trans.__('Create')}
          </button>
        </form>
      )}
      <h4 className="dd-subhead">{trans.__('Data files')}</h4>
      {files === null ? (
        <Progress label={trans.__('Loading…')} />
      ) : files.length === 0 ? (
        <p className="dd-empty">{trans.__('No data file yet. Upload a CSV, Excel or Parquet file into the project folder.')}</p>
      ) : (
        <ul className="dd-list">
          {files.map(f => (
            <li key={f} className="dd-list-item dd-file">
              <button className="dd-list-main" onClick={() => host.openPath(f)} title={f}>
                <span className="dd-list-title">{f.slice(project.path.length + 1)}</span>
              </button>
              <button className="jp-mod-styled dd-link" data-testid="dd-analyse-file" onClick={() => host.analyse(project, f)}>
                {trans.__('Analyse in assistant')}
              </button>
            </li>
          ))}
        </ul>
      )}
      <h4 className="dd-subhead">{trans.__('Members')}</h4>
      {members === null ? (
        <Progress label={trans.__('Loading…')} />
      ) : (
        <ul className="dd-list">
          {members.map(m => (
            <li key={m.user} className="dd-list-item dd-member">
              <span className="dd-list-title">{m.user}</span>
              <span className="dd-list-sub">{roleLabel(trans, m.role)}</span>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
