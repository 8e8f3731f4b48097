// The overview: one page in the manner of Plausible. Headline cards with the change against a
// comparison window, the series with that window drawn beside it, and panels of rows that filter
// the whole page when clicked. The view (filters, comparison) lives in the URL query string.
// Preact renders every value as text: no data goes through innerHTML.

import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError } from '../api';
import { compact, percent } from '../format';
import { readView, writeView, type Comparison, type Filter, type ViewState } from '../urlstate';
import type { Ctx } from '../views/ctx';
import type { Metric } from '../generated/graphql';
import { dimensionAnswered, headline, panelRows, series, type Headline } from './data';
import {
  change, changeText, columnsOf, countryName, DIMENSION_LABELS, filterValueText, flag, MAYBE_ANSWERED, PANELS, rowValues,
  toCsv, visibleTabs, withFilter, withoutFilter, type PanelDef, type Row,
} from './model';
import { SeriesChart } from './chart';
import { Failure, useLoad } from '../maps/common';

export async function overviewPage(el: HTMLElement, ctx: Ctx): Promise<void> {
  el.textContent = '';
  render(<Overview ctx={ctx} />, el);
  const prev = ctx.cleanup;
  ctx.cleanup = () => { prev?.(); render(null, el); };
}

const METRICS: { id: Metric; label: string }[] = [
  { id: 'UNIQUE_USERS', label: 'Visitors' }, { id: 'SESSIONS', label: 'Visits' },
  { id: 'PAGE_VIEWS', label: 'Page views' }, { id: 'EVENTS', label: 'Events' },
];

function Overview({ ctx }: { ctx: Ctx }) {
  const [view, setView] = useState<ViewState>(() => readView(location.search));
  const [metric, setMetric] = useState<Metric>('UNIQUE_USERS');
  const update = (v: ViewState) => {
    history.replaceState(history.state, '', `${location.pathname}${writeView(location.search, v)}${location.hash}`);
    setView(v);
  };
  const { filters, compare } = view;
  const key = JSON.stringify([ctx.project, ctx.range, filters]);
  const head = useLoad(() => headline(ctx.project, ctx.range, filters, compare), [key, compare]);
  const addFilter = (f: Filter) => update({ ...view, filters: withFilter(filters, f) });
  return (
    <div class="overview">
      <div class="toolbar overview-bar">
        <h1>Overview</h1>
        <label>Compare with{' '}
          <select data-testid="compare" value={compare ?? ''} onChange={(e) => update({ ...view, compare: ((e.target as HTMLSelectElement).value || null) as Comparison | null })}>
            <option value="">nothing</option>
            <option value="PREVIOUS_PERIOD">previous period</option>
            <option value="PREVIOUS_YEAR">previous year</option>
          </select>
        </label>
        <button type="button" class="secondary" onClick={() => void navigator.clipboard?.writeText(location.href)}>Copy link</button>
      </div>
      <Chips filters={filters} onRemove={(i) => update({ ...view, filters: withoutFilter(filters, i) })} />
      {head.error ? <Failure error={head.error} /> : <Cards cur={head.data?.cur ?? null} prev={head.data?.prev ?? null} />}
      {head.data && head.data.cur.botEvents > 0 && <p class="muted" data-testid="bots">{compact(head.data.cur.botEvents)} bot events left out.</p>}
      <section class="panel" aria-labelledby="series-title">
        <div class="toolbar">
          <h2 id="series-title">Trend</h2>
          <label class="sr" for="metric">Metric</label>
          <select id="metric" value={metric} onChange={(e) => setMetric((e.target as HTMLSelectElement).value as Metric)}>
            {METRICS.map((m) => <option value={m.id}>{m.label}</option>)}
          </select>
        </div>
        <Series ctx={ctx} metric={metric} filters={filters} compare={compare} depKey={key} />
      </section>
      <div class="panels">
        {PANELS.map((p) => <Panel def={p} ctx={ctx} filters={filters} depKey={key} onFilter={addFilter}
          prop={view.prop} onProp={(prop) => update({ ...view, prop: prop || undefined })} />)}
      </div>
    </div>
  );
}

function Chips({ filters, onRemove }: { filters: Filter[]; onRemove: (i: number) => void }) {
  if (filters.length === 0) return null;
  return (
    <ul class="chips" aria-label="Filters" data-testid="filters">
      {filters.map((f, i) => (
        <li class="chip" data-testid="chip">
          <span>{DIMENSION_LABELS[f.dimension] ?? f.dimension}{f.property ? ` ${f.property}` : ''} {f.op === 'IS' ? 'is' : f.op === 'IS_NOT' ? 'is not' : 'contains'} <strong>{filterValueText(f)}</strong></span>
          <button type="button" class="chip-x" aria-label={`Remove filter ${DIMENSION_LABELS[f.dimension] ?? f.dimension} ${f.value}`} onClick={() => onRemove(i)}>×</button>
        </li>
      ))}
    </ul>
  );
}

