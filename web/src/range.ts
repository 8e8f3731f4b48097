// Date ranges as the API wants them: half-open [from, to), RFC 3339, plus an IANA time zone.
// Presets end at the next whole hour so the server can answer from its hourly rollups.

export type Preset = '24h' | '7d' | '30d' | '90d';
export interface Range { from: string; to: string; timeZone: string }

export const PRESETS: { id: Preset; label: string; hours: number }[] = [
  { id: '24h', label: 'Last 24 hours', hours: 24 },
  { id: '7d', label: 'Last 7 days', hours: 24 * 7 },
  { id: '30d', label: 'Last 30 days', hours: 24 * 30 },
  { id: '90d', label: 'Last 90 days', hours: 24 * 90 },
];

const HOUR = 3_600_000;

export function nextWholeHour(now: number): number {
  return Math.floor(now / HOUR) * HOUR + HOUR;
}

export function presetRange(preset: Preset, timeZone: string, now = Date.now()): Range {
  const p = PRESETS.find((x) => x.id === preset) ?? PRESETS[1];
  const to = nextWholeHour(now);
  return { from: new Date(to - p.hours * HOUR).toISOString(), to: new Date(to).toISOString(), timeZone };
}

/// A custom range from two `YYYY-MM-DD` dates (inclusive end), as whole days in UTC.
export function customRange(fromDay: string, toDay: string, timeZone: string): Range | string {
  const re = /^\d{4}-\d{2}-\d{2}$/;
  if (!re.test(fromDay) || !re.test(toDay)) return 'Dates must look like 2026-11-24.';
  const from = Date.parse(`${fromDay}T00:00:00Z`);
  const to = Date.parse(`${toDay}T00:00:00Z`) + 24 * HOUR;
  if (Number.isNaN(from) || Number.isNaN(to)) return 'Not a valid date.';
  if (from >= to) return 'The start must be before the end.';
  if (to - from > 400 * 24 * HOUR) return 'At most 400 days.';
  return { from: new Date(from).toISOString(), to: new Date(to).toISOString(), timeZone };
}

/// Series interval that keeps a chart readable (and within the server's bucket limit).
export function intervalFor(range: Range): 'MINUTE' | 'HOUR' | 'DAY' {
  const hours = (Date.parse(range.to) - Date.parse(range.from)) / HOUR;
  if (hours <= 3) return 'MINUTE';
  if (hours <= 24 * 8) return 'HOUR';
  return 'DAY';
}

export function isValidTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

export function localTimeZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch {
    return 'UTC';
  }
}
