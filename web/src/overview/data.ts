// The overview page's queries: headline numbers, series and panel rows for a range and the
// dashboard filters, each typed by the generated operation types.

import { ApiError, gql } from '../api';
import type { Range } from '../range';
import { intervalFor } from '../range';
import type { Filter } from '../urlstate';
import type {
  BreakdownRowsQuery, Comparison, Dimension, KnownValuesQuery, Metric, OverviewHeadlineQuery, SeriesPointsQuery,
} from '../generated/graphql';
import { customEvents, eventFilter, type Row } from './model';

/// The headline numbers the page shows (`visitors`: people, identity-merged; `botEvents`: bot
/// events left out of every figure).
export interface Headline { visitors: number; events: number; sessions: number; pageViews: number; bounceRate: number; botEvents: number }

/// Headline numbers of the range, and of the comparison period when `compare` is given.
export async function headline(project: string, range: Range, filters: Filter[], compare: Comparison | null): Promise<{ cur: Headline; prev: Headline | null }> {
  const d = await gql<OverviewHeadlineQuery>(
    /* GraphQL */ `query OverviewHeadline($p: ID!, $r: TimeRange!, $f: EventFilter, $c: Comparison) {
      overview(projectId: $p, range: $r, filter: $f, compare: $c) {
        visitors events sessions pageViews bounceRate botEvents
        previous { visitors events sessions pageViews bounceRate botEvents } } }`,
    { p: project, r: range, f: eventFilter(filters), c: compare });
  const { previous, ...cur } = d.overview;
  return { cur, prev: previous ?? null };
}

/// A metric per bucket, with the comparison period's value of each bucket when asked.
export async function series(project: string, range: Range, metric: Metric, filters: Filter[], compare: Comparison | null): Promise<SeriesPointsQuery['timeseries']> {
  const d = await gql<SeriesPointsQuery>(
    /* GraphQL */ `query SeriesPoints($p: ID!, $r: TimeRange!, $m: Metric!, $i: Interval!, $f: EventFilter, $c: Comparison) {
      timeseries(projectId: $p, range: $r, metric: $m, interval: $i, filter: $f, compare: $c) { t value previous } }`,
    { p: project, r: range, m: metric, i: intervalFor(range), f: eventFilter(filters), c: compare });
  return d.timeseries;
}

async function breakdown(project: string, range: Range, dimension: string, filters: Filter[], limit: number, property?: string): Promise<Row[]> {
  const d = await gql<BreakdownRowsQuery>(
    /* GraphQL */ `query BreakdownRows($p: ID!, $r: TimeRange!, $d: Dimension!, $prop: String, $f: EventFilter, $l: Int!) {
      breakdown(projectId: $p, range: $r, dimension: $d, property: $prop, filter: $f, limit: $l) { key visitors events share } }`,
    { p: project, r: range, d: dimension as Dimension, prop: property ?? null, f: eventFilter(filters), l: limit });
  return d.breakdown;
}

/// Rows of one panel tab (`breakdown`), most visitors first; the custom events panel leaves
/// page views out. `property` names the property of a `PROPERTY` breakdown.
export async function panelRows(project: string, range: Range, dimension: string, filters: Filter[], limit: number, property?: string): Promise<Row[]> {
  if (dimension === 'EVENT_TYPE') return customEvents(await breakdown(project, range, dimension, filters, limit + 1), limit);
  return breakdown(project, range, dimension, filters, limit, property);
}

const answers = new Map<string, Promise<boolean>>();

/// Whether the server answers a breakdown by `dimension` (false when it refuses it with
/// BAD_USER_INPUT, as the audience API does for entry and exit pages and goals). Asked once per
/// project and dimension; other failures count as answered, so that the tab shows the error.
export function dimensionAnswered(project: string, range: Range, dimension: string): Promise<boolean> {
  const key = `${project}\u0000${dimension}`;
  let p = answers.get(key);
  if (!p) {
    p = breakdown(project, range, dimension, [], 1).then(() => true, (e: unknown) => !(e instanceof ApiError && e.code === 'BAD_USER_INPUT'));
    answers.set(key, p);
  }
  return p;
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
