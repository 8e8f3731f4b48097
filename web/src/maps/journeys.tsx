// Journeys: from a page, where visits went next (or came from), drawn as a flow: a column per
// step, a box per page sized by its visits, links from each page to the pages after it, and how
// many visits ended at each.

import { render } from 'preact';
import { useState } from 'preact/hooks';
import { gql } from '../api';
import { compact } from '../format';
import type { Ctx } from '../views/ctx';
import type { JourneyDirection, JourneyTreeQuery } from '../generated/graphql';
import { knownValues } from '../overview/data';
import { Failure, layoutFlow, useLoad } from './common';

export async function journeysPage(el: HTMLElement, ctx: Ctx): Promise<void> {
  const known = await knownValues(ctx.project, ctx.range);
  el.textContent = '';
  render(<Journeys ctx={ctx} paths={known.paths} />, el);
  const prev = ctx.cleanup;
  ctx.cleanup = () => { prev?.(); render(null, el); };
}

const COL = 220;
const BOX = 150;
const H = 360;

function Journeys({ ctx, paths }: { ctx: Ctx; paths: string[] }) {
  const [path, setPath] = useState(paths[0] ?? '');
  const [direction, setDirection] = useState<JourneyDirection>('NEXT');
  const [steps, setSteps] = useState(3);
  const data = useLoad(async () => {
    if (!path) return null;
    const d = await gql<JourneyTreeQuery>(
      /* GraphQL */ `query JourneyTree($p: ID!, $r: TimeRange!, $path: String!, $d: JourneyDirection!, $s: Int!) {
        journeys(projectId: $p, range: $r, path: $path, direction: $d, steps: $s, limit: 5) { id parent step path visits ends otherVisits } }`,
      { p: ctx.project, r: ctx.range, path, d: direction, s: steps });
    return d.journeys;
  }, [ctx.project, JSON.stringify(ctx.range), path, direction, steps]);
  const placed = data.data ? layoutFlow(data.data, H, COL) : [];
  const byId = new Map(placed.map((n) => [n.id, n]));
  // Where each child's link lands on its parent's right edge: stacked in list order.
  const outY = new Map<number, number>();
  const depth = Math.max(0, ...placed.map((n) => n.step));
  return (
    <div>
      <h1>Journeys</h1>
      <form class="panel toolbar" onSubmit={(e) => e.preventDefault()}>
        <label>From page <select aria-label="From page" value={path} onChange={(e) => setPath((e.target as HTMLSelectElement).value)}>
          {paths.map((p) => <option value={p}>{p}</option>)}</select></label>
        <label>Direction <select aria-label="Direction" value={direction} onChange={(e) => setDirection((e.target as HTMLSelectElement).value as JourneyDirection)}>
          <option value="NEXT">where visits went next</option><option value="PREVIOUS">where visits came from</option></select></label>
        <label>Steps <select aria-label="Steps" value={String(steps)} onChange={(e) => setSteps(Number((e.target as HTMLSelectElement).value))}>
          {[1, 2, 3, 4, 5].map((n) => <option value={String(n)}>{n}</option>)}</select></label>
      </form>
      {data.error && <Failure error={data.error} />}
      {!path && <p class="empty">No page views in this range.</p>}
      {data.data && (
        <section class="panel flow-wrap">
          <svg class="flow" viewBox={`0 0 ${(depth + 1) * COL} ${H + 40}`} width={(depth + 1) * COL} role="img" aria-label={`Journeys ${direction === 'NEXT' ? 'from' : 'to'} ${path}`} data-testid="flow">
            {placed.filter((n) => n.parent !== null).map((n) => {
              const p = byId.get(n.parent!)!;
              const from = outY.get(p.id) ?? p.y;
              outY.set(p.id, from + n.h); // children share one scale with their parent
              const x1 = p.x + BOX;
              const x2 = n.x;
              const y1 = from + n.h / 2;
              const y2 = n.y + n.h / 2;
              return <path class="link" d={`M${x1},${y1} C${x1 + 40},${y1} ${x2 - 40},${y2} ${x2},${y2}`} stroke-width={Math.max(1, n.h)} />;
            })}
            {placed.map((n) => (
              <g data-testid="flow-node" data-path={n.path} data-step={String(n.step)} data-visits={String(n.visits)} data-ends={String(n.ends)}>
                <rect x={n.x} y={n.y} width={BOX} height={n.h} rx={3} class={n.step === 0 ? 'node root' : 'node'} />
                <text x={n.x + 4} y={n.y + Math.min(n.h, 28) / 2 + 4} class="node-label">{n.path} · {compact(n.visits)}</text>
                <title>{`${n.path}: ${n.visits} visits, ${n.ends} ended here${n.otherVisits ? `, ${n.otherVisits} to other pages` : ''}`}</title>
              </g>
            ))}
          </svg>
          <table data-testid="flow-table"><caption>Pages by step</caption>
            <thead><tr><th scope="col">Step</th><th scope="col">Page</th><th scope="col">Visits</th><th scope="col">Ended here</th></tr></thead>
            <tbody>{placed.map((n) => <tr><td>{n.step}</td><th scope="row">{'  '.repeat(n.step)}{n.path}</th><td>{compact(n.visits)}</td><td>{compact(n.ends)}</td></tr>)}</tbody>
          </table>
        </section>
      )}
    </div>
  );
}
