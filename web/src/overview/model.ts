// The overview page's pure parts: which panels exist, how dashboard filters become the API's
// filter, comparison windows, changes, shares, CSV and flags. No DOM, unit-tested.

import type { Range } from '../range';
import type { Comparison, Filter } from '../urlstate';

/// A row of a panel, whatever query answered it. `value` is what the panel ranks by (its
/// `metric`), `share` its part of the whole range (0..1).
export interface Row { key: string; value: number; share: number }

export interface Tab { dimension: string; title: string; column: string }
export interface PanelDef { id: string; label: string; tabs: Tab[] }

/// The panels, in page order; a tab shows when the API answers its dimension (`answers`).
export const PANELS: PanelDef[] = [
  { id: 'pages', label: 'Pages', tabs: [
    { dimension: 'PAGE', title: 'Top pages', column: 'Views' },
    { dimension: 'ENTRY_PAGE', title: 'Entry pages', column: 'Visits' },
    { dimension: 'EXIT_PAGE', title: 'Exit pages', column: 'Visits' },
  ] },
  { id: 'sources', label: 'Sources', tabs: [
    { dimension: 'SOURCE', title: 'Sources', column: 'Visitors' },
    { dimension: 'REFERRER', title: 'Referrers', column: 'Views' },
    { dimension: 'CHANNEL', title: 'Channels', column: 'Visitors' },
    { dimension: 'UTM_CAMPAIGN', title: 'Campaigns', column: 'Visitors' },
  ] },
  { id: 'devices', label: 'Devices', tabs: [
    { dimension: 'DEVICE', title: 'Devices', column: 'Visitors' },
    { dimension: 'BROWSER', title: 'Browsers', column: 'Visitors' },
    { dimension: 'OS', title: 'Operating systems', column: 'Visitors' },
    { dimension: 'SCREEN', title: 'Screens', column: 'Visitors' },
  ] },
  { id: 'countries', label: 'Countries', tabs: [
    { dimension: 'COUNTRY', title: 'Countries', column: 'Visitors' },
    { dimension: 'REGION', title: 'Regions', column: 'Visitors' },
    { dimension: 'CITY', title: 'Cities', column: 'Visitors' },
  ] },
  { id: 'events', label: 'Custom events', tabs: [{ dimension: 'EVENT_TYPE', title: 'Custom events', column: 'Events' }] },
  { id: 'goals', label: 'Goals', tabs: [{ dimension: 'GOAL', title: 'Goals', column: 'Visitors' }] },
];

/// Dimensions the server on this build answers, and which of them it can filter by. Grows as
/// the API does (the `breakdown` query answers every dimension).
export const ANSWERED = new Set(['PAGE', 'REFERRER', 'EVENT_TYPE']);
export const FILTERABLE = new Set(['PAGE', 'EVENT_TYPE']);

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

const DAY = 86_400_000;

/// The window a comparison reads: the same length right before the range (moved back by whole
/// weeks when the range is whole weeks, so weekdays line up), or the same dates a year earlier.
export function comparisonRange(r: Range, c: Comparison): Range {
  const from = Date.parse(r.from);
  const to = Date.parse(r.to);
  if (c === 'PREVIOUS_YEAR') {
    const back = (t: number) => { const d = new Date(t); d.setUTCFullYear(d.getUTCFullYear() - 1); return d.toISOString(); };
    return { from: back(from), to: back(to), timeZone: r.timeZone };
  }
  const len = to - from;
  return { from: new Date(from - len).toISOString(), to: new Date(from).toISOString(), timeZone: r.timeZone };
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

/// Whole days in the range, for the chart's axis labels.
export function rangeDays(r: Range): number {
  return (Date.parse(r.to) - Date.parse(r.from)) / DAY;
}
