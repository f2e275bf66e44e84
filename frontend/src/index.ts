/**
 * Datadive for JupyterLab: the sidebar (projects, template gallery and forms,
 * assistant), markers and commands on generated cells.
 */
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, showErrorMessage } from '@jupyterlab/apputils';
import { IEditorLanguageRegistry } from '@jupyterlab/codemirror';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { LabIcon } from '@jupyterlab/ui-components';
import { Menu } from '@lumino/widgets';

import { DatadiveAPI } from './api';
import { errorText } from './components/common';
import { DEFAULT_SETTINGS, DatadiveModel, Settings } from './model';
import { CellMarkers } from './markers';
import { detach, generatedCell, regenerate } from './notebook';
import { DatadiveSidebar } from './sidebar';

const PLUGIN_ID = 'datadive:plugin';

export const datadiveIcon = new LabIcon({
  name: 'datadive:icon',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">' +
    '<g class="jp-icon3" fill="#616161"><path d="M3 3h8.5a8.5 8.5 0 0 1 0 17H3zm3 3v11h5.5a5.5 5.5 0 0 0 0-11z"/>' +
    '<circle cx="19.5" cy="20.5" r="2"/><circle cx="15.5" cy="22.6" r="1.1"/></g></svg>'
});

export namespace CommandIDs {
  export const open = 'datadive:open';
  export const insertTemplate = 'datadive:insert-template';
  export const editInputs = 'datadive:edit-inputs';
  export const upgrade = 'datadive:upgrade-cell';
  export const detachCell = 'datadive:detach-cell';
  export const showTemplate = 'datadive:show-template';
  export const assistant = 'datadive:open-assistant';
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'Datadive sidebar, template forms, generated-cell markers and the statistical-test assistant.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ISettingRegistry, ITranslator, ICommandPalette, IEditorLanguageRegistry],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    settingRegistry: ISettingRegistry | null,
    translator: ITranslator | null,
    palette: ICommandPalette | null,
    languages: IEditorLanguageRegistry | null
  ) => {
    const trans = (translator ?? nullTranslator).load('datadive');
    const api = new DatadiveAPI({ settings: app.serviceManager.serverSettings });
    const model = new DatadiveModel(api, tracker, trans);
    const { commands, shell } = app;

    const sidebar = new DatadiveSidebar(model, {
      languages,
      contents: app.serviceManager.contents,
      openPath: path => void commands.execute('docmanager:open', { path })
    });
    sidebar.id = 'datadive-sidebar';
    sidebar.title.icon = datadiveIcon;
    sidebar.title.caption = trans.__('Datadive');
    sidebar.title.label = '';
    shell.add(sidebar, 'left', { rank: 450 });

    const reveal = () => shell.activateById(sidebar.id);
    model.formRequested.connect(reveal);
    model.sectionRequested.connect(reveal);

    // A right click on a generated cell makes it the active cell before JupyterLab builds its
    // context menu (window, capture phase: first of all listeners), so the Datadive items act on it.
    window.addEventListener(
      'contextmenu',
      event => {
        const node = (event.target as HTMLElement | null)?.closest?.('.jp-Cell.dd-generated');
        const panel = tracker.currentWidget;
        if (!node || !panel || !panel.node.contains(node)) {
          return;
        }
        const index = panel.content.widgets.findIndex(w => w.node === node);
        if (index >= 0 && index !== panel.content.activeCellIndex) {
          panel.content.deselectAll();
          panel.content.activeCellIndex = index;
        }
      },
      true
    );

    const current = () => {
      const panel = tracker.currentWidget;
      return generatedCell(panel, panel?.content.activeCell);
    };
    const fail = (title: string) => (error: unknown) => void showErrorMessage(title, errorText(error, trans));

    commands.addCommand(CommandIDs.open, {
      label: trans.__('Open the Datadive sidebar'),
      caption: trans.__('Projects, cell templates and the statistical-test assistant'),
      icon: datadiveIcon,
      execute: () => reveal()
    });
    commands.addCommand(CommandIDs.insertTemplate, {
      label: trans.__('Insert a cell from a template…'),
      execute: () => model.showSection('templates')
    });
    commands.addCommand(CommandIDs.assistant, {
      label: trans.__('Which test? Open the assistant'),
      execute: () => model.showSection('assistant')
    });
    commands.addCommand(CommandIDs.editInputs, {
      label: trans.__('Edit cell inputs…'),
      caption: trans.__('Change the inputs of this generated cell and re-generate it'),
      icon: datadiveIcon,
      isEnabled: () => current() !== null,
      isVisible: () => current() !== null,
      execute: () => {
        const generated = current();
        if (!generated) {
          return;
        }
        model.requestForm({
          templateId: generated.meta.template,
          version: generated.meta.version,
          inputs: (generated.meta.inputs as Record<string, unknown>) ?? {},
          edit: { panel: generated.panel, cellId: generated.cell.model.id }
        });
      }
    });
    commands.addCommand(CommandIDs.upgrade, {
      label: () => {
        const generated = current();
        const latest = generated ? model.latestVersion(generated.meta.template) : undefined;
        return latest !== undefined && generated && latest > (generated.meta.version ?? 0)
          ? trans.__('Upgrade to v%1', latest)
          : trans.__('Upgrade to the newest version');
      },
      isEnabled: () => {
        const generated = current();
        const latest = generated ? model.latestVersion(generated.meta.template) : undefined;
        return !!generated && latest !== undefined && latest > (generated.meta.version ?? 0);
      },
      isVisible: () => current() !== null,
      execute: async () => {
        const generated = current();
        const target = model.target(generated?.panel ?? null);
        const latest = generated ? model.latestVersion(generated.meta.template) : undefined;
        if (!generated || !target || latest === undefined) {
          return;
        }
        await regenerate(api, target, model.settings.insertPath, generated, { upgradeTo: latest }, trans).catch(
          fail(trans.__('Upgrade failed'))
        );
      }
    });
    commands.addCommand(CommandIDs.detachCell, {
      label: trans.__('Detach from template'),
      caption: trans.__('Make this a plain cell: it forgets its template and inputs'),
      isEnabled: () => current() !== null,
      isVisible: () => current() !== null,
      execute: () => {
        const generated = current();
        if (generated) {
          detach(generated);
        }
      }
    });
    commands.addCommand(CommandIDs.showTemplate, {
      label: trans.__('Show template'),
      isEnabled: () => current() !== null,
      isVisible: () => current() !== null,
      execute: () => {
        const generated = current();
        if (generated) {
          model.showSection('templates', generated.meta.template);
        }
      }
    });

    const cellMenu = new Menu({ commands });
    cellMenu.addClass('dd-cell-menu');
    for (const command of [CommandIDs.editInputs, CommandIDs.upgrade, CommandIDs.detachCell, CommandIDs.showTemplate]) {
      cellMenu.addItem({ command });
    }
    new CellMarkers(model, tracker, cellMenu, commands);

    if (palette) {
      const category = trans.__('Datadive');
      for (const command of Object.values(CommandIDs)) {
        palette.addItem({ command, category });
      }
    }

    const load = (registry: ISettingRegistry.ISettings) => {
      model.settings = { ...DEFAULT_SETTINGS, ...(registry.composite as Partial<Settings>) };
    };
    if (settingRegistry) {
      settingRegistry
        .load(PLUGIN_ID)
        .then(settings => {
          load(settings);
          settings.changed.connect(load);
        })
        .catch(reason => console.error('Datadive: settings could not be loaded', reason));
    }
    void model.refreshTemplates();
    void model.refreshProjects();
    // Paths and roles change when notebooks are opened elsewhere: refresh projects on a new notebook.
    tracker.widgetAdded.connect(() => void model.refreshProjects());
  }
};

export default plugin;
