/** Small inline SVG line charts drawn in the theme's colours (no plotting library, no CDN). */

const NS = 'http://www.w3.org/2000/svg';

export interface ISeries {
  label: string;
  x: number[];
  y: number[];
}

/** Distinct colours for overlaid series, from the theme where it has them. */
export const SERIES_COLORS = [
  'var(--jp-brand-color1)',
  'var(--jp-warn-color1)',
  'var(--jp-success-color1)',
  'var(--jp-error-color1)',
  'var(--jp-accent-color1)',
  'var(--jp-ui-font-color2)'
];

function el<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number>
): SVGElementTagNameMap[K] {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) {
    node.setAttribute(k, String(v));
  }
  return node;
}

function ticks(lo: number, hi: number, n: number): number[] {
  if (hi <= lo) {
    return [lo];
  }
  return Array.from({ length: n + 1 }, (_, i) => lo + ((hi - lo) * i) / n);
}

/** A tick formatter with enough digits to tell ticks `step` apart. */
function fmtFor(step: number): (v: number) => string {
  const digits = Math.max(0, Math.min(6, Math.ceil(-Math.log10(Math.abs(step) || 1)) + 1));
  return v => (Math.abs(v) >= 1e6 && step >= 1e4 ? fmt(v) : v.toFixed(digits));
}

function fmt(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e6) {
    return `${(v / 1e6).toFixed(2)}M`;
  }
  if (a >= 1e4) {
    return `${(v / 1e3).toFixed(1)}k`;
  }
  return a >= 100 ? v.toFixed(0) : v.toPrecision(3);
}

/** A line chart of one or more series sharing the axes; x in nanoseconds since the epoch. */
export function lineChart(
  series: ISeries[],
  options: { width?: number; height?: number; title?: string; yFormat?: (v: number) => string; fill?: boolean } = {}
): SVGSVGElement {
  const width = options.width ?? 720;
  const height = options.height ?? 240;
  const m = { left: 64, right: 12, top: options.title ? 22 : 10, bottom: 26 };
  const svg = el('svg', {
    class: 'ost-lab-Chart',
    viewBox: `0 0 ${width} ${height}`,
    width: '100%',
    preserveAspectRatio: 'none'
  });
  svg.style.maxWidth = `${width}px`;
  if (options.title) {
    const t = el('text', { x: m.left, y: 14, class: 'ost-lab-Chart-title' });
    t.textContent = options.title;
    svg.append(t);
  }
  const xs = series.flatMap(s => s.x);
  const ys = series.flatMap(s => s.y).filter(Number.isFinite);
  if (xs.length === 0 || ys.length === 0) {
    const t = el('text', { x: width / 2, y: height / 2, class: 'ost-lab-Chart-empty', 'text-anchor': 'middle' });
    t.textContent = 'no data yet';
    svg.append(t);
    return svg;
  }
  const x0 = Math.min(...xs);
  const x1 = Math.max(...xs);
  let y0 = Math.min(...ys);
  let y1 = Math.max(...ys);
  if (y1 === y0) {
    y0 -= 1;
    y1 += 1;
  }
  const yFormat = options.yFormat ?? fmtFor((y1 - y0) / 4);
  const pw = width - m.left - m.right;
  const ph = height - m.top - m.bottom;
  const sx = (x: number) => m.left + (x1 === x0 ? pw / 2 : ((x - x0) / (x1 - x0)) * pw);
  const sy = (y: number) => m.top + ph - ((y - y0) / (y1 - y0)) * ph;

  for (const v of ticks(y0, y1, 4)) {
    svg.append(el('line', { x1: m.left, x2: width - m.right, y1: sy(v), y2: sy(v), class: 'ost-lab-Chart-grid' }));
    const t = el('text', { x: m.left - 6, y: sy(v) + 4, 'text-anchor': 'end', class: 'ost-lab-Chart-axis' });
    t.textContent = yFormat(v);
    svg.append(t);
  }
  for (const v of ticks(x0, x1, 4)) {
    const t = el('text', { x: sx(v), y: height - 8, 'text-anchor': 'middle', class: 'ost-lab-Chart-axis' });
    t.textContent = new Date(v / 1e6).toISOString().slice(0, 16).replace('T', ' ');
    svg.append(t);
  }
  series.forEach((s, i) => {
    const pts: string[] = [];
    for (let k = 0; k < s.x.length; k++) {
      if (Number.isFinite(s.y[k])) {
        pts.push(`${sx(s.x[k]).toFixed(1)},${sy(s.y[k]).toFixed(1)}`);
      }
    }
    const color = SERIES_COLORS[i % SERIES_COLORS.length];
    if (options.fill && pts.length > 1) {
      const base = sy(Math.max(y0, Math.min(y1, 0)));
      const area = el('polygon', {
        points: `${pts[0].split(',')[0]},${base} ${pts.join(' ')} ${pts[pts.length - 1].split(',')[0]},${base}`,
        class: 'ost-lab-Chart-area'
      });
      area.style.fill = color;
      svg.append(area);
    }
    const line = el('polyline', { points: pts.join(' '), class: 'ost-lab-Chart-line', 'data-series': s.label });
    line.style.stroke = color;
    svg.append(line);
  });
  if (series.length > 1) {
    series.forEach((s, i) => {
      const y = m.top + 4 + i * 14;
      const sw = el('rect', { x: m.left + 8, y: y, width: 10, height: 3 });
      sw.style.fill = SERIES_COLORS[i % SERIES_COLORS.length];
      const t = el('text', { x: m.left + 22, y: y + 5, class: 'ost-lab-Chart-legend' });
      t.textContent = s.label;
      svg.append(sw, t);
    });
  }
  return svg;
}

/** Drawdown from the running peak, as fractions (0 at a new high, negative below it). */
export function drawdown(equity: number[]): number[] {
  let peak = -Infinity;
  return equity.map(v => {
    peak = Math.max(peak, v);
    return peak > 0 ? v / peak - 1 : 0;
  });
}
