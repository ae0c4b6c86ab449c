import { Widget } from '@lumino/widgets';

import {
  IEquity,
  IRunSummary,
  formatPct,
  formatTime,
  formatValue,
  requestAPI
} from './api';
import { drawdown, lineChart } from './chart';

type Row = Record<string, unknown>;

/** A plain table of records, in the JupyterLab look. */
export function table(rows: Row[], columns?: string[], limit = 200): HTMLElement {
  if (rows.length === 0) {
    const empty = document.createElement('div');
    empty.className = 'ost-lab-empty';
    empty.textContent = 'none';
    return empty;
  }
  const cols = columns ?? Object.keys(rows[0]);
  const t = document.createElement('table');
  t.className = 'ost-lab-Table';
  const head = t.createTHead().insertRow();
  for (const c of cols) {
    const th = document.createElement('th');
    th.textContent = c;
    head.append(th);
  }
  const body = t.createTBody();
  for (const row of rows.slice(0, limit)) {
    const tr = body.insertRow();
    for (const c of cols) {
      const v = row[c];
      tr.insertCell().textContent = c.endsWith('_ns') && typeof v === 'number' ? formatTime(v) : formatValue(v);
    }
  }
  const wrap = document.createElement('div');
  wrap.className = 'ost-lab-TableWrap';
  wrap.append(t);
  if (rows.length > limit) {
    const more = document.createElement('div');
    more.className = 'ost-lab-empty';
    more.textContent = `… and ${rows.length - limit} more`;
    wrap.append(more);
  }
  return wrap;
}

function section(title: string, ...content: Node[]): HTMLElement {
  const s = document.createElement('section');
  s.className = 'ost-lab-Section';
  const h = document.createElement('h3');
  h.textContent = title;
  s.append(h, ...content);
  return s;
}

function errorBox(text: string): HTMLElement {
  const e = document.createElement('div');
  e.className = 'ost-lab-Error';
  e.textContent = text;
  return e;
}

function errorText(reason: unknown): string {
  return reason instanceof Error ? reason.message : String(reason);
}

interface IRun extends Omit<IRunSummary, 'strategies'> {
  metrics: Record<string, unknown> | null;
  strategies: { class?: string; name?: string }[] | null;
  [key: string]: unknown;
}

function strategyNames(run: IRun): string {
  return (run.strategies ?? []).map(s => s.class ?? s.name ?? '?').join(', ') || 'no strategy';
}

/** The main-area view of one run: metrics, equity and drawdown, fills, orders, risk events, mode changes. */
export class RunDetail extends Widget {
  constructor(runId: string, intervalSeconds: () => number) {
    super();
    this.runId = runId;
    this._interval = intervalSeconds;
    this.id = `ost-lab-run-${runId}`;
    this.addClass('ost-lab-Detail');
    this.node.dataset.runId = runId;
    this.title.label = `Run ${runId}`;
    this.title.closable = true;
    void this.load();
  }

  readonly runId: string;

  dispose(): void {
    window.clearTimeout(this._timer);
    super.dispose();
  }

