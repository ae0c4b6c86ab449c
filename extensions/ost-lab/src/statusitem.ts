import { Dialog, showDialog } from '@jupyterlab/apputils';
import { Popup, showPopup } from '@jupyterlab/statusbar';
import { Widget } from '@lumino/widgets';

import { IRunSummary, MODES, formatPct, stopRun } from './api';
import { LabStateModel } from './model';

/** Whether to ask before stopping; set from the settings. */
export interface IStopOptions {
  confirm: () => boolean;
}

/** Stop runs through the control API (not the kernel), asking first when the settings say so. */
export async function stopRuns(runs: IRunSummary[], options: IStopOptions): Promise<string[]> {
  if (runs.length === 0) {
    return [];
  }
  if (options.confirm()) {
    const names = runs.map(r => `${r.name} (${r.mode}, ${r.id})`).join('\n');
    const answer = await showDialog({
      title: runs.length === 1 ? 'Stop this run?' : `Stop ${runs.length} running runs?`,
      body: names,
      buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Stop' })]
    });
    if (!answer.button.accept) {
      return [];
    }
  }
  const results = await Promise.allSettled(runs.map(r => stopRun(r.id, 2000)));
  return results.map((r, i) =>
    r.status === 'fulfilled'
      ? `${runs[i].id}: ${r.value.acked ? 'stopped' : 'stop requested'}`
      : `${runs[i].id}: ${r.reason instanceof Error ? r.reason.message : String(r.reason)}`
  );
}

/** The status-bar item: running runs by mode, red when anything is live; click to list and stop them. */
export class StatusItem extends Widget {
  constructor(model: LabStateModel, options: IStopOptions) {
    super();
    this._model = model;
    this._options = options;
    this.addClass('ost-lab-StatusItem');
    this.node.title = 'ost_lab trading status: click for running runs';
    this.node.addEventListener('click', () => this._toggle());
    model.changed.connect(this._render, this);
    this._render();
  }

  dispose(): void {
    this._model.changed.disconnect(this._render, this);
    this._popup?.dispose();
    super.dispose();
  }

  private _toggle(): void {
    if (this._popup && !this._popup.isDisposed) {
      this._popup.dispose();
      this._popup = null;
      return;
    }
    this._body = new Widget();
    this._body.addClass('ost-lab-StatusPopup');
    this._renderPopup();
    this._popup = showPopup({ body: this._body, anchor: this, align: 'left', hasDynamicSize: true });
  }

  private _render(): void {
    const { health, error, status } = this._model;
    if (!health || !status) {
      this.node.dataset.state = 'error';
      this.node.textContent = error ? 'ost_lab: server unreachable' : 'ost_lab: connecting…';
      this.node.title = error ?? 'ost_lab trading status';
    } else {
      const n = status.running.length;
      const parts = MODES.filter(m => status.by_mode[m] > 0).map(m => `${status.by_mode[m]} ${m}`);
      if (status.live) {
        this.node.dataset.state = 'live';
        this.node.textContent = `ost_lab: LIVE · ${n} running (${parts.join(', ')})`;
      } else if (n > 0) {
        this.node.dataset.state = 'running';
        this.node.textContent = `ost_lab: ${n} running (${parts.join(', ')})`;
      } else {
        this.node.dataset.state = 'idle';
        this.node.textContent = 'ost_lab: no live trading';
      }
      this.node.title = 'ost_lab trading status: click for running runs';
    }
    if (this._popup && !this._popup.isDisposed) {
      this._renderPopup();
    }
  }

  private _renderPopup(): void {
    if (!this._body) {
      return;
    }
    const node = this._body.node;
    const status = this._model.status;
    const head = document.createElement('div');
    head.className = 'ost-lab-StatusPopup-header';
    head.textContent = 'Running runs';
    const list = document.createElement('ul');
    list.className = 'ost-lab-StatusPopup-list';
    const running = status?.running ?? [];
    for (const run of running) {
      const li = document.createElement('li');
      li.dataset.runId = run.id;
      const badge = document.createElement('span');
      badge.className = 'ost-lab-Badge';
      badge.dataset.mode = run.mode;
      badge.textContent = run.mode;
      const label = document.createElement('span');
      label.className = 'ost-lab-StatusPopup-name';
      const age = run.heartbeat_age_s ?? 0;
      label.textContent =
        `${run.name} · ${run.progress !== null ? formatPct(run.progress).replace('+', '') : ''}` +
        (age > 10 ? ` · engine not responding (no heartbeat for ${Math.round(age)} s)` : '');
      label.dataset.stale = age > 10 ? 'true' : 'false';
      const stop = document.createElement('button');
      stop.className = 'jp-mod-styled jp-mod-warn ost-lab-StopButton';
      stop.textContent = this._pending.has(run.id) ? 'Stopping…' : 'Stop';
      stop.disabled = this._pending.has(run.id);
      stop.addEventListener('click', event => {
        event.stopPropagation();
        void this._stop([run]);
      });
      li.append(badge, label, stop);
      list.append(li);
    }
    const children: Node[] = [head];
    if (!status) {
      const err = document.createElement('div');
      err.className = 'ost-lab-Error';
      err.textContent = this._model.error ?? 'ost_lab server not answering';
      children.push(err);
    } else if (running.length === 0) {
      const empty = document.createElement('div');
      empty.className = 'ost-lab-empty';
      empty.textContent = 'Nothing is running.';
      children.push(empty);
    } else {
      children.push(list);
      const all = document.createElement('button');
      all.className = 'jp-mod-styled jp-mod-warn ost-lab-StopAllButton';
      all.textContent = 'Stop all';
      all.addEventListener('click', event => {
        event.stopPropagation();
        void this._stop(running);
      });
      children.push(all);
    }
    if (this._message) {
      const msg = document.createElement('div');
      msg.className = 'ost-lab-StatusPopup-message';
      msg.textContent = this._message;
      children.push(msg);
    }
    node.replaceChildren(...children);
  }

  private async _stop(runs: IRunSummary[]): Promise<void> {
    runs.forEach(r => this._pending.add(r.id));
    this._renderPopup();
    try {
      const results = await stopRuns(runs, this._options);
      this._message = results.join('\n');
    } finally {
      runs.forEach(r => this._pending.delete(r.id));
      await this._model.refresh();
    }
  }

  private _model: LabStateModel;
  private _options: IStopOptions;
  private _popup: Popup | null = null;
  private _body: Widget | null = null;
  private _pending = new Set<string>();
  private _message = '';
}