interface CardDef { id: string; label: string; value: (o: Headline) => number; text: (n: number) => string; lowerIsBetter?: boolean }

const CARDS: CardDef[] = [
  { id: 'visitors', label: 'Visitors', value: (o) => o.visitors, text: compact },
  { id: 'sessions', label: 'Visits', value: (o) => o.sessions, text: compact },
  { id: 'pageViews', label: 'Page views', value: (o) => o.pageViews, text: compact },
  { id: 'viewsPerVisit', label: 'Views per visit', value: (o) => (o.sessions ? o.pageViews / o.sessions : 0), text: (n) => n.toFixed(2) },
  { id: 'bounceRate', label: 'Bounce rate', value: (o) => o.bounceRate, text: (n) => percent(n), lowerIsBetter: true },
  { id: 'events', label: 'Events', value: (o) => o.events, text: compact },
];

function Cards({ cur, prev }: { cur: Headline | null; prev: Headline | null }) {
  if (!cur) return <p class="state" role="status">Loading…</p>;
  return (
    <section id="cards" aria-label="Headline numbers">
      {CARDS.map((c) => {
        const v = c.value(cur);
        const p = prev ? c.value(prev) : null;
        const ch = change(v, p);
        const good = ch === null || ch === 0 ? '' : (ch > 0) !== Boolean(c.lowerIsBetter) ? 'up' : 'down';
        return (
          <div class="card" data-testid={`card-${c.id}`} data-value={String(v)} data-previous={p === null ? undefined : String(p)}>
            <span class="card-label">{c.label}</span>
            <span class="card-value">{c.text(v)}</span>
            {prev && <span class={`card-change ${good}`} data-testid="change" title={`before: ${c.text(p ?? 0)}`}>{changeText(ch)}</span>}
          </div>
        );
      })}
    </section>
  );
}

function Series({ ctx, metric, filters, compare, depKey }: { ctx: Ctx; metric: Metric; filters: Filter[]; compare: Comparison | null; depKey: string }) {
  const cur = useLoad(() => series(ctx.project, ctx.range, metric, filters, compare), [depKey, metric, compare]);
  if (cur.error) return <Failure error={cur.error} />;
  if (!cur.data) return <p class="state" role="status">Loading…</p>;
  const label = METRICS.find((m) => m.id === metric)?.label ?? metric;
  const previous = compare ? cur.data.map((p) => ({ t: p.t, value: p.previous ?? 0 })) : null;
  return <SeriesChart label={label} points={cur.data} previous={previous} timeZone={ctx.range.timeZone} />;
}

function Panel({ def, ctx, filters, depKey, onFilter, prop, onProp }: {
  def: PanelDef; ctx: Ctx; filters: Filter[]; depKey: string; onFilter: (f: Filter) => void;
  prop?: string; onProp: (prop: string) => void;
}) {
  // Tabs a server may refuse are probed first, and shown only when answered.
  const [answered, setAnswered] = useState<Record<string, boolean>>({});
  useEffect(() => {
    for (const t of def.tabs.filter((t) => MAYBE_ANSWERED.has(t.dimension))) {
      void dimensionAnswered(ctx.project, ctx.range, t.dimension).then((ok) => setAnswered((a) => ({ ...a, [t.dimension]: ok })));
    }
  }, [def, ctx.project]);
  const tabs = visibleTabs(def.tabs, answered);
  const probed = def.tabs.every((t) => !MAYBE_ANSWERED.has(t.dimension) || t.dimension in answered);
  const [picked, setTab] = useState(def.tabs[0].dimension);
  const tab = tabs.find((t) => t.dimension === picked) ?? tabs[0];
  const rows = useLoad(() => (tab ? panelRows(ctx.project, ctx.range, tab.dimension, filters, 10) : Promise.resolve([])),
    [depKey, tab?.dimension]);
  if (!tab) return null;
  const keyName = DIMENSION_LABELS[tab.dimension] ?? tab.dimension;
  return (
    <section class="panel breakdown" data-testid={`panel-${def.id}`} data-dimension={tab.dimension} aria-label={def.label}
      aria-busy={rows.loading} data-probed={probed ? '' : undefined}>
      <div class="panel-head">
        {tabs.length > 1
          ? <div role="tablist" class="tabs" aria-label={def.label}>{tabs.map((t) => (
              <button type="button" role="tab" aria-selected={t === tab} class="tab" data-dimension={t.dimension}
                onClick={() => setTab(t.dimension)}>{t.title}</button>))}</div>
          : <h2>{tab.title}</h2>}
        <CsvButton name={tab.dimension.toLowerCase()} keyName={keyName} dimension={tab.dimension} title={tab.title} rows={rows.data} />
      </div>
      <Rows state={rows} dimension={tab.dimension} keyName={keyName}
        onPick={(key) => onFilter({ dimension: tab.dimension, op: 'IS', value: key })} />
      {def.id === 'events' && <PropertyBreakdown ctx={ctx} filters={filters} depKey={depKey} onFilter={onFilter} property={prop ?? ''} onProperty={onProp} />}
    </section>
  );
}

