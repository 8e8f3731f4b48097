// The overview page's pure parts: which panels and tabs exist, how dashboard filters become the
// API's filter, changes, shares, CSV and flags. No DOM, unit-tested.

import type { Dimension } from '../generated/graphql';
import type { Filter, FilterOp } from '../urlstate';

/// A row of a panel (a `BreakdownRow`): `visitors` is what it ranks by and draws its bar with,
/// `share` those visitors over all visitors of the range under the same filters (0..1).
export interface Row { key: string; visitors: number; events: number; share: number }

export interface Tab { dimension: string; title: string }
export interface PanelDef { id: string; label: string; tabs: Tab[] }

/// The panels, in page order, in the manner of Plausible. A tab of `MAYBE_ANSWERED` shows only
/// once the server has answered it (`visibleTabs`).
export const PANELS: PanelDef[] = [
  { id: 'pages', label: 'Pages', tabs: [
    { dimension: 'PAGE', title: 'Top pages' },
    { dimension: 'ENTRY_PAGE', title: 'Entry pages' },
    { dimension: 'EXIT_PAGE', title: 'Exit pages' },
  ] },
  { id: 'sources', label: 'Sources', tabs: [
    { dimension: 'SOURCE', title: 'Sources' },
    { dimension: 'CHANNEL', title: 'Channels' },
    { dimension: 'UTM_CAMPAIGN', title: 'Campaigns' },
    { dimension: 'REFERRER', title: 'Referrers' },
  ] },
  { id: 'devices', label: 'Devices', tabs: [
    { dimension: 'DEVICE', title: 'Devices' },
    { dimension: 'BROWSER', title: 'Browsers' },
    { dimension: 'OS', title: 'OS' },
    { dimension: 'SCREEN', title: 'Screens' },
  ] },
  { id: 'countries', label: 'Countries', tabs: [
    { dimension: 'COUNTRY', title: 'Countries' },
    { dimension: 'REGION', title: 'Regions' },
    { dimension: 'CITY', title: 'Cities' },
  ] },
  { id: 'events', label: 'Custom events', tabs: [{ dimension: 'EVENT_TYPE', title: 'Custom events' }] },
  { id: 'goals', label: 'Goals', tabs: [{ dimension: 'GOAL', title: 'Goals' }] },
];

/// Dimensions a server may refuse with BAD_USER_INPUT (the audience API answers entry and exit
/// pages and goals only once engagement lands): their tabs are probed, and hidden when refused.
export const MAYBE_ANSWERED = new Set(['ENTRY_PAGE', 'EXIT_PAGE', 'GOAL']);

/// The tabs to show: every tab, less those of `MAYBE_ANSWERED` not (yet) known to be answered.
export function visibleTabs(tabs: Tab[], answered: Record<string, boolean | undefined>): Tab[] {
  return tabs.filter((t) => !MAYBE_ANSWERED.has(t.dimension) || answered[t.dimension] === true);
}

/// The columns a panel shows after its key: visitors everywhere, and events where one visitor
/// does a thing several times (custom events and their properties).
export function columnsOf(dimension: string): string[] {
  return dimension === 'EVENT_TYPE' || dimension === 'PROPERTY' ? ['Visitors', 'Events'] : ['Visitors'];
}

/// A row's values in the order of `columnsOf`.
export function rowValues(dimension: string, r: Row): number[] {
  return columnsOf(dimension).map((c) => (c === 'Events' ? r.events : r.visitors));
}

/// The custom events panel: event types other than page views, at most `limit` (the query asks
/// one more, so that leaving page views out still fills the panel).
export function customEvents(rows: Row[], limit: number): Row[] {
  return rows.filter((r) => r.key !== 'page.view').slice(0, limit);
}

