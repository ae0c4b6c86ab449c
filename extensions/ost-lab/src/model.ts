import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';

import { IHealth, IRunFilter, IRunSummary, IStatus, listRunsUpTo, requestAPI } from './api';

/** Runs the sidebar lists at first, and how many more each "show more" adds. */
export const RUNS_PAGE = 200;

/** The server's state as the sidebar and the status item show it, polled at one cadence. */
export class LabStateModel {
  constructor(intervalSeconds: number) {
    this._poll = new Poll({
      factory: () => this.refresh(),
      frequency: { interval: intervalSeconds * 1000, backoff: true, max: 30_000 },
      standby: 'when-hidden',
      name: 'ost-lab:state'
    });
  }

  /** Fires whenever health, status, runs or error change. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get health(): IHealth | null {
    return this._health;
  }

  get status(): IStatus | null {
    return this._status;
  }

  get runs(): IRunSummary[] {
    return this._runs;
  }

  /** How many runs match the filter (null while unknown). */
  get runsTotal(): number | null {
    return this._runsTotal;
  }

  /** List RUNS_PAGE more runs (the list keeps following new runs). */
  showMore(): void {
    this._limit += RUNS_PAGE;
    void this.refresh();
  }

  /** The last error of the runs list or status, in words, or null when the server answered. */
  get runsError(): string | null {
    return this._runsError;
  }

  /** The last error, in words, or null when the server answered. */
  get error(): string | null {
    return this._error;
  }

  get filter(): IRunFilter {
    return this._filter;
  }

  set filter(value: IRunFilter) {
    this._filter = value;
    this._limit = RUNS_PAGE;
    void this.refresh();
  }

  set intervalSeconds(value: number) {
    this._poll.frequency = { ...this._poll.frequency, interval: value * 1000 };
  }

  async refresh(): Promise<void> {
    const filter = this._filter;
    const [health, status, runs] = await Promise.allSettled([
      requestAPI<IHealth>('health'),
      requestAPI<IStatus>('status'),
      listRunsUpTo(filter, this._limit)
    ]);
    if (health.status === 'fulfilled') {
      this._health = health.value;
      this._error = null;
    } else {
      this._health = null;
      this._error = message(health.reason);
    }
    this._status = status.status === 'fulfilled' ? status.value : null;
    if (filter !== this._filter) {
      return; // a newer refresh with the new filter is on its way
    }
    if (runs.status === 'fulfilled') {
      this._runs = runs.value.runs;
      this._runsTotal = runs.value.total;
      this._runsError = status.status === 'rejected' ? message(status.reason) : null;
    } else {
      this._runs = [];
      this._runsTotal = null;
      this._runsError = message(runs.reason);
    }
    this._changed.emit();
  }

  dispose(): void {
    this._poll.dispose();
  }

  private _poll: Poll;
  private _health: IHealth | null = null;
  private _status: IStatus | null = null;
  private _runs: IRunSummary[] = [];
  private _runsTotal: number | null = null;
  private _limit = RUNS_PAGE;
  private _filter: IRunFilter = { mode: '', status: '', q: '' };
  private _error: string | null = null;
  private _runsError: string | null = null;
  private _changed = new Signal<this, void>(this);
}

function message(reason: unknown): string {
  return reason instanceof Error ? reason.message : String(reason);
}
