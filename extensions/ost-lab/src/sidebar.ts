import { Widget } from '@lumino/widgets';

import { ostLabIcon } from './icon';
import { LabStateModel } from './model';

/** The left-sidebar panel: server health now, the runs dashboard as it grows. */
export class SidebarPanel extends Widget {
  constructor(model: LabStateModel) {
    super();
    this._model = model;
    this.id = 'ost-lab-sidebar';
    this.addClass('ost-lab-Sidebar');
    this.title.icon = ostLabIcon;
    this.title.caption = 'ost_lab';

    const header = document.createElement('h2');
    header.className = 'ost-lab-Sidebar-header';
    header.textContent = 'ost_lab';
    this._health = document.createElement('div');
    this._health.className = 'ost-lab-Sidebar-health';
    this._runs = document.createElement('div');
    this._runs.className = 'ost-lab-Sidebar-runs';
    this._runs.textContent = 'Runs recorded by backtests, sandbox and live sessions will appear here.';
    this.node.append(header, this._health, this._runs);

    model.changed.connect(this._render, this);
    this._render();
  }

  dispose(): void {
    this._model.changed.disconnect(this._render, this);
    super.dispose();
  }

  private _render(): void {
    const { health, error } = this._model;
    this._health.replaceChildren();
    const status = document.createElement('div');
    status.className = 'ost-lab-Sidebar-status';
    if (health) {
      status.dataset.status = health.status;
      status.textContent = `Server: ${health.status} · ost_lab ${health.version}`;
      this._health.append(status, this._row('Securities master', health.secmaster));
      this._health.append(this._row('Runs database', health.runs_db));
    } else {
      status.dataset.status = 'error';
      status.textContent = error ? `Server: ${error}` : 'Server: connecting…';
      this._health.append(status);
    }
  }

  private _row(label: string, value: string): HTMLElement {
    const row = document.createElement('div');
    row.className = 'ost-lab-Sidebar-row';
    const key = document.createElement('span');
    key.className = 'ost-lab-Sidebar-key';
    key.textContent = label;
    const val = document.createElement('code');
    val.textContent = value;
    val.title = value;
    row.append(key, val);
    return row;
  }

  private _model: LabStateModel;
  private _health: HTMLElement;
  private _runs: HTMLElement;
}
