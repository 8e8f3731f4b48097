// The overview page's queries: headline numbers, series and panel rows for a range and the
// dashboard filters, each typed by the generated operation types.

import { gql } from '../api';
import type { Range } from '../range';
import { intervalFor } from '../range';
import type { Filter } from '../urlstate';
import type {
  EventFilter, GroupBy, KnownValuesQuery, Metric, OverviewHeadlineQuery, PanelCountsQuery, SeriesPointsQuery,
} from '../generated/graphql';
import { eventFilter, share, type Row } from './model';

export type Headline = OverviewHeadlineQuery['overview'];

export async function headline(project: string, range: Range, filters: Filter[]): Promise<Headline> {
  const d = await gql<OverviewHeadlineQuery>(
    /* GraphQL */ `query OverviewHeadline($p: ID!, $r: TimeRange!, $f: EventFilter) {
      overview(projectId: $p, range: $r, filter: $f) { events uniqueUsers uniqueUsersExact sessions pageViews bounceRate } }`,
    { p: project, r: range, f: eventFilter(filters) });
  return d.overview;
}

export async function series(project: string, range: Range, metric: Metric, filters: Filter[]): Promise<{ t: string; value: number }[]> {
  const d = await gql<SeriesPointsQuery>(
    /* GraphQL */ `query SeriesPoints($p: ID!, $r: TimeRange!, $m: Metric!, $i: Interval!, $f: EventFilter) {
      timeseries(projectId: $p, range: $r, metric: $m, interval: $i, filter: $f) { t value } }`,
    { p: project, r: range, m: metric, i: intervalFor(range), f: eventFilter(filters) });
  return d.timeseries;
}

/// Rows of one panel. Before the `breakdown` query, pages and referrers count page views and
/// custom events count events (`eventCounts`); the share is of the filtered total.
export async function panelRows(project: string, range: Range, dimension: string, filters: Filter[], limit: number, total: Headline): Promise<Row[]> {
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
/// builder offers them).
export async function knownValues(project: string, range: Range): Promise<{ types: string[]; paths: string[] }> {
  const d = await gql<KnownValuesQuery>(
    /* GraphQL */ `query KnownValues($p: ID!, $r: TimeRange!) {
      types: eventCounts(projectId: $p, range: $r, groupBy: EVENT_TYPE, limit: 100) { key }
      paths: eventCounts(projectId: $p, range: $r, groupBy: PATH, filter: { eventType: "page.view" }, limit: 100) { key } }`,
    { p: project, r: range });
  return { types: d.types.map((k) => k.key), paths: d.paths.map((k) => k.key) };
}