export const DIMENSION_LABELS: Record<string, string> = {
  PAGE: 'Page', ENTRY_PAGE: 'Entry page', EXIT_PAGE: 'Exit page', REFERRER: 'Referrer', SOURCE: 'Source',
  CHANNEL: 'Channel', UTM_SOURCE: 'UTM source', UTM_MEDIUM: 'UTM medium', UTM_CAMPAIGN: 'Campaign',
  UTM_TERM: 'UTM term', UTM_CONTENT: 'UTM content', BROWSER: 'Browser', BROWSER_VERSION: 'Browser version',
  OS: 'OS', OS_VERSION: 'OS version', DEVICE: 'Device', SCREEN: 'Screen', LANGUAGE: 'Language',
  COUNTRY: 'Country', REGION: 'Region', CITY: 'City', EVENT_TYPE: 'Event', PROPERTY: 'Property', GOAL: 'Goal',
};

/// The API's dimension filter (`DimensionFilter`).
export interface ApiDimensionFilter { dimension: Dimension; property?: string; op: FilterOp; values: string[] }

/// The API filter (`EventFilter.where`) for the dashboard filters; null when there are none. A
/// filter on a dimension the API does not know (a hand-edited link) is left out rather than
/// failing every query of the page.
export function eventFilter(filters: Filter[]): { where: ApiDimensionFilter[] } | null {
  const where = filters
    .filter((f) => f.dimension in DIMENSION_LABELS && (f.dimension === 'PROPERTY') === Boolean(f.property))
    .map((f) => ({ dimension: f.dimension as Dimension, op: f.op, values: [f.value], ...(f.property ? { property: f.property } : {}) }));
  return where.length ? { where } : null;
}

/// How a chip reads a filter's value: a country by its name.
export function filterValueText(f: Filter): string {
  if (f.dimension === 'COUNTRY') return `${flag(f.value)} ${countryName(f.value)}`.trim();
  return f.value || '(none)';
}

/// Adds a filter, replacing one on the same dimension (and property).
export function withFilter(filters: Filter[], f: Filter): Filter[] {
  return [...filters.filter((x) => !(x.dimension === f.dimension && x.property === f.property)), f];
}

export function withoutFilter(filters: Filter[], i: number): Filter[] {
  return filters.filter((_, j) => j !== i);
}

/// Relative change from `prev` to `cur` (0.25 = +25%); null when there is nothing to compare.
export function change(cur: number, prev: number | null | undefined): number | null {
  if (prev === null || prev === undefined || !Number.isFinite(prev) || !Number.isFinite(cur)) return null;
  if (prev === 0) return cur === 0 ? 0 : null;
  return (cur - prev) / prev;
}

export function changeText(c: number | null): string {
  if (c === null) return '–';
  const pct = Math.round(c * 100);
  return `${pct > 0 ? '↑' : pct < 0 ? '↓' : ''}${Math.abs(pct)}%`;
}

/// Share of `total`, 0 when the total is 0.
export function share(value: number, total: number): number {
  return total > 0 ? value / total : 0;
}

/// One CSV cell: quoted when needed; a leading `= + - @` (a spreadsheet formula) is defused
/// with a quote character.
export function csvCell(v: string | number): string {
  let s = String(v);
  if (/^[=+\-@\t\r]/.test(s) && typeof v === 'string') s = `'${s}`;
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/// A panel's rows as CSV, as shown: the key, the panel's columns (`columnsOf`), the share in
/// percent with one decimal.
export function toCsv(keyName: string, dimension: string, rows: Row[]): string {
  const lines = [[keyName, ...columnsOf(dimension), 'Share'].map(csvCell).join(',')];
  for (const r of rows) lines.push([r.key, ...rowValues(dimension, r), `${(r.share * 100).toFixed(1)}%`].map(csvCell).join(','));
  return `${lines.join('\r\n')}\r\n`;
}

/// The flag emoji of an ISO 3166-1 alpha-2 code (regional indicator letters); '' for others.
export function flag(code: string): string {
  if (!/^[A-Za-z]{2}$/.test(code)) return '';
  const up = code.toUpperCase();
  return String.fromCodePoint(0x1f1e6 + up.charCodeAt(0) - 65, 0x1f1e6 + up.charCodeAt(1) - 65);
}

/// A country's name in English, else the code itself.
export function countryName(code: string): string {
  try {
    return new Intl.DisplayNames(['en'], { type: 'region' }).of(code.toUpperCase()) ?? code;
  } catch {
    return code;
  }
}
