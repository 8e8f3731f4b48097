// The overview page's pure parts: which panels exist, how dashboard filters become the API's
// filter, comparison windows, changes, shares, CSV and flags. No DOM, unit-tested.

import type { Filter } from '../urlstate';

/// A row of a panel: `value` what it counts (`columnOf`), `share` its part of the range's
/// total under the same filters (0..1).
export interface Row { key: string; value: number; share: number }

export interface Tab { dimension: string; title: string }
export interface PanelDef { id: string; label: string; tabs: Tab[] }

/// The panels, in page order; a tab shows when the API answers its dimension (`answers`).
export const PANELS: PanelDef[] = [
  { id: 'pages', label: 'Pages', tabs: [
    { dimension: 'PAGE', title: 'Top pages' },
    { dimension: 'ENTRY_PAGE', title: 'Entry pages' },
    { dimension: 'EXIT_PAGE', title: 'Exit pages' },
  ] },
  { id: 'sources', label: 'Sources', tabs: [
    { dimension: 'SOURCE', title: 'Sources' },
    { dimension: 'REFERRER', title: 'Referrers' },
    { dimension: 'CHANNEL', title: 'Channels' },
    { dimension: 'UTM_CAMPAIGN', title: 'Campaigns' },
  ] },
  { id: 'devices', label: 'Devices', tabs: [
    { dimension: 'DEVICE', title: 'Devices' },
    { dimension: 'BROWSER', title: 'Browsers' },
    { dimension: 'OS', title: 'Operating systems' },
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

/// Dimensions the server answers, and those it can filter by. Until the `breakdown` query
/// lands these are the ones `eventCounts` and `EventFilter` (path, event type) serve.
export const ANSWERED = new Set(['PAGE', 'REFERRER', 'EVENT_TYPE']);
export const FILTERABLE = new Set(['PAGE', 'EVENT_TYPE']);

/// What a panel's number counts: page views for pages and referrers, events for custom events.
export function columnOf(dimension: string): string {
  return dimension === 'EVENT_TYPE' ? 'Events' : 'Views';
}

export const DIMENSION_LABELS: Record<string, string> = {
  PAGE: 'Page', ENTRY_PAGE: 'Entry page', EXIT_PAGE: 'Exit page', REFERRER: 'Referrer', SOURCE: 'Source',
  CHANNEL: 'Channel', UTM_SOURCE: 'UTM source', UTM_MEDIUM: 'UTM medium', UTM_CAMPAIGN: 'Campaign',
  UTM_TERM: 'UTM term', UTM_CONTENT: 'UTM content', BROWSER: 'Browser', BROWSER_VERSION: 'Browser version',
  OS: 'OS', OS_VERSION: 'OS version', DEVICE: 'Device', SCREEN: 'Screen', LANGUAGE: 'Language',
  COUNTRY: 'Country', REGION: 'Region', CITY: 'City', EVENT_TYPE: 'Event', PROPERTY: 'Property', GOAL: 'Goal',
};

/// The API filter (`EventFilter`) for the dashboard filters the server can apply.
export function eventFilter(filters: Filter[]): { path?: string; eventType?: string } | null {
  const out: { path?: string; eventType?: string } = {};
  for (const f of filters) {
    if (f.op !== 'IS') continue;
    if (f.dimension === 'PAGE') out.path = f.value;
    else if (f.dimension === 'EVENT_TYPE') out.eventType = f.value;
  }
  return Object.keys(out).length ? out : null;
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

/// A panel's rows as CSV: the header, then one line per row, as shown (share in percent with
/// one decimal).
export function toCsv(keyName: string, column: string, rows: Row[]): string {
  const lines = [[keyName, column, 'Share'].map(csvCell).join(',')];
  for (const r of rows) lines.push([csvCell(r.key), csvCell(r.value), csvCell(`${(r.share * 100).toFixed(1)}%`)].join(','));
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
