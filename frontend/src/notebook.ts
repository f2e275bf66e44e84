/**
 * What Datadive does to an open notebook: insert generated cells below the active
 * cell, re-generate or upgrade a generated cell in place, detach it.
 *
 * Two paths (see logic/insertPath.ts for the choice):
 * - server: the notebook has a live collaboration room and belongs to a project,
 *   so the cells REST API edits the shared document; the cells appear here at once
 *   and the server journals the operation (history, undo).
 * - browser: the cells are rendered by `templates/{id}/render` and put into the
 *   notebook model here, like typed cells; the user saves as usual. The file on
 *   disk is never written behind the editor's back, so no "file changed" dialog.
 * Either way the user's unsaved edits stay: the server path edits the same shared
 * document the editor shows, the browser path edits the editor's own model.
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { Cell, ICellModel, ICodeCellModel } from '@jupyterlab/cells';
import { NotebookPanel } from '@jupyterlab/notebook';

import { DatadiveAPI, DatadiveError, NbCell, Project } from './api';
import { DatadiveMeta, cellState, provenance, sourceText } from './logic/cellState';
import { InsertPath, chooseInsertPath, projectOfPath } from './logic/insertPath';

export interface NotebookTarget {
  panel: NotebookPanel;
  path: string;
  project: Project | null;
  /** The notebook path inside its project folder. */
  relative: string | null;
  collaborative: boolean;
  canWrite: boolean;
}

export type InsertMode = 'auto' | 'browser';

export function notebookTarget(panel: NotebookPanel, projects: Project[]): NotebookTarget {
  const path = panel.context.path;
  const found = projectOfPath(path, projects);
  const project = (found?.project as Project | undefined) ?? null;
  return {
    panel,
    path,
    project,
    relative: found?.relative ?? null,
    collaborative: !!panel.context.model?.collaborative,
    canWrite: !project || project.role !== 'viewer'
  };
}

export function insertPathFor(target: NotebookTarget, mode: InsertMode): { path: InsertPath; reason: string } {
  return chooseInsertPath({
    mode,
    collaborative: target.collaborative,
    projectId: target.project?.id ?? null,
    notebookPathInProject: target.relative,
    canWrite: target.canWrite
  });
}

function activeCellId(panel: NotebookPanel): string | null {
  const cell = panel.content.activeCell;
  return cell ? cell.model.id : null;
}

/** Wait until the notebook model holds a cell with `id` (a server edit arriving through the room). */
export function waitForCell(
  panel: NotebookPanel,
  id: string,
  timeoutMs = 10000,
  accept: (model: ICellModel) => boolean = () => true
): Promise<number> {
  const find = () => {
    const cells = panel.content.model?.cells;
    if (!cells) {
      return -1;
    }
    for (let i = 0; i < cells.length; i++) {
      const model = cells.get(i);
      if (model.id === id && accept(model)) {
        return i;
      }
    }
    return -1;
  };
  return new Promise((resolve, reject) => {
    const first = find();
    if (first >= 0) {
      resolve(first);
      return;
    }
    const model = panel.content.model!;
    const timer = window.setTimeout(() => {
      model.cells.changed.disconnect(onChange);
      reject(new DatadiveError(0, 'not_visible', 'The server inserted the cells, but they did not reach this notebook. Reload it to see them.'));
    }, timeoutMs);
    const onChange = () => {
      const index = find();
      if (index >= 0) {
        window.clearTimeout(timer);
        model.cells.changed.disconnect(onChange);
        resolve(index);
      }
    };
    model.cells.changed.connect(onChange);
  });
}

/** Select a cell and bring it into view, in command mode: the keyboard stays where the user is (the form). */
export function selectCell(panel: NotebookPanel, index: number): void {
  const notebook = panel.content;
  notebook.deselectAll();
  notebook.activeCellIndex = index;
  notebook.mode = 'command';
  // scrollToItem, not scrollToCell: the latter activates the cell's editor and takes the focus.
  void notebook.scrollToItem(index, 'auto');
}

/** Cells as the notebook model takes them (a copy: the model owns what it is given). */
function modelCell(cell: NbCell): any {
  const out: any = {
    id: cell.id,
    cell_type: cell.cell_type,
    source: sourceText(cell.source),
    metadata: JSON.parse(JSON.stringify(cell.metadata ?? {}))
  };
  if (cell.cell_type === 'code') {
    out.outputs = [];
    out.execution_count = null;
  }
  return out;
}

/**
 * Insert a template's cells below the active cell (at the top of an empty notebook),
 * then select the first new cell. Returns the ids of the new cells.
 */
export async function insertTemplate(
  api: DatadiveAPI,
  target: NotebookTarget,
  mode: InsertMode,
  template: { id: string; version?: number },
  inputs: Record<string, unknown>
): Promise<{ ids: string[]; path: InsertPath }> {
  const { panel } = target;
  const choice = insertPathFor(target, mode);
  if (choice.path === 'server') {
    const body: Record<string, unknown> = { template: { ...template }, inputs };
    const after = activeCellId(panel);
    if (after) {
      body.after = after;
    } else {
      body.index = 0;
    }
    const reply = await api.insertCells(target.project!.id, target.relative!, body);
    const ids = reply.data.cells.map(c => c.id);
    if (ids.length) {
      const index = await waitForCell(panel, ids[0]);
      selectCell(panel, index);
    }
    return { ids, path: 'server' };
  }
  const cells = await api.render(template.id, inputs, template.version);
  insertRendered(panel, cells);
  return { ids: cells.map(c => c.id), path: 'browser' };
}

