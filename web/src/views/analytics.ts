// Analytics views: overview, pages & elements, scroll depth, funnel, retention.

import { gql } from '../api';
import { lineChart } from '../chart';
import { compact, esc, percent } from '../format';
import { intervalFor } from '../range';
import { bars, guarded, table } from '../ui';
import type { Ctx } from './ctx';
import type {
  ActiveUsersQuery, FunnelQuery, OverviewCardsQuery, PagesElementsQuery, RetentionQuery, ScrollDepthQuery, SeriesQuery,
} from '../generated/graphql';

export async function overview(el: HTMLElement, ctx: Ctx): Promise<void> {
  el.innerHTML = `<h1>Overview</h1><section id="cards" aria-label="Headline numbers"></section>
    <section class="panel"><h2><label for="metric">Time series</label></h2>
      <select id="metric"><option value="EVENTS">Events</option><option value="PAGE_VIEWS">Page views</option>
      <option value="UNIQUE_USERS">Unique users</option><option value="SESSIONS">Sessions</option><option value="CLICKS">Clicks</option></select>
      <div id="chart" class="chart"></div></section>
    <section class="panel" id="active" aria-label="Active users"></section>`;
  const cards = el.querySelector<HTMLElement>('#cards')!;
  const chart = el.querySelector<HTMLElement>('#chart')!;
  const active = el.querySelector<HTMLElement>('#active')!;
  const metric = el.querySelector<HTMLSelectElement>('#metric')!;
  const drawSeries = () =>
    guarded(chart, async () => {
      const d = await gql<SeriesQuery>(
        /* GraphQL */ `query Series($p: ID!, $r: TimeRange!, $m: Metric!, $i: Interval!) { timeseries(projectId: $p, range: $r, metric: $m, interval: $i) { t value } }`,
        { p: ctx.project, r: ctx.range, m: metric.value, i: intervalFor(ctx.range) },
      );
      lineChart(chart, metric.options[metric.selectedIndex].text, d.timeseries, ctx.range.timeZone);
    });
  metric.addEventListener('change', () => void drawSeries());
  await Promise.all([
    guarded(cards, async () => {
      const d = await gql<OverviewCardsQuery>(
        /* GraphQL */ `query OverviewCards($p: ID!, $r: TimeRange!) { overview(projectId: $p, range: $r) { events uniqueUsers uniqueUsersExact sessions pageViews bounceRate avgScrollDepth } }`,
        { p: ctx.project, r: ctx.range },
      );
      const o = d.overview;
      const card = (id: keyof typeof o, label: string, value: string, title = '') =>
        `<div class="card" data-testid="card-${id}" data-value="${esc(o[id])}"><span class="card-label">${esc(label)}</span><span class="card-value" title="${esc(title)}">${esc(value)}</span></div>`;
      cards.innerHTML = [
        card('events', 'Events', compact(Number(o.events))),
        card('uniqueUsers', 'Unique users', compact(Number(o.uniqueUsers)), o.uniqueUsersExact ? 'exact' : 'HyperLogLog estimate (±1.6%)'),
        card('sessions', 'Sessions', compact(Number(o.sessions))),
        card('pageViews', 'Page views', compact(Number(o.pageViews))),
        card('bounceRate', 'Bounce rate', percent(Number(o.bounceRate))),
        card('avgScrollDepth', 'Avg. scroll depth', `${Number(o.avgScrollDepth).toFixed(0)}%`),
      ].join('');
    }),
    drawSeries(),
    guarded(active, async () => {
      const d = await gql<ActiveUsersQuery>(
        /* GraphQL */ `query ActiveUsers($p: ID!) { activeUsers(projectId: $p) { dau wau mau } }`, { p: ctx.project });
      const a = d.activeUsers;
      active.innerHTML = `<h2>Active users</h2><dl class="inline"><dt>Today</dt><dd>${compact(a.dau)}</dd><dt>7 days</dt><dd>${compact(a.wau)}</dd><dt>30 days</dt><dd>${compact(a.mau)}</dd></dl>`;
    }),
  ]);
}

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
  });
}

export async function funnel(el: HTMLElement, ctx: Ctx): Promise<void> {
  el.innerHTML = `<h1>Funnel</h1>
    <form id="f" class="panel"><fieldset><legend>Steps, in order</legend><ol id="steps"></ol>
      <button type="button" id="add">Add step</button></fieldset>
      <label>Window (minutes) <input id="w" type="number" min="1" max="129600" value="60" required></label>
      <button type="submit">Compute</button></form><section class="panel" id="out"></section>`;
  const steps = el.querySelector<HTMLOListElement>('#steps')!;
  const addStep = (type = '', path = '') => {
    const li = document.createElement('li');
    const n = steps.children.length + 1;
    li.innerHTML = `<label>Event type <input name="type" required value="${esc(type)}" placeholder="page.view" aria-label="Step ${n} event type"></label>
      <label>Path (optional) <input name="path" value="${esc(path)}" placeholder="/pricing" aria-label="Step ${n} path"></label>
      <button type="button" class="remove" aria-label="Remove step ${n}">Remove</button>`;
    li.querySelector('.remove')!.addEventListener('click', () => li.remove());
    steps.appendChild(li);
  };
  addStep('page.view', '/');
  addStep('page.view', '/pricing');
  addStep('signup.completed');
  el.querySelector('#add')!.addEventListener('click', () => addStep());
  const out = el.querySelector<HTMLElement>('#out')!;
  const run = () =>
    guarded(out, async () => {
      const spec = [...steps.querySelectorAll('li')].map((li) => ({
        eventType: (li.querySelector<HTMLInputElement>('[name=type]')!.value || '').trim(),
        path: (li.querySelector<HTMLInputElement>('[name=path]')!.value || '').trim() || null,
      }));
      const w = Number(el.querySelector<HTMLInputElement>('#w')!.value) * 60;
      const d = await gql<FunnelQuery>(
        /* GraphQL */ `query Funnel($p: ID!, $r: TimeRange!, $s: [FunnelStepInput!]!, $w: Int!) { funnel(projectId: $p, range: $r, steps: $s, windowSeconds: $w) { steps { eventType path users conversion } } }`,
        { p: ctx.project, r: ctx.range, s: spec, w });
      out.innerHTML = bars('Users reaching each step', d.funnel.steps.map((s, i) => ({
        label: `${i + 1}. ${s.eventType}${s.path ? ` ${s.path}` : ''}`, value: s.users, text: `${compact(s.users)} · ${percent(s.conversion)}`,
      })));
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
          .map((n) => { const r = c.size ? n / c.size : 0; return `<td style="--a:${r.toFixed(3)}" title="${n} users">${percent(r)}</td>`; }).join('')}</tr>`)
        .join('')}</tbody></table>`;
    });
  period.addEventListener('change', () => void run());
  await run();
}
