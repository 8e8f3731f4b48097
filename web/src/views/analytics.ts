// Analytics views: pages & elements, scroll depth, funnel, retention (the overview is src/overview).

import { gql } from '../api';
import { compact, esc, percent } from '../format';
import { bars, guarded, styleVars, table } from '../ui';
import type { Ctx } from './ctx';
import { knownValues } from '../overview/data';
import type {
  FunnelQuery, PagesElementsQuery, RetentionQuery, ScrollDepthQuery,
} from '../generated/graphql';

export async function pages(el: HTMLElement, ctx: Ctx): Promise<void> {
  el.innerHTML = `<h1>Pages &amp; elements</h1><div class="grid"><section class="panel" id="p"></section><section class="panel" id="e"></section><section class="panel" id="r"></section></div>`;
  const d = await gql<PagesElementsQuery>(
    /* GraphQL */ `query PagesElements($p: ID!, $r: TimeRange!) { topPages(projectId: $p, range: $r, limit: 15) { key count }
      topElements(projectId: $p, range: $r, limit: 15) { key count } eventCounts(projectId: $p, range: $r, groupBy: REFERRER, limit: 15) { key count } }`,
    { p: ctx.project, r: ctx.range });
  const show = (id: string, caption: string, field: string, rows: { key: string; count: number }[]) => {
    el.querySelector<HTMLElement>(id)!.innerHTML = table(caption, ['Key', 'Count'], rows.map((k) => [k.key, compact(k.count)]), field);
  };
  show('#p', 'Top pages', 'topPages', d.topPages);
  show('#e', 'Top clicked elements', 'topElements', d.topElements);
  show('#r', 'Top referrers', 'eventCounts', d.eventCounts);
}

export async function behaviour(el: HTMLElement, ctx: Ctx): Promise<void> {
  el.innerHTML = `<h1>Scroll depth</h1><section class="panel" id="s"></section>`;
  const s = el.querySelector<HTMLElement>('#s')!;
  await guarded(s, async () => {
    const d = await gql<ScrollDepthQuery>(
      /* GraphQL */ `query ScrollDepth($p: ID!, $r: TimeRange!) { scrollDepth(projectId: $p, range: $r, limit: 15) { path views avgDepth reached25 reached50 reached75 reached100 } }`,
      { p: ctx.project, r: ctx.range });
    const rows = d.scrollDepth;
    const first = rows[0];
    s.innerHTML = (first
      ? bars(`How far visitors scroll on ${first.path}`, [25, 50, 75, 100].map((lvl) => {
          const n = (first as unknown as Record<string, number>)[`reached${lvl}`];
          return { label: `${lvl}%`, value: n, text: `${compact(n)} (${percent(first.views ? n / first.views : 0)})` };
        }))
      : '') +
      table('Scroll depth per page', ['Page', 'Views', 'Avg depth', '25%', '50%', '75%', '100%'],
        rows.map((r) => [r.path, compact(r.views), `${r.avgDepth.toFixed(0)}%`, r.reached25, r.reached50, r.reached75, r.reached100]), 'scroll');
    styleVars(s);
  });
}