function Rows({ state, dimension, keyName, onPick }: {
  state: { data: Row[] | null; error: ApiError | null; loading: boolean }; dimension: string; keyName: string; onPick?: (key: string) => void;
}) {
  if (state.error) return <Failure error={state.error} />;
  if (!state.data) return <p class="state" role="status">Loading…</p>;
  if (state.data.length === 0) return <p class="empty">No data in this range.</p>;
  const columns = columnsOf(dimension);
  return (
    <>
      <div class="row-head" aria-hidden="true"><span>{keyName}</span><span>{columns.join(' · ')}</span></div>
      <ol class={`rows cols-${columns.length}`} data-testid="rows">{state.data.map((r) => (
        <RowItem row={r} dimension={dimension} onClick={onPick ? () => onPick(r.key) : undefined} />))}</ol>
    </>
  );
}

/// Downloads exactly the rows shown, as CSV.
function CsvButton({ name, keyName, dimension, title, rows }: { name: string; keyName: string; dimension: string; title: string; rows: Row[] | null }) {
  const download = () => {
    if (!rows) return;
    const url = URL.createObjectURL(new Blob([toCsv(keyName, dimension, rows)], { type: 'text/csv;charset=utf-8' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = `${name}.csv`;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  };
  return <button type="button" class="secondary csv" onClick={download} disabled={!rows?.length} aria-label={`Download ${title} as CSV`}>CSV</button>;
}

/// A custom event's property values (`PROPERTY` breakdown of the filtered events, so of one
/// event once its row was clicked): the property's name is typed and kept in the URL, its values
/// are clickable filters.
function PropertyBreakdown({ ctx, filters, depKey, onFilter, property, onProperty }: {
  ctx: Ctx; filters: Filter[]; depKey: string; onFilter: (f: Filter) => void; property: string; onProperty: (p: string) => void;
}) {
  const [draft, setDraft] = useState(property);
  const rows = useLoad(() => (property ? panelRows(ctx.project, ctx.range, 'PROPERTY', filters, 10, property) : Promise.resolve(null)), [depKey, property]);
  const event = filters.find((f) => f.dimension === 'EVENT_TYPE' && f.op === 'IS')?.value;
  return (
    <div class="props" data-testid="property-breakdown" data-property={property || undefined} aria-busy={rows.loading}>
      <form class="toolbar" onSubmit={(e) => { e.preventDefault(); onProperty(draft.trim()); }}>
        <label>Property{event ? ` of ${event}` : ''} <input value={draft} onInput={(e) => setDraft((e.target as HTMLInputElement).value)} placeholder="plan" size={12} /></label>
        <button type="submit" class="secondary">Break down</button>
        {property && <CsvButton name={`property-${property}`} keyName={property} dimension="PROPERTY" title={`property ${property}`} rows={rows.data} />}
      </form>
      {property && <Rows state={rows} dimension="PROPERTY" keyName={property}
        onPick={(key) => onFilter({ dimension: 'PROPERTY', property, op: 'IS', value: key })} />}
    </div>
  );
}

function RowItem({ row, dimension, onClick }: { row: Row; dimension: string; onClick?: () => void }) {
  const label = dimension === 'COUNTRY' ? `${flag(row.key)} ${countryName(row.key)}`.trim() : row.key || '(none)';
  const values = rowValues(dimension, row);
  const inner = (
    <>
      <span class="row-bar" style={{ width: `${(row.share * 100).toFixed(1)}%` }} aria-hidden="true" />
      <span class="row-key">{label}</span>
      {values.map((v) => <span class="row-value">{compact(v)}</span>)}
      <span class="row-share">{percent(row.share)}</span>
    </>
  );
  return (
    <li data-testid="row" data-key={row.key} data-value={String(row.visitors)} data-events={String(row.events)} data-share={row.share.toFixed(4)}>
      {onClick
        ? <button type="button" class="row" onClick={onClick} title={`Filter by ${row.key}`}>{inner}</button>
        : <div class="row">{inner}</div>}
    </li>
  );
}
