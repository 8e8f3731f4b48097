// Heatmap: a page's clicks on a 1% grid of the document, drawn on a page-shaped canvas, over the
// live page in an iframe when the site lets itself be framed (the site's first allowed origin
// plus the path), with the most clicked selectors beside it.

import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { gql } from '../api';
import { compact } from '../format';
import type { Ctx } from '../views/ctx';
import type { HeatmapCellsQuery, ProjectOriginsQuery } from '../generated/graphql';
import { knownValues } from '../overview/data';
import { hottest, useLoad, Failure } from './common';

export async function heatmapPage(el: HTMLElement, ctx: Ctx): Promise<void> {
  const [known, projects] = await Promise.all([
    knownValues(ctx.project, ctx.range),
    gql<ProjectOriginsQuery>(/* GraphQL */ `query ProjectOrigins { projects { id allowedOrigins } }`),
  ]);
  const origin = projects.projects.find((p) => p.id === ctx.project)?.allowedOrigins.find((o) => /^https?:\/\//.test(o)) ?? null;
  el.textContent = '';
  render(<Heatmap ctx={ctx} paths={known.paths} origin={origin} />, el);
  const prev = ctx.cleanup;
  ctx.cleanup = () => { prev?.(); render(null, el); };
}

const SCREENS = ['', 'mobile', 'tablet', 'laptop', 'desktop'];
// The page-shaped canvas: a document 1000 wide and 1600 tall, in device pixels.
const CW = 1000;
const CH = 1600;

function Heatmap({ ctx, paths, origin }: { ctx: Ctx; paths: string[]; origin: string | null }) {
  const [path, setPath] = useState(paths[0] ?? '');
  const [screen, setScreen] = useState('');
  const [live, setLive] = useState(origin !== null);
  const data = useLoad(async () => {
    if (!path) return null;
    const d = await gql<HeatmapCellsQuery>(
      /* GraphQL */ `query HeatmapCells($p: ID!, $r: TimeRange!, $path: String!, $s: String) {
        heatmap(projectId: $p, range: $r, path: $path, screen: $s) { clicks cells { x y clicks } screens { screen clicks } selectors { key count } } }`,
      { p: ctx.project, r: ctx.range, path, s: screen || null });
    return d.heatmap;
  }, [ctx.project, JSON.stringify(ctx.range), path, screen]);
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const c = canvas.current;
    const g = c?.getContext('2d');
    if (!c || !g) return;
    g.clearRect(0, 0, CW, CH);
    const cells = data.data?.cells ?? [];
    const max = Math.max(1, ...cells.map((x) => x.clicks));
    for (const cell of cells) {
      // Hotter cells are more opaque and redder; a cell is 1% of the width and height.
      const t = cell.clicks / max;
      g.fillStyle = `rgba(${Math.round(255 * t)}, ${Math.round(160 * (1 - t))}, 40, ${(0.25 + 0.7 * t).toFixed(3)})`;
      g.fillRect((cell.x * CW) / 100, (cell.y * CH) / 100, CW / 100, CH / 100);
    }
  }, [data.data]);
  const hot = data.data ? hottest(data.data.cells) : null;
  return (
    <div>
      <h1>Heatmap</h1>
      <form class="panel toolbar" onSubmit={(e) => e.preventDefault()}>
        <label>Page <select aria-label="Page" value={path} onChange={(e) => setPath((e.target as HTMLSelectElement).value)}>
          {paths.map((p) => <option value={p}>{p}</option>)}
        </select></label>
        <label>Screen <select aria-label="Screen" value={screen} onChange={(e) => setScreen((e.target as HTMLSelectElement).value)}>
          {SCREENS.map((s) => <option value={s}>{s || 'all'}</option>)}
        </select></label>
        {origin && <label class="check"><input type="checkbox" checked={live} onChange={(e) => setLive((e.target as HTMLInputElement).checked)} /> Live page behind</label>}
      </form>
      {data.error && <Failure error={data.error} />}
      {!path && <p class="empty">No page views in this range.</p>}
      {data.data && (
        <div class="heatmap-layout">
          <div class="heatmap-page" data-testid="heatmap" data-clicks={String(data.data.clicks)}
            data-hot-x={hot ? String(hot.x) : undefined} data-hot-y={hot ? String(hot.y) : undefined}>
            {live && origin && <iframe title={`Live page ${path}`} src={`${origin}${path}`} sandbox="allow-same-origin" referrerpolicy="no-referrer" />}
            <canvas ref={canvas} width={CW} height={CH} role="img" aria-label={`${data.data.clicks} clicks on ${path}${hot ? `; most at ${hot.x}% across, ${hot.y}% down` : ''}`} />
          </div>
          <section class="panel">
            <h2>Most clicked</h2>
            <table data-testid="selectors"><thead><tr><th scope="col">Selector</th><th scope="col">Clicks</th></tr></thead>
              <tbody>{data.data.selectors.map((s) => <tr><th scope="row"><code>{s.key}</code></th><td>{compact(s.count)}</td></tr>)}</tbody></table>
            <h2>By screen</h2>
            <ul class="plain">{data.data.screens.map((s) => <li>{s.screen}: {compact(s.clicks)}</li>)}</ul>
            <p class="muted">A site that refuses to be framed shows an empty page behind the cells; the cells and selectors stay right.</p>
          </section>
        </div>
      )}
    </div>
  );
}
