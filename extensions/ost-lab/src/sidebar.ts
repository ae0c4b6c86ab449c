import { Widget } from '@lumino/widgets';

import { IRunSummary, MODES, STATUSES, formatPct, formatTime } from './api';
import { ostLabIcon } from './icon';
import { LabStateModel, RUNS_PAGE } from './model';

/** What the sidebar asks its host to do. */
export interface ISidebarActions {
  openRun(runId: string): void;
  compare(runIds: string[]): void;
}

/** The left-sidebar panel: server health, filters and the runs list (newest first, polled). */
export class SidebarPanel extends Widget {
  constructor(model: LabStateModel, actions: ISidebarActions) {
    super();
    this._model = model;
    this._actions = actions;
    this.id = 'ost-lab-sidebar';
    this.addClass('ost-lab-Sidebar');
    this.title.icon = ostLabIcon;
    this.title.caption = 'ost_lab runs';

    const header = document.createElement('h2');
    header.className = 'ost-lab-Sidebar-header';
    header.textContent = 'ost_lab runs';
    this._health = document.createElement('div');
    this._health.className = 'ost-lab-Sidebar-health';

    const filters = document.createElement('div');
    filters.className = 'ost-lab-Sidebar-filters';
    this._mode = this._select('mode', ['', ...MODES], 'all modes');
    this._status = this._select('status', ['', ...STATUSES], 'all statuses');
    this._text = document.createElement('input');
    this._text.type = 'search';
    this._text.placeholder = 'Filter by name, strategy, instrument';
    this._text.className = 'jp-mod-styled ost-lab-Filter';
    this._text.dataset.filter = 'q';
    let debounce = 0;
    this._text.addEventListener('input', () => {
      window.clearTimeout(debounce);
      debounce = window.setTimeout(() => this._applyFilter(), 250);
    });
    filters.append(this._mode, this._status, this._text);

    const toolbar = document.createElement('div');
    toolbar.className = 'ost-lab-Sidebar-toolbar';
    this._compare = document.createElement('button');
    this._compare.className = 'jp-mod-styled jp-mod-accept ost-lab-CompareButton';
    this._compare.textContent = 'Compare selected';
    this._compare.disabled = true;
    this._compare.addEventListener('click', () => this._actions.compare([...this._selected]));
    this._count = document.createElement('span');
    this._count.className = 'ost-lab-Sidebar-count';
    toolbar.append(this._compare, this._count);

    this._error = document.createElement('div');
    this._error.className = 'ost-lab-Error';
    this._error.hidden = true;
    this._runs = document.createElement('ul');
    this._runs.className = 'ost-lab-RunList';
    this.node.append(header, this._health, filters, toolbar, this._error, this._runs);

    model.changed.connect(this._render, this);
    this._render();
  }

  dispose(): void {
    this._model.changed.disconnect(this._render, this);
    super.dispose();
  }

  private _select(name: string, values: string[], allLabel: string): HTMLSelectElement {
    const select = document.createElement('select');
    select.className = 'jp-mod-styled ost-lab-Filter';
    select.dataset.filter = name;
    select.title = `Filter by ${name}`;
    for (const v of values) {
      const o = document.createElement('option');
      o.value = v;
      o.textContent = v || allLabel;
      select.append(o);
    }
    select.addEventListener('change', () => this._applyFilter());
    return select;
  }

  private _applyFilter(): void {
    this._model.filter = {
      mode: this._mode.value,
      status: this._status.value,
      q: this._text.value.trim()
    };
  }