export async function funnel(el: HTMLElement, ctx: Ctx): Promise<void> {
  el.innerHTML = `<h1>Funnel</h1>
    <form id="f" class="panel"><fieldset><legend>Steps, in order</legend><ol id="steps"></ol>
      <button type="button" id="add">Add step</button></fieldset>
      <label>Window (minutes) <input id="w" type="number" min="1" max="129600" value="60" required></label>
      <button type="submit">Compute</button></form><section class="panel" id="out"></section>`;
  const steps = el.querySelector<HTMLOListElement>('#steps')!;
  // The project's own event types and viewed paths are offered (a step's choices are never
  // typed); values are set through the DOM, never as HTML.
  const known = await knownValues(ctx.project, ctx.range);
  const types = known.types.length ? known.types : ['page.view'];
  const choice = (name: string, label: string, values: string[], selected: string, anyLabel?: string) => {
    const wrap = document.createElement('label');
    wrap.append(`${label} `);
    const sel = document.createElement('select');
    sel.name = name;
    sel.setAttribute('aria-label', label);
    if (anyLabel !== undefined) sel.append(new Option(anyLabel, ''));
    for (const v of values) sel.append(new Option(v, v, false, v === selected));
    wrap.append(sel);
    return wrap;
  };
  const addStep = (type = types[0], path = '') => {
    const li = document.createElement('li');
    const n = steps.children.length + 1;
    const remove = document.createElement('button');
    remove.type = 'button';
    remove.textContent = 'Remove';
    remove.setAttribute('aria-label', `Remove step ${n}`);
    remove.addEventListener('click', () => li.remove());
    li.append(choice('type', `Step ${n} event type`, types, type), ' ', choice('path', `Step ${n} path`, known.paths, path, 'any path'), ' ', remove);
    steps.appendChild(li);
  };
  // A first guess: the two most viewed pages, then the most frequent other event.
  addStep('page.view', known.paths[0] ?? '');
  if (known.paths[1]) addStep('page.view', known.paths[1]);
  const other = types.find((t) => t !== 'page.view');
  if (other) addStep(other);
  el.querySelector('#add')!.addEventListener('click', () => addStep());
  const out = el.querySelector<HTMLElement>('#out')!;
  const run = () =>
    guarded(out, async () => {
      const spec = [...steps.querySelectorAll('li')].map((li) => ({
        eventType: (li.querySelector<HTMLSelectElement>('[name=type]')!.value || '').trim(),
        path: (li.querySelector<HTMLSelectElement>('[name=path]')!.value || '').trim() || null,
      }));
      const w = Number(el.querySelector<HTMLInputElement>('#w')!.value) * 60;
      const d = await gql<FunnelQuery>(
        /* GraphQL */ `query Funnel($p: ID!, $r: TimeRange!, $s: [FunnelStepInput!]!, $w: Int!) { funnel(projectId: $p, range: $r, steps: $s, windowSeconds: $w) { steps { eventType path users conversion } } }`,
        { p: ctx.project, r: ctx.range, s: spec, w });
      out.innerHTML = bars('Users reaching each step', d.funnel.steps.map((s, i) => ({
        label: `${i + 1}. ${s.eventType}${s.path ? ` ${s.path}` : ''}`, value: s.users, text: `${compact(s.users)} · ${percent(s.conversion)}`,
      })));
      styleVars(out);
    }, 'Computing');
  el.querySelector('#f')!.addEventListener('submit', (ev) => { ev.preventDefault(); void run(); });
  await run();
}

export async function retention(el: HTMLElement, ctx: Ctx): Promise<void> {
  el.innerHTML = `<h1>Retention</h1><p><label for="period">Cohorts by</label> <select id="period"><option value="DAY">day</option><option value="WEEK">week</option></select></p><section class="panel" id="t"></section>`;
  const t = el.querySelector<HTMLElement>('#t')!;
  const period = el.querySelector<HTMLSelectElement>('#period')!;
  const run = () =>
    guarded(t, async () => {
      const d = await gql<RetentionQuery>(
        /* GraphQL */ `query Retention($p: ID!, $r: TimeRange!, $k: Period!) { retention(projectId: $p, range: $r, period: $k, periods: 8) { start size retained } }`,
        { p: ctx.project, r: ctx.range, k: period.value });
      const unit = period.value === 'DAY' ? 'Day' : 'Week';
      const rows = d.retention;
      if (rows.length === 0) { t.innerHTML = '<p class="empty">No cohorts start in this range.</p>'; return; }
      t.innerHTML = `<table class="heat" data-testid="retention"><caption>Share of each cohort active again</caption><thead><tr><th scope="col">Cohort</th><th scope="col">Size</th>${rows[0].retained.map((_, i) => `<th scope="col">${unit} ${i}</th>`).join('')}</tr></thead><tbody>${rows
        .map((c) => `<tr><th scope="row">${esc(c.start.slice(0, 10))}</th><td>${compact(c.size)}</td>${c.retained
          .map((n) => { const r = c.size ? n / c.size : 0; return `<td data-a="${r.toFixed(3)}" title="${n} users">${percent(r)}</td>`; }).join('')}</tr>`)
        .join('')}</tbody></table>`;
      styleVars(t);
    });
  period.addEventListener('change', () => void run());
  await run();
}
