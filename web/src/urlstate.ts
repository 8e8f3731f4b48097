// The dashboard's view as a URL query string, so a copied link reproduces it: project, range
// (a preset id or `YYYY-MM-DD..YYYY-MM-DD`), time zone, filters and comparison. The URL wins over
// the preferences kept in localStorage; what is set is written to both.

export type FilterOp = 'IS' | 'IS_NOT' | 'CONTAINS';
export type Comparison = 'PREVIOUS_PERIOD' | 'PREVIOUS_YEAR';

/// One dashboard filter: `dimension` is a breakdown dimension (`PAGE`, `COUNTRY`, ...);
/// `property` only for `PROPERTY`.
export interface Filter { dimension: string; op: FilterOp; value: string; property?: string }

const OPS: Record<string, FilterOp> = { is: 'IS', not: 'IS_NOT', has: 'CONTAINS' };
const OP_NAMES: Record<FilterOp, string> = { IS: 'is', IS_NOT: 'not', CONTAINS: 'has' };

/// `page:is:/pricing`, `property.plan:is:pro`: dimension (lower case, `.property`), op, value
/// (the rest, colons allowed). URLSearchParams does the percent-encoding.
export function encodeFilter(f: Filter): string {
  const dim = f.dimension.toLowerCase() + (f.property ? `.${f.property}` : '');
  return `${dim}:${OP_NAMES[f.op]}:${f.value}`;
}

export function decodeFilter(s: string): Filter | null {
  const a = s.indexOf(':');
  const b = a < 0 ? -1 : s.indexOf(':', a + 1);
  if (a <= 0 || b < 0) return null;
  const [dimPart, opPart, value] = [s.slice(0, a), s.slice(a + 1, b), s.slice(b + 1)];
  const op = OPS[opPart];
  const dot = dimPart.indexOf('.');
  const dimension = (dot < 0 ? dimPart : dimPart.slice(0, dot)).toUpperCase();
  const property = dot < 0 ? undefined : dimPart.slice(dot + 1);
  if (!op || !/^[A-Z_]+$/.test(dimension) || property === '') return null;
  return property ? { dimension, op, value, property } : { dimension, op, value };
}

/// The overview's view: filters, comparison, and `prop`, the property the custom events panel
/// breaks down (absent when none).
export interface ViewState { filters: Filter[]; compare: Comparison | null; prop?: string }

export function readView(search: string): ViewState {
  const q = new URLSearchParams(search);
  const filters = q.getAll('f').map(decodeFilter).filter((f): f is Filter => f !== null);
  const c = (q.get('compare') ?? '').toUpperCase();
  const compare = c === 'PREVIOUS_PERIOD' || c === 'PREVIOUS_YEAR' ? c : null;
  const prop = q.get('prop')?.trim();
  return prop ? { filters, compare, prop } : { filters, compare };
}

/// `search` with the view's filters, comparison and property replaced; other parameters kept.
export function writeView(search: string, v: ViewState): string {
  const q = new URLSearchParams(search);
  q.delete('f');
  for (const f of v.filters) q.append('f', encodeFilter(f));
  if (v.compare) q.set('compare', v.compare.toLowerCase());
  else q.delete('compare');
  if (v.prop) q.set('prop', v.prop);
  else q.delete('prop');
  const s = q.toString();
  return s ? `?${s}` : '';
}

// Preference keys of the shell (main.ts) and the URL parameter each lives in. `preset` and
// `custom` share `range`: a preset id, or `from..to` for a custom range.
export function prefFromUrl(search: string, key: string): string | null {
  const q = new URLSearchParams(search);
  const range = q.get('range');
  switch (key) {
    case 'project': return q.get('project');
    case 'tz': return q.get('tz');
    case 'preset': return range === null ? null : range.includes('..') ? 'custom' : range;
    case 'custom': return range !== null && range.includes('..') ? range : null;
    default: return null;
  }
}

export function prefToUrl(search: string, key: string, value: string, custom: string | null): string {
  const q = new URLSearchParams(search);
  if (key === 'project' || key === 'tz') q.set(key, value);
  else if (key === 'preset') {
    if (value !== 'custom') q.set('range', value);
    else if (custom) q.set('range', custom);
  } else if (key === 'custom') q.set('range', value);
  const s = q.toString();
  return s ? `?${s}` : '';
}

/// The shell's preferences: the URL first, then localStorage; setting writes both (the URL
/// with replaceState, so the back button is not flooded).
export const prefs = {
  get(k: string): string | null {
    return prefFromUrl(location.search, k) ?? localStorage.getItem(`sightline.${k}`);
  },
  set(k: string, v: string): void {
    localStorage.setItem(`sightline.${k}`, v);
    const next = prefToUrl(location.search, k, v, prefs.get('custom'));
    history.replaceState(history.state, '', `${location.pathname}${next}${location.hash}`);
  },
};

/// Writes the current shell state into the URL once, so that even an untouched view's link
/// carries project, range and time zone.
export function pinPrefs(project: string, preset: string, custom: string | null, tz: string): void {
  let s = location.search;
  s = prefToUrl(s, 'project', project, null);
  s = prefToUrl(s, 'preset', preset, custom);
  s = prefToUrl(s, 'tz', tz, null);
  history.replaceState(history.state, '', `${location.pathname}${s}${location.hash}`);
}

/// The token of a shared link's page (`#/share/<token>`), or null for any other page.
export function shareTokenOf(hash: string): string | null {
  const m = /^#\/share\/([A-Za-z0-9_-]{1,200})\/?$/.exec(hash);
  return m ? m[1] : null;
}
