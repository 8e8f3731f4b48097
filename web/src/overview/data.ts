// The overview page's queries: headline numbers, series and panel rows for a range and the
// dashboard filters, each typed by the generated operation types.

import { gql } from '../api';
import type { Range } from '../range';
import { intervalFor } from '../range';
import type { Filter } from '../urlstate';
import type {
  Comparison, EventFilter, GroupBy, KnownValuesQuery, Metric, OverviewHeadlineQuery, PanelCountsQuery, SeriesPointsQuery,
} from '../generated/graphql';
import { eventFilter, share, type Row } from './model';

/// The headline numbers the page shows (`visitors`: distinct actors).
export interface Headline { visitors: number; events: number; sessions: number; pageViews: number; bounceRate: number; botEvents: number }

const headlineOf = (o: { uniqueUsers: number; events: number; sessions: number; pageViews: number; bounceRate: number }): Headline =>
  ({ visitors: o.uniqueUsers, events: o.events, sessions: o.sessions, pageViews: o.pageViews, bounceRate: o.bounceRate, botEvents: 0 });

/// Headline numbers of the range, and of the comparison period when `compare` is given.
export async function headline(project: string, range: Range, filters: Filter[], compare: Comparison | null): Promise<{ cur: Headline; prev: Headline | null }> {
  const d = await gql<OverviewHeadlineQuery>(
    /* GraphQL */ `query OverviewHeadline($p: ID!, $r: TimeRange!, $f: EventFilter, $c: Comparison) {
      overview(projectId: $p, range: $r, filter: $f, compare: $c) {
        uniqueUsers events sessions pageViews bounceRate
        previous { uniqueUsers events sessions pageViews bounceRate } } }`,
    { p: project, r: range, f: eventFilter(filters), c: compare });
  const { previous, ...cur } = d.overview;
  return { cur: headlineOf(cur), prev: previous ? headlineOf(previous) : null };
}

/// A metric per bucket, with the comparison period's value of each bucket when asked.
export async function series(project: string, range: Range, metric: Metric, filters: Filter[], compare: Comparison | null): Promise<SeriesPointsQuery['timeseries']> {
  const d = await gql<SeriesPointsQuery>(
    /* GraphQL */ `query SeriesPoints($p: ID!, $r: TimeRange!, $m: Metric!, $i: Interval!, $f: EventFilter, $c: Comparison) {
      timeseries(projectId: $p, range: $r, metric: $m, interval: $i, filter: $f, compare: $c) { t value previous } }`,
    { p: project, r: range, m: metric, i: intervalFor(range), f: eventFilter(filters), c: compare });
  return d.timeseries;
}

/// Rows of one panel (`eventCounts`): pages and referrers count page views, custom events
/// count events; the share is of the filtered total.
export async function panelRows(project: string, range: Range, dimension: string, filters: Filter[], limit: number, total: Headline, _property?: string): Promise<Row[]> {
  const f: EventFilter = eventFilter(filters) ?? {};
  let group: GroupBy;
  let whole: number;
  if (dimension === 'PAGE' || dimension === 'REFERRER') {
    group = dimension === 'PAGE' ? 'PATH' : 'REFERRER';
    if (!f.eventType) f.eventType = 'page.view';
    whole = f.eventType === 'page.view' ? total.pageViews : total.events;
  } else if (dimension === 'EVENT_TYPE') {
    group = 'EVENT_TYPE';
    whole = total.events;
  } else {
    throw new Error(`no query answers ${dimension} on this server`);
  }
  const d = await gql<PanelCountsQuery>(
    /* GraphQL */ `query PanelCounts($p: ID!, $r: TimeRange!, $g: GroupBy!, $f: EventFilter, $l: Int!) {
      eventCounts(projectId: $p, range: $r, groupBy: $g, filter: $f, limit: $l) { key count } }`,
    { p: project, r: range, g: group, f, l: limit });
  return d.eventCounts.map((k) => ({ key: k.key, value: k.count, share: share(k.count, whole) }));
}

/// The project's event types and viewed paths in the range, most frequent first (the funnel
/// builder, heatmap and journeys offer them).
export async function knownValues(project: string, range: Range): Promise<{ types: string[]; paths: string[] }> {
  const d = await gql<KnownValuesQuery>(
    /* GraphQL */ `query KnownValues($p: ID!, $r: TimeRange!) {
      types: eventCounts(projectId: $p, range: $r, groupBy: EVENT_TYPE, limit: 100) { key }
      paths: eventCounts(projectId: $p, range: $r, groupBy: PATH, filter: { eventType: "page.view" }, limit: 100) { key } }`,
    { p: project, r: range });
  return { types: d.types.map((k) => k.key), paths: d.paths.map((k) => k.key) };
}