  private _render(): void {
    const { health, error, runs, runsError } = this._model;
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
    this._error.hidden = !runsError;
    this._error.textContent = runsError ? `Runs: ${runsError}` : '';

    const ids = new Set(runs.map(r => r.id));
    for (const id of [...this._selected]) {
      if (!ids.has(id)) {
        this._selected.delete(id);
      }
    }
    this._runs.replaceChildren(...runs.map(r => this._runItem(r)));
    if (runs.length === 0 && !runsError) {
      const li = document.createElement('li');
      li.className = 'ost-lab-empty';
      li.textContent = 'No runs match. Runs recorded by backtests, sandbox and live sessions appear here.';
      this._runs.append(li);
    }
    const total = this._model.runsTotal;
    if (total !== null && runs.length < total) {
      const li = document.createElement('li');
      li.className = 'ost-lab-RunList-more';
      const more = document.createElement('button');
      more.className = 'jp-mod-styled ost-lab-ShowMoreButton';
      more.textContent = `Show ${Math.min(RUNS_PAGE, total - runs.length)} more`;
      more.addEventListener('click', () => this._model.showMore());
      li.append(more);
      this._runs.append(li);
    }
    this._count.textContent =
      total !== null && runs.length < total
        ? `${runs.length} of ${total} runs`
        : `${runs.length} run${runs.length === 1 ? '' : 's'}`;
    this._updateCompare();
  }

  private _updateCompare(): void {
    this._compare.disabled = this._selected.size < 2;
    this._compare.textContent =
      this._selected.size >= 2 ? `Compare ${this._selected.size} runs` : 'Compare selected';
  }

  private _runItem(run: IRunSummary): HTMLElement {
    const li = document.createElement('li');
    li.className = 'ost-lab-RunRow';
    li.dataset.runId = run.id;
    li.dataset.status = run.status;
    li.dataset.mode = run.mode;
    li.tabIndex = 0;
    li.title = `Open run ${run.id}`;

    const check = document.createElement('input');
    check.type = 'checkbox';
    check.className = 'ost-lab-RunRow-select';
    check.title = 'Select to compare';
    check.checked = this._selected.has(run.id);
    check.addEventListener('click', event => event.stopPropagation());
    check.addEventListener('change', () => {
      if (check.checked) {
        this._selected.add(run.id);
      } else {
        this._selected.delete(run.id);
      }
      this._updateCompare();
    });

    const main = document.createElement('div');
    main.className = 'ost-lab-RunRow-main';
    const top = document.createElement('div');
    top.className = 'ost-lab-RunRow-top';
    const badge = document.createElement('span');
    badge.className = 'ost-lab-Badge';
    badge.dataset.mode = run.mode;
    badge.textContent = run.mode;
    const name = document.createElement('span');
    name.className = 'ost-lab-RunRow-name';
    name.textContent = run.name;
    const ret = document.createElement('span');
    ret.className = 'ost-lab-RunRow-return';
    const value =
      run.status === 'running' && run.mode !== 'backtest' && run.last_equity !== null
        ? null
        : run.total_return;
    ret.textContent = value === null && run.last_equity !== null ? `eq ${run.last_equity.toFixed(2)}` : formatPct(value);
    if (value !== null && value !== undefined) {
      ret.dataset.sign = value > 0 ? 'up' : value < 0 ? 'down' : 'flat';
    }
    top.append(badge, name, ret);

    const bottom = document.createElement('div');
    bottom.className = 'ost-lab-RunRow-info';
    const status = document.createElement('span');
    status.className = 'ost-lab-Status';
    status.dataset.status = run.status;
    status.textContent =
      run.status === 'running' && run.progress !== null
        ? `running ${Math.round(run.progress * 100)}%`
        : run.status;
    const rest = document.createElement('span');
    rest.textContent = ` · ${run.strategies.join(', ') || '—'} · ${(run.instruments ?? []).join(', ') || '—'} · ${formatTime(run.started_ns)}`;
    bottom.append(status, rest);
    main.append(top, bottom);
    li.append(check, main);
    li.addEventListener('click', () => this._actions.openRun(run.id));
    li.addEventListener('keydown', event => {
      if (event.key === 'Enter') {
        this._actions.openRun(run.id);
      }
    });
    return li;
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
  private _actions: ISidebarActions;
  private _health: HTMLElement;
  private _mode: HTMLSelectElement;
  private _status: HTMLSelectElement;
  private _text: HTMLInputElement;
  private _compare: HTMLButtonElement;
  private _count: HTMLElement;
  private _error: HTMLElement;
  private _runs: HTMLElement;
  private _selected = new Set<string>();
}
