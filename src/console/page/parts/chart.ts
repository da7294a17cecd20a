/**
 * One time-series chart drawn by uPlot on a canvas. Values are floats for drawing only;
 * the legend shows the exact text of each point (an amount's decimal string, formatted),
 * and a caption states the chart's exact total, so no figure is read off a rounded float.
 */
import uPlot from 'uplot';
import { h } from '../dom.js';

export interface ChartSpec {
  id: string;
  title: string;
  color: string;
  kind: 'bars' | 'line' | 'steps';
  /** Axis tick labels. */
  tick: (v: number) => string;
}

export interface ChartData {
  /** Seconds since the epoch. */
  xs: number[];
  ys: (number | null)[];
  /** What the legend shows for each point (exact). */
  labels: string[];
  /** One sentence for people who cannot see the canvas. */
  summary: string;
  /** The window shown, in seconds: the x axis spans it even when few points fall inside. */
  span: [number, number];
}

export interface Chart {
  element: HTMLElement;
  update(data: ChartData): void;
  destroy(): void;
}

const HEIGHT = 180;

export function createChart(spec: ChartSpec): Chart {
  const summary = h('p', { class: 'chart-summary', id: `${spec.id}-summary` });
  const plotSlot = h('div', { class: 'plot', 'aria-hidden': 'true' });
  const element = h('figure', { class: 'panel chart', id: spec.id, 'aria-labelledby': `${spec.id}-title`, 'aria-describedby': `${spec.id}-summary` }, h('figcaption', { id: `${spec.id}-title` }, spec.title), plotSlot, summary);
  let labels: string[] = [];
  let span: [number, number] = [0, 1];
  let plot: uPlot | null = null;
  const paths =
    spec.kind === 'bars' ? uPlot.paths.bars?.({ size: [0.7, 40] }) : spec.kind === 'steps' ? uPlot.paths.stepped?.({ align: 1 }) : uPlot.paths.linear?.();
  const options = (width: number): uPlot.Options => ({
    width,
    height: HEIGHT,
    scales: { x: { time: true, range: () => span } },
    legend: { show: true, live: true },
    cursor: { drag: { x: false, y: false } },
    series: [
      { label: 'Time (UTC)', value: (_u, v) => (v === null ? '—' : new Date(v * 1000).toISOString().slice(0, 16).replace('T', ' ')) },
      {
        label: spec.title,
        stroke: spec.color,
        ...(spec.kind === 'line' ? {} : { fill: `${spec.color}33` }),
        width: 2,
        spanGaps: spec.kind !== 'bars',
        ...(paths === undefined ? {} : { paths }),
        value: (_u, _v, _si, idx) => (idx === null ? '—' : (labels[idx] ?? '—')),
      },
    ],
    axes: [{ stroke: '#4a5568' }, { stroke: '#4a5568', size: 64, values: (_u, splits) => splits.map(spec.tick) }],
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
  });
  const width = (): number => Math.max(240, Math.floor(plotSlot.clientWidth || 600));
  const resize = new ResizeObserver(() => plot?.setSize({ width: width(), height: HEIGHT }));
  resize.observe(plotSlot);
  return {
    element,
    update(data) {
      labels = data.labels;
      span = data.span;
      summary.textContent = data.summary;
      element.dataset.points = String(data.ys.filter((y) => y !== null).length);
      const aligned: uPlot.AlignedData = [data.xs, data.ys];
      if (plot === null) plot = new uPlot(options(width()), aligned, plotSlot);
      else plot.setData(aligned);
    },
    destroy() {
      resize.disconnect();
      plot?.destroy();
    },
  };
}
