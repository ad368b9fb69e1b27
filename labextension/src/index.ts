// The argosy JupyterLab plugin: the sidebar, workflow tabs, and the submit commands.
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, MainAreaWidget, WidgetTracker } from '@jupyterlab/apputils';
import { IEditorServices } from '@jupyterlab/codeeditor';
import { IDocumentWidget } from '@jupyterlab/docregistry';
import { FileDialog, IDefaultFileBrowser, IFileBrowserFactory } from '@jupyterlab/filebrowser';
import { LabIcon } from '@jupyterlab/ui-components';
import { getWorkflow } from './api';
import { CatalogView } from './catalog';
import { WorkflowDetail } from './detail';
import { keyOf } from './logic/events';
import { Workflow } from './logic/types';
import { WorkflowsPanel } from './panel';
import { WorkflowStore } from './store';
import { submitText } from './submit';

const ICON = new LabIcon({
  name: 'argosy:workflows',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" width="16">' +
    '<g class="jp-icon3" fill="#616161"><circle cx="5" cy="6" r="3"/><circle cx="19" cy="6" r="3"/>' +
    '<circle cx="12" cy="19" r="3"/><path d="M6 8l5 9h2l5-9-1.5-1L12 15 7.5 7z"/></g></svg>'
});

const YAML_FILE = /\.ya?ml$/i;