/** Put rendered cells into the notebook model below the active cell. */
export function insertRendered(panel: NotebookPanel, cells: NbCell[]): void {
  const notebook = panel.content;
  const model = notebook.model!;
  const index = notebook.activeCellIndex >= 0 && model.cells.length ? notebook.activeCellIndex + 1 : 0;
  model.sharedModel.transact(() => {
    model.sharedModel.insertCells(index, cells.map(modelCell));
  });
  selectCell(panel, index);
}

export interface GeneratedCell {
  panel: NotebookPanel;
  cell: Cell;
  meta: DatadiveMeta;
}

export function generatedCell(panel: NotebookPanel | null, cell: Cell | null | undefined): GeneratedCell | null {
  if (!panel || !cell) {
    return null;
  }
  const meta = provenance(cell.model.sharedModel.getMetadata());
  return meta ? { panel, cell, meta } : null;
}

async function confirmReplace(trans: { __: (s: string, ...a: any[]) => string }): Promise<boolean> {
  const result = await showDialog({
    title: trans.__('Replace hand edits?'),
    body: trans.__(
      'This cell was edited by hand since it was generated. Re-generating it replaces those edits with the code the template makes from your inputs.'
    ),
    buttons: [Dialog.cancelButton({ label: trans.__('Cancel') }), Dialog.warnButton({ label: trans.__('Replace') })]
  });
  return result.button.accept;
}

/** Replace one cell's source and provenance in the browser model, keeping its id. */
function replaceInModel(cell: Cell, rendered: NbCell): void {
  const shared = cell.model.sharedModel as any;
  shared.transact(() => {
    shared.setSource(sourceText(rendered.source));
    const metadata = { ...(rendered.metadata ?? {}) };
    for (const [key, value] of Object.entries(metadata)) {
      shared.setMetadata(key, JSON.parse(JSON.stringify(value)));
    }
    if (cell.model.type === 'code') {
      (cell.model as ICodeCellModel).outputs.clear();
      shared.execution_count = null;
    }
  });
}

/**
 * Re-generate a generated cell in place with new inputs (`version` unchanged) or
 * upgrade it (`upgradeTo` = the newest version, inputs as recorded unless given).
 * A cell edited by hand is replaced only after the user confirms. Returns false
 * when the user cancelled.
 */
export async function regenerate(
  api: DatadiveAPI,
  target: NotebookTarget,
  mode: InsertMode,
  generated: GeneratedCell,
  options: { inputs?: Record<string, unknown>; upgradeTo?: number },
  trans: { __: (s: string, ...a: any[]) => string }
): Promise<boolean> {
  const { cell, meta } = generated;
  // The server path replaces the cell in the shared document: this widget may be gone after the await.
  const cellId = cell.model.id;
  const before = cell.model;
  const choice = insertPathFor(target, mode);
  const inputs = options.inputs ?? (meta.inputs as Record<string, unknown>) ?? {};
  if (choice.path === 'server') {
    const body: Record<string, unknown> = options.upgradeTo !== undefined ? { template_version: 'latest' } : {};
    if (options.inputs || options.upgradeTo === undefined) {
      body.inputs = inputs;
    }
    const url = [target.project!.id, target.relative!, cellId] as const;
    try {
      await api.updateCell(...url, body);
    } catch (error) {
      if (error instanceof DatadiveError && error.code === 'cell_edited') {
        if (!(await confirmReplace(trans))) {
          return false;
        }
        await api.updateCell(...url, { ...body, force: true });
      } else {
        throw error;
      }
    }
    // The shared document replaced the cell: select the new one once it has arrived.
    // (Within a few seconds; a server that edited the cell in place leaves the same model.)
    const index = await waitForCell(target.panel, cellId, 3000, model => model !== before).catch(() =>
      waitForCell(target.panel, cellId)
    );
    selectCell(target.panel, index);
    return true;
  }
  const state = cellState(cell.model.sharedModel.getSource(), cell.model.sharedModel.getMetadata());
  if (state === 'edited' && !(await confirmReplace(trans))) {
    return false;
  }
  const version = options.upgradeTo ?? meta.version;
  const cells = await api.render(meta.template, inputs, version);
  const part = typeof meta.part === 'number' ? meta.part : 0;
  const rendered = cells.find(c => c.metadata?.datadive?.part === part) ?? cells[Math.min(part, cells.length - 1)];
  if (!rendered) {
    throw new DatadiveError(0, 'no_cell', 'The template rendered no cell for this part.');
  }
  replaceInModel(cell, rendered);
  return true;
}

/** Make a generated cell a plain cell: drop its provenance (and the read-only marks of a locked template). */
export function detach(generated: GeneratedCell): void {
  const shared = generated.cell.model.sharedModel as any;
  shared.transact(() => {
    shared.deleteMetadata('datadive');
    if (shared.getMetadata('editable') === false) {
      shared.deleteMetadata('editable');
    }
    if (shared.getMetadata('deletable') === false) {
      shared.deleteMetadata('deletable');
    }
  });
}
