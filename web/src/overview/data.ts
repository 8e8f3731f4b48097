// The overview page's queries: headline numbers, series and panel rows for a range and the
// dashboard filters, each typed by the generated operation types.

import { gql } from '../api';
import type { Range } from '../range';
import { intervalFor } from '../range';
import type { Filter } from '../urlstate';
import type {
  BreakdownRowsQuery, Comparison, Dimension, KnownValuesQuery, Metric, OverviewHeadlineQuery, SeriesPointsQuery,
} from '../generated/graphql';
import { eventFilter, type Row } from './model';

export type Headline = Omit<OverviewHeadlineQuery['overview'], 'previous'>;

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

/// Rows of one panel: the `breakdown` of its dimension (a property's values for `PROPERTY`).
export async function panelRows(project: string, range: Range, dimension: string, filters: Filter[], limit: number, property?: string): Promise<Row[]> {
  const d = await gql<BreakdownRowsQuery>(
    /* GraphQL */ `query BreakdownRows($p: ID!, $r: TimeRange!, $d: Dimension!, $prop: String, $f: EventFilter, $l: Int!) {
      breakdown(projectId: $p, range: $r, dimension: $d, property: $prop, filter: $f, limit: $l) { key visitors share } }`,
    { p: project, r: range, d: dimension as Dimension, prop: property ?? null, f: eventFilter(filters), l: limit });
  return d.breakdown.map((k) => ({ key: k.key, value: k.visitors, share: k.share }));
}

/// The project's event types and paths in the range, most visitors first (the funnel builder
/// offers them).
export async function knownValues(project: string, range: Range): Promise<{ types: string[]; paths: string[] }> {
  const d = await gql<KnownValuesQuery>(
    /* GraphQL */ `query KnownValues($p: ID!, $r: TimeRange!) {
      types: breakdown(projectId: $p, range: $r, dimension: EVENT_TYPE, limit: 100) { key }
      paths: breakdown(projectId: $p, range: $r, dimension: PAGE, limit: 100) { key } }`,
    { p: project, r: range });
  return { types: d.types.map((k) => k.key), paths: d.paths.map((k) => k.key) };
}
