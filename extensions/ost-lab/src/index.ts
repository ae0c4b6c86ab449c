import {
  ILabShell,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, MainAreaWidget } from '@jupyterlab/apputils';
import { ILauncher } from '@jupyterlab/launcher';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStatusBar } from '@jupyterlab/statusbar';
import { Widget } from '@lumino/widgets';

import { RunCompare, RunDetail } from './detail';
import { ostLabIcon } from './icon';
import { LabStateModel } from './model';
import { SidebarPanel } from './sidebar';
import { StatusItem, stopRuns } from './statusitem';
import { STRATEGY_NOTEBOOK } from './template';

const PLUGIN_ID = 'ost-lab:plugin';

const CommandIDs = {
  openDashboard: 'ost-lab:open-dashboard',
  newNotebook: 'ost-lab:new-strategy-notebook',
  stopAll: 'ost-lab:stop-all',
  openRun: 'ost-lab:open-run',
  compare: 'ost-lab:compare-runs'
};

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'ost_lab: runs dashboard sidebar, run detail, compare, and the trading status item.',
  autoStart: true,
  requires: [ILabShell],
  optional: [IStatusBar, ICommandPalette, ISettingRegistry, ILauncher],
  activate: (
    app: JupyterFrontEnd,
    shell: ILabShell,
    statusBar: IStatusBar | null,
    palette: ICommandPalette | null,
    settings: ISettingRegistry | null,
    launcher: ILauncher | null
  ) => {
    const config = { interval: 2, confirm: true };
    const model = new LabStateModel(config.interval);
    const stopOptions = { confirm: () => config.confirm };

    const openInMain = (content: Widget) => {
      const existing = [...shell.widgets('main')].find(w => w.id === content.id);
      if (existing) {
        content.dispose();
        shell.activateById(existing.id);
        return;
      }
      const widget = new MainAreaWidget({ content });
      widget.id = content.id;
      widget.title.label = content.title.label;
      widget.title.icon = ostLabIcon;
      content.title.changed.connect(() => {
        widget.title.label = content.title.label;
      });
      shell.add(widget, 'main');
      shell.activateById(widget.id);
    };

    const sidebar = new SidebarPanel(model, {
      openRun: runId => void app.commands.execute(CommandIDs.openRun, { runId }),
      compare: runIds => void app.commands.execute(CommandIDs.compare, { runIds })
    });
    shell.add(sidebar, 'left', { rank: 900 });

    // Run links written by the kernel's widgets (BacktestPanel): <span class="ost-run-link"
    // data-run-id="...">; a click opens that run's detail.
    document.addEventListener('click', event => {
      const target = event.target instanceof Element ? event.target : null;
      const link = target?.closest<HTMLElement>('.ost-run-link[data-run-id]');
      if (link?.dataset.runId) {
        event.preventDefault();
        void app.commands.execute(CommandIDs.openRun, { runId: link.dataset.runId });
      }
    });

    if (statusBar) {
      statusBar.registerStatusItem('ost-lab:status', {
        item: new StatusItem(model, stopOptions),
        align: 'left',
        rank: 900
      });
    }

    app.commands.addCommand(CommandIDs.openDashboard, {
      label: 'Open ost_lab runs dashboard',
      caption: 'Show the ost_lab runs sidebar',
      icon: ostLabIcon,
      execute: () => shell.activateById(sidebar.id)
    });
    app.commands.addCommand(CommandIDs.openRun, {
      label: 'Open ost_lab run',
      execute: args => openInMain(new RunDetail(String(args.runId), () => config.interval))
    });
    app.commands.addCommand(CommandIDs.compare, {
      label: 'Compare ost_lab runs',
      execute: args => {
        const ids = (args.runIds as string[] | undefined) ?? [];
        if (ids.length >= 2) {
          openInMain(new RunCompare(ids));
        }
      }
    });
    app.commands.addCommand(CommandIDs.stopAll, {
      label: 'Stop all running ost_lab runs',
      caption: 'Stop every running run through the control API (works while kernels are busy)',
      execute: async () => {
        await model.refresh();
        await stopRuns(model.status?.running ?? [], stopOptions);
        await model.refresh();
      }
    });
    app.commands.addCommand(CommandIDs.newNotebook, {
      label: args => (args.isLauncher ? 'ost_lab strategy' : 'New ost_lab strategy notebook'),
      caption: 'A notebook with a picker, a strategy skeleton and a backtest cell',
      icon: ostLabIcon,
      execute: async args => {
        const contents = app.serviceManager.contents;
        const dir = typeof args.cwd === 'string' ? args.cwd : '';
        let path = '';
        for (let i = 0; i < 1000; i++) {
          const name = `ost_lab_strategy${i === 0 ? '' : `_${i}`}.ipynb`;
          path = dir ? `${dir}/${name}` : name;
          try {
            await contents.get(path, { content: false });
          } catch {
            break; // free name
          }
        }
        await contents.save(path, { type: 'notebook', format: 'json', content: STRATEGY_NOTEBOOK });
        return app.commands.execute('docmanager:open', { path, factory: 'Notebook' });
      }
    });
    for (const command of [CommandIDs.newNotebook, CommandIDs.openDashboard, CommandIDs.stopAll]) {
      palette?.addItem({ command, category: 'ost_lab' });
    }
    launcher?.add({ command: CommandIDs.newNotebook, category: 'Notebook', rank: 50, args: { isLauncher: true } });

    if (settings) {
      settings
        .load(PLUGIN_ID)
        .then(loaded => {
          const apply = () => {
            config.interval = loaded.get('refreshInterval').composite as number;
            config.confirm = loaded.get('confirmStop').composite as boolean;
            model.intervalSeconds = config.interval;
          };
          apply();
          loaded.changed.connect(apply);
          // The runs database is the server's (OST_LAB_RUNS): mirror it read-only into the settings.
          model.changed.connect(() => {
            const path = model.health?.runs_db;
            if (path && loaded.get('runsDatabase').composite !== path) {
              void loaded.set('runsDatabase', path);
            }
          });
        })
        .catch(reason => console.error('ost_lab: could not load settings', reason));
    }
    void model.refresh();
  }
};

export default plugin;
