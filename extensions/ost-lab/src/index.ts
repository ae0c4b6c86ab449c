import {
  ILabShell,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStatusBar } from '@jupyterlab/statusbar';

import { LabStateModel } from './model';
import { SidebarPanel } from './sidebar';
import { StatusItem } from './statusitem';

const PLUGIN_ID = 'ost-lab:plugin';

const CommandIDs = {
  openDashboard: 'ost-lab:open-dashboard'
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'ost_lab: runs dashboard sidebar and trading status item.',
  autoStart: true,
  requires: [ILabShell],
  optional: [IStatusBar, ICommandPalette, ISettingRegistry],
  activate: (
    app: JupyterFrontEnd,
    shell: ILabShell,
    statusBar: IStatusBar | null,
    palette: ICommandPalette | null,
    settings: ISettingRegistry | null
  ) => {
    const model = new LabStateModel(2);
    const sidebar = new SidebarPanel(model);
    shell.add(sidebar, 'left', { rank: 900 });

    if (statusBar) {
      statusBar.registerStatusItem('ost-lab:status', {
        item: new StatusItem(model),
        align: 'left',
        rank: 900
      });
    }

    app.commands.addCommand(CommandIDs.openDashboard, {
      label: 'Open ost_lab runs dashboard',
      execute: () => shell.activateById(sidebar.id)
    });
    palette?.addItem({ command: CommandIDs.openDashboard, category: 'ost_lab' });

    if (settings) {
      settings
        .load(PLUGIN_ID)
        .then(loaded => {
          const apply = () => {
            model.intervalSeconds = loaded.get('refreshInterval').composite as number;
          };
          apply();
          loaded.changed.connect(apply);
        })
        .catch(reason => console.error('ost_lab: could not load settings', reason));
    }
    void model.refresh();
  }
};

export default plugin;
