/**
 * The marker of a generated cell: a small chip on a thin line under the cell's input, with
 * the template's title, its version and the cell's state (generated / edited by
 * hand / newer version available). Clicking it opens the cell's Datadive menu.
 *
 * Every notebook is watched: cells added, sources edited and metadata changed
 * update the chips (batched per animation frame). Text is set as text, never HTML.
 */
import { Cell } from '@jupyterlab/cells';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { CommandRegistry } from '@lumino/commands';
import { Menu } from '@lumino/widgets';

import { cellState, provenance } from './logic/cellState';
import { DatadiveModel } from './model';

export const MARKER_CLASS = 'dd-cell-marker';
export const GENERATED_CLASS = 'dd-generated';

export class CellMarkers {
  constructor(
    private model: DatadiveModel,
    tracker: INotebookTracker,
    private menu: Menu,
    private commands: CommandRegistry
  ) {
    this._tracker = tracker;
    tracker.widgetAdded.connect((_, panel) => this.watch(panel));
    tracker.forEach(panel => this.watch(panel));
    model.templatesChanged.connect(() => this.refreshAll());
    model.settingsChanged.connect(() => this.refreshAll());
  }

  refreshAll(): void {
    this._tracker.forEach(panel => this.schedule(panel));
  }

  private watch(panel: NotebookPanel): void {
    const hook = () => {
      const model = panel.content.model;
      if (!model) {
        return;
      }
      model.cells.changed.connect(() => this.schedule(panel));
      // Source and metadata edits of any cell reach the notebook's shared model.
      model.sharedModel.changed.connect(() => this.schedule(panel));
      this.schedule(panel);
    };
    if (panel.content.model) {
      hook();
    }
    panel.content.modelChanged.connect(hook);
    void panel.context.ready.then(() => this.schedule(panel));
  }

  private schedule(panel: NotebookPanel): void {
    if (this._pending.has(panel)) {
      return;
    }
    this._pending.add(panel);
    requestAnimationFrame(() => {
      this._pending.delete(panel);
      if (!panel.isDisposed) {
        this.update(panel);
      }
    });
  }

  private update(panel: NotebookPanel): void {
    const show = this.model.settings.showCellMarkers;
    for (const cell of panel.content.widgets) {
      this.updateCell(panel, cell, show);
    }
  }

  private updateCell(panel: NotebookPanel, cell: Cell, show: boolean): void {
    const host = cell.node.querySelector<HTMLElement>('.jp-Cell-inputWrapper') ?? cell.node;
    let chip = cell.node.querySelector<HTMLButtonElement>(`.${MARKER_CLASS}`);
    if (chip && chip.parentElement !== host) {
      host.appendChild(chip);
    }
    const shared = cell.model.sharedModel;
    const meta = show ? provenance(shared.getMetadata()) : null;
    if (!meta) {
      chip?.remove();
      cell.node.classList.remove(GENERATED_CLASS);
      return;
    }
    cell.node.classList.add(GENERATED_CLASS);
    const trans = this.model.trans;
    const latest = this.model.latestVersion(meta.template);
    const state = cellState(shared.getSource(), shared.getMetadata(), latest);
    const title = this.model.summary(meta.template)?.title ?? meta.template;
    const version = typeof meta.version === 'number' ? `v${meta.version}` : '';
    const word =
      state === 'edited' ? trans.__('edited by hand') : state === 'outdated' ? trans.__('v%1 available', latest) : '';
    const locked = shared.getMetadata('editable') === false;
    if (!chip) {
      chip = document.createElement('button');
      chip.className = `${MARKER_CLASS} jp-mod-styled`;
      chip.type = 'button';
      chip.dataset.testid = 'dd-cell-marker';
      // The menu opens on mousedown, like JupyterLab's menus (the cell does not take the click);
      // Enter and Space give a click with detail 0.
      chip.addEventListener('mousedown', event => {
        event.preventDefault();
        event.stopPropagation();
        if (event.button === 0) {
          this.openMenu(panel, cell, chip!);
        }
      });
      chip.addEventListener('click', event => {
        event.preventDefault();
        event.stopPropagation();
        if (event.detail === 0) {
          this.openMenu(panel, cell, chip!);
        }
      });
      host.appendChild(chip);
    }
    chip.dataset.state = state;
    chip.replaceChildren();
    const name = document.createElement('span');
    name.className = 'dd-marker-title';
    name.textContent = title;
    const ver = document.createElement('span');
    ver.className = 'dd-marker-version';
    ver.textContent = version;
    chip.append(name, ver);
    if (word) {
      const w = document.createElement('span');
      w.className = 'dd-marker-state';
      w.textContent = word;
      chip.append(w);
    }
    if (locked) {
      const l = document.createElement('span');
      l.className = 'dd-marker-state';
      l.textContent = trans.__('locked');
      chip.append(l);
    }
    const stateText =
      state === 'edited' ? trans.__('edited by hand') : state === 'outdated' ? trans.__('newer version available') : trans.__('generated');
    chip.title = trans.__('Generated from the template "%1" %2: %3. Click for Edit inputs, Upgrade, Detach.', title, version, stateText);
    chip.setAttribute('aria-label', chip.title);
  }

  private openMenu(panel: NotebookPanel, cell: Cell, chip: HTMLElement): void {
    const index = panel.content.widgets.indexOf(cell);
    if (index >= 0) {
      panel.content.deselectAll();
      panel.content.activeCellIndex = index;
    }
    this._tracker.currentWidget !== panel && panel.activate();
    const rect = chip.getBoundingClientRect();
    for (const id of ['datadive:edit-inputs', 'datadive:upgrade-cell', 'datadive:detach-cell', 'datadive:show-template']) {
      this.commands.notifyCommandChanged(id);
    }
    this.menu.open(rect.left, rect.bottom + 2);
  }

  private _pending = new Set<NotebookPanel>();
  private _tracker: INotebookTracker;
}
