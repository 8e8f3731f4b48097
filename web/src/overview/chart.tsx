// The overview's series as SVG: the range as a filled line, the comparison window (when asked)
// as a dashed line over the same buckets, bucket i against bucket i.

import { compact, dateTime } from '../format';

const W = 800;
const H = 220;
const PAD = { l: 48, r: 12, t: 12, b: 28 };

export function SeriesChart({ label, points, previous, timeZone }: {
  label: string; points: { t: string; value: number }[]; previous: { t: string; value: number }[] | null; timeZone: string;
}) {
  const n = points.length;
  const max = Math.max(1, ...points.map((p) => p.value), ...(previous ?? []).map((p) => p.value));
  const x = (i: number) => PAD.l + (n <= 1 ? 0 : (i / (n - 1)) * (W - PAD.l - PAD.r));
  const y = (v: number) => PAD.t + (1 - v / max) * (H - PAD.t - PAD.b);
  const line = (ps: { value: number }[]) => ps.slice(0, n).map((p, i) => `${x(i).toFixed(1)},${y(p.value).toFixed(1)}`).join(' ');
  const total = points.reduce((a, p) => a + p.value, 0);
  const prevTotal = previous ? previous.reduce((a, p) => a + p.value, 0) : null;
  const ticks = [0, 0.5, 1].map((f) => Math.round(max * f));
  const short = (iso: string) => dateTime(iso, timeZone).replace(/:\d\d$/, '');
  return (
    <figure class="series" data-testid="series" data-total={String(total)} data-previous-total={prevTotal === null ? undefined : String(prevTotal)}>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`${label}: ${n} points, total ${total}${prevTotal === null ? '' : `; comparison total ${prevTotal}`}`}>
        {ticks.map((v) => (
          <g>
            <line x1={PAD.l} x2={W - PAD.r} y1={y(v)} y2={y(v)} class="grid-line" />
            <text x={PAD.l - 6} y={y(v) + 4} text-anchor="end" class="axis">{compact(v)}</text>
          </g>
        ))}
        {n > 0 && <polygon class="area" points={`${x(0)},${y(0)} ${line(points)} ${x(n - 1)},${y(0)}`} />}
        {previous && previous.length > 0 && <polyline class="previous" data-testid="previous-line" points={line(previous)} />}
        {n > 0 && <polyline class="current" points={line(points)} />}
        {n > 0 && <text x={x(0)} y={H - 8} class="axis">{short(points[0].t)}</text>}
        {n > 1 && <text x={x(n - 1)} y={H - 8} text-anchor="end" class="axis">{short(points[n - 1].t)}</text>}
      </svg>
      <figcaption class="legend">
        <span class="key current-key">{label}</span>
        {previous && <span class="key previous-key">comparison window</span>}
      </figcaption>
    </figure>
  );
}
