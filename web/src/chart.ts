// Time-series chart (uPlot), sized to its container.

import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export function lineChart(el: HTMLElement, label: string, points: { t: string; value: number }[], timeZone: string): void {
  el.innerHTML = '';
  const xs = points.map((p) => Date.parse(p.t) / 1000);
  const ys = points.map((p) => p.value);
  const width = Math.max(280, el.clientWidth || 600);
  const opts: uPlot.Options = {
    width,
    height: 240,
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), timeZone),
    series: [{}, { label, stroke: '#2563eb', fill: 'rgba(37,99,235,0.12)', width: 2 }],
    axes: [{}, { size: 60 }],
    legend: { show: true },
  };
  new uPlot(opts, [xs, ys], el);
  el.setAttribute('role', 'img');
  el.setAttribute('aria-label', `${label}: ${points.length} points, total ${ys.reduce((a, b) => a + b, 0)}`);
}