  async load(): Promise<void> {
    const id = encodeURIComponent(this.runId);
    let run: IRun;
    try {
      run = await requestAPI<IRun>(`runs/${id}`);
    } catch (reason) {
      this.node.replaceChildren(errorBox(`Could not load run ${this.runId}: ${errorText(reason)}`));
      return;
    }
    const parts = await Promise.allSettled([
      requestAPI<IEquity>(`runs/${id}/equity`),
      requestAPI<{ fills: Row[] }>(`runs/${id}/fills`),
      requestAPI<{ orders: Row[] }>(`runs/${id}/orders`),
      requestAPI<{ risk_events: Row[] }>(`runs/${id}/risk_events`),
      requestAPI<{ mode_changes: Row[] }>(`runs/${id}/mode_changes`)
    ]);
    if (this.isDisposed) {
      return;
    }
    this.title.label = `${run.name} (${run.mode})`;
    this.node.dataset.status = run.status;
    const header = document.createElement('div');
    header.className = 'ost-lab-Detail-header';
    const h = document.createElement('h2');
    h.textContent = run.name;
    const badge = document.createElement('span');
    badge.className = 'ost-lab-Badge';
    badge.dataset.mode = run.mode;
    badge.textContent = run.mode;
    const status = document.createElement('span');
    status.className = 'ost-lab-Status';
    status.dataset.status = run.status;
    status.textContent = run.status;
    const info = document.createElement('div');
    info.className = 'ost-lab-Detail-info';
    info.textContent =
      `${run.id} · ${strategyNames(run)} · ${(run.instruments ?? []).join(', ')}` +
      ` · started ${formatTime(run.started_ns)} · ended ${formatTime(run.ended_ns)}`;
    header.append(h, badge, status, info);

    const metrics = run.metrics ?? {};
    const metricRows = Object.entries(metrics).map(([k, v]) => ({
      metric: k,
      value:
        typeof v === 'number' && k.endsWith('_ns')
          ? formatTime(v)
          : /return|drawdown$|rate|volatility|exposure|^cagr$|_pct_/.test(k) && typeof v === 'number'
            ? formatPct(v)
            : v
    }));
    if (run.status === 'running') {
      metricRows.unshift(
        { metric: 'progress', value: formatPct(run.progress) },
        { metric: 'last equity', value: run.last_equity }
      );
    }
    const metricsTable = table(metricRows, ['metric', 'value']);
    metricsTable.classList.add('ost-lab-Metrics');

    const [equity, fills, orders, risk, modes] = parts;
    const charts: Node[] = [];
    if (equity.status === 'fulfilled') {
      const e = equity.value;
      const eq = lineChart([{ label: run.name, x: e.ts_ns, y: e.equity }], { title: 'Equity' });
      eq.classList.add('ost-lab-EquityChart');
      const dd = lineChart([{ label: 'drawdown', x: e.ts_ns, y: drawdown(e.equity) }], {
        title: 'Drawdown',
        height: 140,
        fill: true,
        yFormat: v => `${(v * 100).toFixed(2)}%`
      });
      dd.classList.add('ost-lab-DrawdownChart');
      charts.push(eq, dd);
    } else {
      charts.push(errorBox(`Equity: ${errorText(equity.reason)}`));
    }
    const tableOr = <T>(r: PromiseSettledResult<T>, pick: (v: T) => Row[], name: string) =>
      r.status === 'fulfilled' ? table(pick(r.value)) : errorBox(`${name}: ${errorText(r.reason)}`);

    const sections = [
      header,
      section('Metrics', metricsTable),
      section('Equity and drawdown', ...charts),
      section('Fills', tableOr(fills, v => v.fills, 'Fills')),
      section('Orders', tableOr(orders, v => v.orders, 'Orders')),
      section('Risk events', tableOr(risk, v => v.risk_events, 'Risk events'))
    ];
    if (modes.status === 'rejected' || modes.value.mode_changes.length > 0 || run.mode !== 'backtest') {
      sections.push(section('Mode changes', tableOr(modes, v => v.mode_changes, 'Mode changes')));
    }
    const scroll = this.node.scrollTop;
    this.node.replaceChildren(...sections);
    this.node.scrollTop = scroll;
    if (run.status === 'running') {
      this._timer = window.setTimeout(() => void this.load(), this._interval() * 1000);
    }
  }

  private _interval: () => number;
  private _timer = 0;
}

/** Two or more runs side by side: their metrics in columns, their equity overlaid. */
export class RunCompare extends Widget {
  constructor(runIds: string[]) {
    super();
    this.runIds = runIds;
    this.id = `ost-lab-compare-${runIds.join('-')}`;
    this.addClass('ost-lab-Detail');
    this.addClass('ost-lab-Compare');
    this.title.label = `Compare ${runIds.length} runs`;
    this.title.closable = true;
    void this.load();
  }

  readonly runIds: string[];

  async load(): Promise<void> {
    try {
      const runs = await Promise.all(
        this.runIds.map(id => requestAPI<IRun>(`runs/${encodeURIComponent(id)}`))
      );
      const equities = await Promise.all(
        this.runIds.map(id => requestAPI<IEquity>(`runs/${encodeURIComponent(id)}/equity`))
      );
      const labels = runs.map(r => `${r.name} (${r.id})`);
      const keys = [...new Set(runs.flatMap(r => Object.keys(r.metrics ?? {})))];
      const rows: Row[] = [
        { metric: 'mode', ...Object.fromEntries(runs.map((r, i) => [labels[i], r.mode])) },
        { metric: 'status', ...Object.fromEntries(runs.map((r, i) => [labels[i], r.status])) },
        ...keys.map(k => ({
          metric: k,
          ...Object.fromEntries(runs.map((r, i) => [labels[i], (r.metrics ?? {})[k]]))
        }))
      ];
      const chart = lineChart(
        equities.map((e, i) => ({
          label: labels[i],
          x: e.ts_ns,
          y: e.equity.map(v => v / (e.equity[0] || 1))
        })),
        { title: 'Equity, normalised to 1 at the start', height: 300 }
      );
      chart.classList.add('ost-lab-CompareChart');
      this.node.replaceChildren(
        section('Equity', chart),
        section('Metrics', table(rows, ['metric', ...labels]))
      );
    } catch (reason) {
      this.node.replaceChildren(errorBox(`Could not compare runs: ${errorText(reason)}`));
    }
  }
}
