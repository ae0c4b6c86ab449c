import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** What `GET /ost-lab/api/health` answers. */
export interface IHealth {
  status: string;
  version: string;
  secmaster: string;
  runs_db: string;
}

/** An error from the ost_lab server, with the HTTP status when there was a response. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status?: number
  ) {
    super(message);
  }
}

/** Call the ost_lab control API (under `<base_url>ost-lab/api/`) and parse its JSON answer. */
export async function requestAPI<T>(
  endPoint: string,
  init: RequestInit = {}
): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, 'ost-lab', 'api', endPoint);
  let response: Response;
  try {
    // 'no-cache' rather than the default 'no-store': the latter appends a timestamp query
    // parameter, which the control API rejects as unknown.
    response = await ServerConnection.makeRequest(url, { cache: 'no-cache', ...init }, settings);
  } catch (error) {
    throw new ApiError(`ost_lab server unreachable: ${String(error)}`);
  }
  const text = await response.text();
  let data: unknown = text;
  if (text.length > 0) {
    try {
      data = JSON.parse(text);
    } catch {
      // not JSON: keep the text for the error message
    }
  }
  if (!response.ok) {
    const message =
      typeof data === 'object' && data !== null && 'message' in data
        ? String((data as { message: unknown }).message)
        : `${response.status} ${response.statusText}`;
    throw new ApiError(message, response.status);
  }
  return data as T;
}

/** One run as `GET /runs` and `GET /status` list it. */
export interface IRunSummary {
  id: string;
  name: string;
  mode: string;
  status: string;
  started_ns: number | null;
  ended_ns: number | null;
  instruments: string[] | null;
  progress: number | null;
  last_equity: number | null;
  total_return: number | null;
  heartbeat_ns: number | null;
  strategies: string[];
  heartbeat_age_s?: number | null;
}

/** What `GET /status` answers: the running runs, counted by mode. */
export interface IStatus {
  running: IRunSummary[];
  by_mode: Record<string, number>;
  live: boolean;
}

/** What `GET /runs` answers. */
export interface IRunList {
  runs: IRunSummary[];
  total: number | null;
  limit: number;
  offset: number;
}

/** What `GET /runs/{id}/equity` answers. */
export interface IEquity {
  run_id: string;
  ts_ns: number[];
  equity: number[];
}

/** A stop (or other) command and whether the engine acknowledged it. */
export interface ICommand {
  id: number;
  run_id: string;
  command: string;
  acked: boolean;
  acked_ns: number | null;
  ack_note: string | null;
}

/** The filters of the runs list. */
export interface IRunFilter {
  mode: string;
  status: string;
  q: string;
}

export const MODES = ['backtest', 'sandbox', 'paper', 'live'];
export const STATUSES = ['running', 'completed', 'cancelled', 'failed', 'crashed'];

/** The most runs one request of the control API returns. */
export const MAX_PAGE = 1000;

/** The runs, newest first, filtered: one page of at most MAX_PAGE. */
export function listRuns(filter: IRunFilter, limit = 200, offset = 0): Promise<IRunList> {
  const params = new URLSearchParams({ limit: String(limit), offset: String(offset) });
  if (filter.mode) {
    params.set('mode', filter.mode);
  }
  if (filter.status) {
    params.set('status', filter.status);
  }
  if (filter.q) {
    params.set('q', filter.q);
  }
  return requestAPI<IRunList>(`runs?${params.toString()}`);
}

/** The first `count` runs, newest first, filtered, in as many pages as it takes. */
export async function listRunsUpTo(filter: IRunFilter, count: number): Promise<IRunList> {
  const offsets: number[] = [];
  for (let offset = 0; offset < count; offset += MAX_PAGE) {
    offsets.push(offset);
  }
  const pages = await Promise.all(
    offsets.map(offset => listRuns(filter, Math.min(MAX_PAGE, count - offset), offset))
  );
  return {
    runs: pages.flatMap(p => p.runs),
    total: pages[0].total,
    limit: count,
    offset: 0
  };
}

/** Ask a run to stop through the control API (works while its kernel is busy). */
export function stopRun(runId: string, waitMs = 2000): Promise<ICommand> {
  return requestAPI<ICommand>(`runs/${encodeURIComponent(runId)}/stop?wait_ms=${waitMs}`, {
    method: 'POST'
  });
}

/** Format a nanosecond timestamp as local date and time. */
export function formatTime(ns: number | null): string {
  if (ns === null || ns === undefined) {
    return '—';
  }
  const d = new Date(ns / 1e6);
  return d.toLocaleString(undefined, {
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit'
  });
}

/** Format a fraction as a signed percentage. */
export function formatPct(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) {
    return '—';
  }
  const s = (x * 100).toFixed(2);
  return `${x > 0 ? '+' : ''}${s}%`;
}

/** Format any metric value for a table cell. */
export function formatValue(v: unknown): string {
  if (v === null || v === undefined) {
    return '—';
  }
  if (typeof v === 'number') {
    if (Number.isInteger(v)) {
      return String(v);
    }
    return Math.abs(v) >= 1000 ? v.toFixed(2) : v.toPrecision(6);
  }
  if (typeof v === 'object') {
    return JSON.stringify(v);
  }
  return String(v);
}
