import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';

import { IHealth, requestAPI } from './api';

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

  /** Fires whenever health or error changes. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get health(): IHealth | null {
    return this._health;
  }

  /** The last error, in words, or null when the server answered. */
  get error(): string | null {
    return this._error;
  }

  set intervalSeconds(value: number) {
    this._poll.frequency = { ...this._poll.frequency, interval: value * 1000 };
  }

  async refresh(): Promise<void> {
    try {
      this._health = await requestAPI<IHealth>('health');
      this._error = null;
    } catch (error) {
      this._health = null;
      this._error = error instanceof Error ? error.message : String(error);
    }
    this._changed.emit();
  }

  dispose(): void {
    this._poll.dispose();
  }

  private _poll: Poll;
  private _health: IHealth | null = null;
  private _error: string | null = null;
  private _changed = new Signal<this, void>(this);
}
