import { Widget } from '@lumino/widgets';

import { LabStateModel } from './model';

/** The status-bar item: trading mode at a glance (and, later, the kill switch). */
export class StatusItem extends Widget {
  constructor(model: LabStateModel) {
    super();
    this._model = model;
    this.addClass('ost-lab-StatusItem');
    this.node.title = 'ost_lab trading status';
    model.changed.connect(this._render, this);
    this._render();
  }

  dispose(): void {
    this._model.changed.disconnect(this._render, this);
    super.dispose();
  }

  private _render(): void {
    const { health, error } = this._model;
    if (health) {
      this.node.dataset.state = 'idle';
      this.node.textContent = 'ost_lab: no live trading';
    } else {
      this.node.dataset.state = 'error';
      this.node.textContent = error ? 'ost_lab: server unreachable' : 'ost_lab: connecting…';
      this.node.title = error ?? 'ost_lab trading status';
    }
  }

  private _model: LabStateModel;
}
