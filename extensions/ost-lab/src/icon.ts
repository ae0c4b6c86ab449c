import { LabIcon } from '@jupyterlab/ui-components';

const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <rect x="3" y="12" width="3" height="8" rx="0.5"/>
    <rect x="8.5" y="7" width="3" height="13" rx="0.5"/>
    <rect x="14" y="10" width="3" height="10" rx="0.5"/>
    <rect x="19.5" y="4" width="3" height="16" rx="0.5"/>
  </g>
</svg>`;

/** The ost_lab icon: four candles, in the theme's icon colour. */
export const ostLabIcon = new LabIcon({ name: 'ost-lab:icon', svgstr: svg });
