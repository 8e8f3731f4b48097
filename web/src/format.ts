// Number and time formatting shared by the views.

export function compact(n: number): string {
  if (!Number.isFinite(n)) return '–';
  const abs = Math.abs(n);
  if (abs >= 1e9) return `${(n / 1e9).toFixed(1)}B`;
  if (abs >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (abs >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  return Math.round(n).toLocaleString('en');
}

export function percent(ratio: number): string {
  return Number.isFinite(ratio) ? `${(ratio * 100).toFixed(1)}%` : '–';
}

export function dateTime(iso: string, timeZone: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return new Intl.DateTimeFormat('en-GB', {
    timeZone, year: 'numeric', month: 'short', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
  }).format(d);
}

/// Escapes text for insertion into HTML.
export function esc(v: unknown): string {
  return String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

/// A property filter typed by a person: a JSON object (`{"plan": "pro"}`) or `key=value` pairs
/// separated by commas (`plan=pro, seats=3`; values are strings then, as the tracker captures
/// `data-sightline-*` attributes). Returns null for an empty input, a message when it is neither.
export function parseProps(input: string): Record<string, unknown> | null | string {
  const s = input.trim();
  if (!s) return null;
  if (s.startsWith('{')) {
    try {
      const v: unknown = JSON.parse(s);
      if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
    } catch { /* reported below */ }
    return 'Properties: not a JSON object, e.g. {"plan": "pro"}';
  }
  const out: Record<string, string> = {};
  for (const part of s.split(',')) {
    const i = part.indexOf('=');
    const k = i > 0 ? part.slice(0, i).trim() : '';
    if (!k) return 'Properties: write key=value pairs separated by commas, e.g. plan=pro';
    out[k] = part.slice(i + 1).trim();
  }
  return out;
}