namespace CommandIDs {
  export const submitFile = 'argosy:submit-file';
  export const submitCurrent = 'argosy:submit';
  export const open = 'argosy:open-workflows';
  export const openWorkflow = 'argosy:open-workflow';
  export const openCatalog = 'argosy:open-templates';
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'argosy-labextension:plugin',
  description: 'Argo workflows run by argosy: list, graph, logs, actions, submit.',
  autoStart: true,
  requires: [IFileBrowserFactory],
  optional: [ICommandPalette, ILayoutRestorer, IDefaultFileBrowser, IEditorServices],
  activate: (
    app: JupyterFrontEnd,
    browsers: IFileBrowserFactory,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    defaultBrowser: IDefaultFileBrowser | null,
    editors: IEditorServices | null
  ) => {
    const store = new WorkflowStore();
    const tracker = new WidgetTracker<MainAreaWidget<WorkflowDetail>>({
      namespace: 'argosy-workflow'
    });

    // A workflow's YAML as a new file beside the others (NAME.yaml, else an untitled name).
    const openAsFile = async (name: string, text: string): Promise<void> => {
      const contents = app.serviceManager.contents;
      const cwd = defaultBrowser?.model.path ?? '';
      let file = await contents.newUntitled({ path: cwd, type: 'file', ext: '.yaml' });
      const wanted = cwd ? `${cwd}/${name}.yaml` : `${name}.yaml`;
      file = await contents.rename(file.path, wanted).catch(() => file);
      await contents.save(file.path, { type: 'file', format: 'text', content: text });
      await app.commands.execute('docmanager:open', { path: file.path });
    };

    const openWorkflow = (wf: Workflow): MainAreaWidget<WorkflowDetail> => {
      const key = keyOf(wf);
      const open = tracker.find(w => w.content.workflowKey === key);
      if (open) {
        app.shell.activateById(open.id);
        return open;
      }
      const content = new WorkflowDetail(store, store.get(key) ?? wf, openWorkflow, {
        editors,
        openAsFile
      });
      const widget = new MainAreaWidget({ content });
      widget.id = content.id;
      widget.title.label = wf.metadata.name;
      widget.title.icon = ICON;
      widget.title.closable = true;
      void tracker.add(widget);
      app.shell.add(widget, 'main');
      app.shell.activateById(widget.id);
      return widget;
    };

    // Reopens a workflow's tab by name (the layout restorer's way back after a reload).
    app.commands.addCommand(CommandIDs.openWorkflow, {
      label: 'Open workflow',
      execute: async args => {
        const ns = String(args.namespace ?? 'default');
        const name = String(args.name ?? '');
        const wf = store.find(ns, name) ?? (await getWorkflow(ns, name).catch(() => null));
        return wf ? openWorkflow(wf) : null;
      }
    });
    restorer?.restore(tracker, {
      command: CommandIDs.openWorkflow,
      args: w => ({
        namespace: w.content.workflow.metadata.namespace ?? 'default',
        name: w.content.workflow.metadata.name
      }),
      name: w => w.content.workflowKey
    });

    // The empty list's button: pick a YAML file, then the usual submit form.
    const pickAndSubmit = async () => {
      const manager = (defaultBrowser ?? browsers.tracker.currentWidget)?.model.manager;
      if (!manager) {
        app.shell.activateById('filebrowser');
        return;
      }
      const picked = await FileDialog.getOpenFiles({
        manager,
        title: 'Submit a workflow',
        filter: m => (m.type === 'directory' || YAML_FILE.test(m.name) ? {} : null)
      });
      const file = picked.value?.find(m => m.type !== 'directory');
      if (picked.button.accept && file) {
        const model = await app.serviceManager.contents.get(file.path, {
          content: true,
          format: 'text'
        });
        await submitPath(file.path, String(model.content));
      }
    };
    // The Templates and CronWorkflows page: one tab, brought forward when open.
    let catalog: MainAreaWidget<CatalogView> | null = null;
    app.commands.addCommand(CommandIDs.openCatalog, {
      label: 'Show workflow templates and cron workflows',
      execute: () => {
        if (!catalog || catalog.isDisposed) {
          catalog = new MainAreaWidget({ content: new CatalogView(openWorkflow) });
          catalog.id = 'argosy-catalog-tab';
          catalog.title.label = 'Templates and crons';
          catalog.title.icon = ICON;
          catalog.title.closable = true;
          app.shell.add(catalog, 'main');
        } else {
          void catalog.content.refresh();
        }
        app.shell.activateById(catalog.id);
      }
    });
    const panel = new WorkflowsPanel(
      store,
      openWorkflow,
      () => void pickAndSubmit(),
      () => void app.commands.execute(CommandIDs.openCatalog)
    );
    panel.title.icon = ICON;
    app.shell.add(panel, 'left', { rank: 600 });
    restorer?.add(panel, 'argosy-workflows');
    store.start();

    const submitPath = async (path: string, text: string) => {
      const wf = await submitText(text, path);
      if (wf) {
        store.put(wf);
        app.shell.activateById(panel.id);
        openWorkflow(wf);
      }
    };

    app.commands.addCommand(CommandIDs.submitFile, {
      label: 'Submit workflow',
      caption: 'Submit this YAML file as an Argo workflow',
      icon: ICON,
      isVisible: () => {
        const item = browsers.tracker.currentWidget?.selectedItems().next();
        return !!item && !item.done && YAML_FILE.test(item.value.path);
      },
      execute: async () => {
        const item = browsers.tracker.currentWidget?.selectedItems().next();
        if (!item || item.done) {
          return;
        }
        const model = await app.serviceManager.contents.get(item.value.path, {
          content: true,
          format: 'text'
        });
        await submitPath(item.value.path, String(model.content));
      }
    });

    const currentYaml = (): IDocumentWidget | null => {
      const w = app.shell.currentWidget as IDocumentWidget | null;
      return w && w.context && YAML_FILE.test(w.context.path) ? w : null;
    };
    app.commands.addCommand(CommandIDs.submitCurrent, {
      label: 'Submit workflow',
      caption: 'Submit the open YAML file as an Argo workflow',
      isEnabled: () => currentYaml() !== null,
      execute: async () => {
        const w = currentYaml();
        if (w) {
          await submitPath(w.context.path, w.context.model.toString());
        }
      }
    });
    app.commands.addCommand(CommandIDs.open, {
      label: 'Show workflows',
      execute: () => app.shell.activateById(panel.id)
    });

    app.contextMenu.addItem({
      command: CommandIDs.submitFile,
      selector: '.jp-DirListing-item[data-isdir="false"]',
      rank: 3
    });
    palette?.addItem({ command: CommandIDs.submitCurrent, category: 'Argosy' });
    palette?.addItem({ command: CommandIDs.open, category: 'Argosy' });
    palette?.addItem({ command: CommandIDs.openCatalog, category: 'Argosy' });
  }
};

export default plugin;
